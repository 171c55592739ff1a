"""allauth's provider setting built from our OIDC_* settings (used by settings.py and the tests; no
Django import, so that settings.py can use it)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

PROVIDER = "company_oidc"  # allauth's provider (the URL names start with it)
PROVIDER_ID = "company"  # the one app of that provider


def socialaccount_providers(
    *, issuer: str, client_id: str, secret: str, company: str, domains: list[str], scopes: list[str]
) -> dict[str, Any]:
    """``SOCIALACCOUNT_PROVIDERS``: one OpenID Connect app when an issuer is set, else none."""
    apps = []
    if issuer:
        apps.append(
            {
                "provider_id": PROVIDER_ID,
                "name": f"Sign in with {company}",
                "client_id": client_id,
                "secret": secret,
                "settings": {
                    "server_url": issuer,
                    # The signed ID token is the source of the claims (Entra ID's userinfo has no e-mail).
                    "fetch_userinfo": False,
                    "oauth_pkce_enabled": True,
                    # The company's IdP vouches for its own domains (an invited user's SSO sign-in joins them).
                    "verified_email": domains,
                    "scope": scopes,
                },
            }
        )
    return {PROVIDER: {"APPS": apps}}


def form_action_origins(issuer: str) -> list[str]:
    """The sign-in button is a form whose answer redirects to the IdP: the CSP's ``form-action`` must
    allow the IdP's origin (browsers check it on redirects too). The issuer's origin, or nothing."""
    parts = urlsplit(issuer)
    return [f"{parts.scheme}://{parts.netloc}"] if parts.scheme and parts.netloc else []
