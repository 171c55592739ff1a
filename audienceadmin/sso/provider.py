"""allauth's OpenID Connect provider, with one change: the ID token's signature is always checked.

allauth skips that check when the token came straight from the token endpoint (OpenID Connect Core
allows it over TLS). Roles follow a claim of that token, so we check it anyway, against the
provider's published keys: a token altered on the way (a TLS-terminating proxy, a plain-HTTP IdP
inside the network) is refused. Issuer, audience and expiry are checked as allauth does.
"""

from __future__ import annotations

from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from allauth.utils import build_absolute_uri
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse

from audienceadmin.sso.config import PROVIDER, PROVIDER_ID

__all__ = ["PROVIDER", "PROVIDER_ID", "CompanyOpenIDConnectProvider", "callback", "login"]


class VerifyingOpenIDConnectAdapter(OpenIDConnectOAuth2Adapter):
    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict:
        return jwtkit.verify_and_decode(
            credential=id_token,
            keys_url=self.openid_config["jwks_uri"],
            issuer=self.openid_config["issuer"],
            audience=app.client_id,
            lookup_kid=jwtkit.lookup_kid_jwk,
            verify_signature=True,
        )

    def get_callback_url(self, request: HttpRequest, app: SocialApp) -> str:
        callback = reverse(f"{PROVIDER}_callback", kwargs={"provider_id": self.provider_id})
        return build_absolute_uri(request, callback, self.redirect_uri_protocol)


class CompanyOpenIDConnectProvider(OpenIDConnectProvider):
    id = PROVIDER
    name = "OpenID Connect"
    oauth2_adapter_class = VerifyingOpenIDConnectAdapter

    @classmethod
    def get_package(cls) -> str:
        return "audienceadmin.sso"


def _run(
    view_class: type[OAuth2LoginView] | type[OAuth2CallbackView], request: HttpRequest, provider_id: str
) -> HttpResponse:
    try:
        response: HttpResponse = view_class.adapter_view(VerifyingOpenIDConnectAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404("No such sign-in provider") from None
    return response


@login_not_required
def login(request: HttpRequest, provider_id: str) -> HttpResponse:
    return _run(OAuth2LoginView, request, provider_id)


@login_not_required
def callback(request: HttpRequest, provider_id: str) -> HttpResponse:
    return _run(OAuth2CallbackView, request, provider_id)


provider_classes = [CompanyOpenIDConnectProvider]
