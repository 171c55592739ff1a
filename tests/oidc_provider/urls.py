from django.contrib.auth import views as auth_views
from django.urls import include, path

from tests.oidc_provider import serve

urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("control/redirect-uri", serve.add_redirect_uri),
]
