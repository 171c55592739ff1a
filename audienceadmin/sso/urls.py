"""The OpenID Connect routes (allauth's provider registry includes this module): the redirect URI to
register at the IdP is ``https://<host>/accounts/oidc/<provider_id>/login/callback/``."""

from django.urls import include, path

from audienceadmin.sso import provider

urlpatterns = [
    path(
        "oidc/<str:provider_id>/",
        include(
            [
                path("login/", provider.login, name=f"{provider.PROVIDER}_login"),
                path("login/callback/", provider.callback, name=f"{provider.PROVIDER}_callback"),
            ]
        ),
    )
]
