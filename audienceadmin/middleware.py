"""Per-request settings of the operator's session: their timezone, the sliding expiry of their login,
MFA enrolment when their role requires it, and no copy of what they saw left in a cache."""

from __future__ import annotations

import zoneinfo
from functools import cache

from allauth.account.authentication import get_authentication_records
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

COOKIE = "tz"


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone a cookie names, if the system knows it (nothing is cached per unknown name)."""
    return zoneinfo.ZoneInfo(name) if name in _known_zones() else None


class OperatorTimezoneMiddleware:
    """The browser names its zone (static/audienceadmin/tz.js sets the ``tz`` cookie); this activates
    it for the request. Anything else falls back to ``TIME_ZONE``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = _zone(request.COOKIES.get(COOKIE, ""))
        if zone is not None:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


REFRESHED = "_refreshed_at"


class SessionRefreshMiddleware:
    """A login expires after ``SESSION_COOKIE_AGE`` seconds of inactivity. Saving the session on every
    request (``SESSION_SAVE_EVERY_REQUEST``) would make every page view a database write; instead the
    expiry is pushed back at most every ``SESSION_REFRESH_EVERY`` seconds (so an idle login ends between
    ``SESSION_COOKIE_AGE - SESSION_REFRESH_EVERY`` and ``SESSION_COOKIE_AGE`` seconds after the last request).
    Sits after SessionMiddleware, which saves a modified session on the way out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and session.get(SESSION_KEY) is not None:
            now = int(timezone.now().timestamp())
            if now - session.get(REFRESHED, 0) >= settings.SESSION_REFRESH_EVERY:
                session[REFRESHED] = now
        return response


class NoStoreWhenLoggedInMiddleware:
    """Every answer to a logged-in user (pages, CSV downloads, JSON, redirects) says
    ``Cache-Control: no-store``, so neither the browser's cache nor a proxy keeps a copy of the
    audit trail or a job's results for the next person at that computer. Answers to anonymous
    requests (the login page, the health checks, static files) keep their own headers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response


class MfaEnrolmentMiddleware:
    """With MFA_REQUIRED, a local account that needs MFA (``selectors.mfa_required_for``) and has no
    authenticator yet reaches only the MFA pages (to enrol), re-authentication and signing out; every
    other page sends it to enrol. People signed in through SSO are left to their IdP's MFA."""

    ALLOWED = frozenset({"account_logout", "account_reauthenticate", "healthz", "readyz"})

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        from audienceadmin import selectors, wording

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not selectors.mfa_required_for(user):
            return None
        name = request.resolver_match.url_name if request.resolver_match else ""
        if name in self.ALLOWED or (name or "").startswith("mfa_"):
            return None
        if _signed_in_by_sso(request) or selectors.has_mfa(user):
            return None
        messages.warning(request, wording.MFA_ENROL_FIRST)
        return redirect("mfa_index")


def _signed_in_by_sso(request) -> bool:
    records = get_authentication_records(request, request.user)
    return any(r.get("method") == "socialaccount" for r in records)
