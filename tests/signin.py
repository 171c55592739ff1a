"""Helpers for the sign-in tests: TOTP codes, and making a session's sign-in older."""

from __future__ import annotations

import time

from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.mfa import app_settings
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def totp_code(secret: str = TOTP_SECRET, *, step: int = 0) -> str:
    """The current code (``step`` 1: the next one, which a fresh code after a used one needs)."""
    counter = int(time.time()) // app_settings.TOTP_PERIOD + step
    return format_hotp_value(hotp_value(secret, counter))


def enrol_totp(user, secret: str = TOTP_SECRET) -> TOTP:
    return TOTP.activate(user, secret)


def age_sign_in(client, minutes: float) -> None:
    """Pretend this client's sign-in (and re-authentications) happened ``minutes`` earlier."""
    session = client.session
    records = session[AUTHENTICATION_METHODS_SESSION_KEY]
    for record in records:
        record["at"] -= minutes * 60
    session[AUTHENTICATION_METHODS_SESSION_KEY] = records
    session.save()


def password_sign_in(client, username: str, password: str):
    from django.urls import reverse

    return client.post(reverse("account_login"), {"login": username, "password": password})
