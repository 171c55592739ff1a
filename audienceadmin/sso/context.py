"""What every page (the sign-in pages above all) needs to know about signing in."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from audienceadmin import selectors
from audienceadmin.sso.provider import PROVIDER, PROVIDER_ID


def sign_in(request: HttpRequest) -> dict[str, Any]:
    return {
        "sso_enabled": selectors.sso_enabled(),
        "sso_company": settings.OIDC_COMPANY_NAME,
        "sso_label": f"Sign in with {settings.OIDC_COMPANY_NAME}",
        "sso_login_url": reverse(f"{PROVIDER}_login", kwargs={"provider_id": PROVIDER_ID}),
        "local_login": settings.LOCAL_PASSWORD_LOGIN,
    }
