"""Re-authentication before a dangerous step (README: Re-authentication): was the sign-in recent
enough, where to confirm it is them, and what they typed, kept until they come back.

allauth records each authentication step (password, MFA, SSO) with its time in the session; a
session it recorded nothing for (``force_login``, an old session) is not recent.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from allauth.account.authentication import get_authentication_records
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from audienceadmin import wording

if TYPE_CHECKING:
    from django.contrib.auth.models import User

KEPT = "audienceadmin_kept_input"


def recent(request: HttpRequest) -> bool:
    """Did this session sign in or re-authenticate (password, MFA, SSO) within REAUTHENTICATION_MINUTES?"""
    if not settings.REAUTHENTICATION_REQUIRED:
        return True
    user = request.user if request.user.is_authenticated else None
    records = get_authentication_records(request, user)
    latest = max((r.get("at", 0) for r in records), default=0)
    return time.time() - latest < settings.REAUTHENTICATION_MINUTES * 60


def url(request: HttpRequest, back: str) -> str:
    """allauth's re-authentication page (password, MFA code, security key, or SSO again), then ``back``."""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("home")
    return f"{reverse('account_reauthenticate')}?{urlencode({REDIRECT_FIELD_NAME: back})}"


def keep(request: HttpRequest, data: QueryDict, fields: list[str]) -> str:
    """Keep what was typed (never a key: callers list the fields) for the page ``back`` shows after
    re-authentication; returns the token that finds it again (one at a time per session)."""
    token = secrets.token_urlsafe(8)
    request.session[KEPT] = {"token": token, "data": {f: data.getlist(f) for f in fields if f in data}}
    return token


def kept(request: HttpRequest, token: str | None) -> QueryDict | None:
    """What ``keep`` kept under ``token`` (once), as form data."""
    kept = request.session.get(KEPT)
    if not token or not kept or kept.get("token") != token:
        return None
    del request.session[KEPT]
    data = QueryDict(mutable=True)
    for field, values in kept["data"].items():
        data.setlist(field, values)
    return data


def refuse(request: HttpRequest, back: str) -> HttpResponseRedirect:
    """The dangerous POST came too long after the last sign-in: nothing is done; re-authenticate,
    then land on ``back`` (which shows the confirmation again, with what was typed)."""
    return HttpResponseRedirect(url(request, back))


def carry_over_logout(request: HttpRequest, user: User | None) -> None:
    """Signing in through SSO again logs the session out first (allauth flushes it), within the same
    request: what was kept is held on the request meanwhile (see ``restore_after_login``)."""
    kept = request.session.get(KEPT) if hasattr(request, "session") else None
    if kept and user is not None:
        request._audienceadmin_kept = (user.pk, kept)  # type: ignore[attr-defined]


def restore_after_login(request: HttpRequest, user: User) -> None:
    """Put back what ``carry_over_logout`` held, if the same person signed in again."""
    held = getattr(request, "_audienceadmin_kept", None)
    if held and held[0] == user.pk:
        request.session[KEPT] = held[1]


def notice(request: HttpRequest, back: str, message: str = "") -> dict[str, str]:
    """What a dangerous step's page shows when the sign-in is not recent: why, and the link to confirm
    it is them that comes back to ``back`` (templates/audienceadmin/_reauth.html). Empty when recent."""
    if recent(request):
        return {}
    why = message or wording.REAUTH_NEEDED.format(minutes=settings.REAUTHENTICATION_MINUTES)
    return {"reauth_url": url(request, back), "reauth_message": why}
