"""Who is asking, and may they: the client's address, the audited permission check, and whether
they signed in recently enough for a dangerous step.

Used by the views, by the authentication signal receivers, and by django-axes
(``AXES_CLIENT_IP_CALLABLE``).
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from allauth.account.authentication import get_authentication_records
from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from audienceadmin import services
from audienceadmin.models import AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import User

View = Callable[..., HttpResponseBase]


class AuthenticatedHttpRequest(HttpRequest):
    """The request a view receives: LoginRequiredMiddleware lets only logged-in users reach the views
    (a type for the type checker; Django creates plain ``HttpRequest`` objects)."""

    user: User


def client_ip(request: HttpRequest) -> str | None:
    """The client's address for the audit trail and login throttling. Behind N trusted reverse
    proxies (DJANGO_TRUSTED_PROXY_COUNT), the N-th address from the right of X-Forwarded-For:
    what the nearest proxy saw; anything further left could be forged by the client."""
    count = settings.TRUSTED_PROXY_COUNT
    if count:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= count:
            candidate = hops[-count]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return request.META.get("REMOTE_ADDR") or None


def permission_required(perm: str) -> Callable[[View], View]:
    """Like Django's (403 for a logged-in user without ``perm``), and the refusal is audited.
    ``perm`` is one of the constants of ``audienceadmin.roles``."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.has_perm(perm):
                services.security_event_record(
                    kind=AuditEvent.Kind.PERMISSION_DENIED,
                    actor=request.user,
                    ip=client_ip(request),
                    message=f"{request.method} {request.path[:200]} needs {perm}",
                )
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


# Re-authentication before a dangerous step (README: Re-authentication).

KEPT_INPUT = "audienceadmin_kept_input"


def authenticated_recently(request: HttpRequest) -> bool:
    """Did this session sign in or re-authenticate (password, MFA, SSO) within REAUTHENTICATION_MINUTES?
    allauth records each step with its time; a session it did not record (none) is not recent."""
    if not settings.REAUTHENTICATION_REQUIRED:
        return True
    user = request.user if request.user.is_authenticated else None
    records = get_authentication_records(request, user)
    latest = max((r.get("at", 0) for r in records), default=0)
    return time.time() - latest < settings.REAUTHENTICATION_MINUTES * 60


def reauthenticate_url(request: HttpRequest, back: str) -> str:
    """allauth's re-authentication page (password, MFA code, security key, or SSO again), then ``back``."""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("home")
    return f"{reverse('account_reauthenticate')}?{urlencode({REDIRECT_FIELD_NAME: back})}"


def keep_input(request: HttpRequest, data: QueryDict, fields: list[str]) -> str:
    """Keep what was typed (never a key: callers list the fields) for the page ``back`` shows after
    re-authentication; returns the token that finds it again (one at a time per session)."""
    token = secrets.token_urlsafe(8)
    request.session[KEPT_INPUT] = {"token": token, "data": {f: data.getlist(f) for f in fields if f in data}}
    return token


def kept_input(request: HttpRequest, token: str | None) -> QueryDict | None:
    """What ``keep_input`` kept under ``token`` (once), as form data."""
    kept = request.session.get(KEPT_INPUT)
    if not token or not kept or kept.get("token") != token:
        return None
    del request.session[KEPT_INPUT]
    data = QueryDict(mutable=True)
    for field, values in kept["data"].items():
        data.setlist(field, values)
    return data


def refuse_stale(request: HttpRequest, back: str) -> HttpResponseRedirect:
    """The dangerous POST came too long after the last sign-in: nothing is done; re-authenticate,
    then land on ``back`` (which shows the confirmation again, with what was typed)."""
    return HttpResponseRedirect(reauthenticate_url(request, back))


def carry_kept_input_over_logout(request: HttpRequest, user: User | None) -> None:
    """Signing in through SSO again logs the session out first (allauth flushes it), within the same
    request: what was kept is held on the request meanwhile (see ``restore_kept_input``)."""
    kept = request.session.get(KEPT_INPUT) if hasattr(request, "session") else None
    if kept and user is not None:
        request._audienceadmin_kept = (user.pk, kept)  # type: ignore[attr-defined]


def restore_kept_input(request: HttpRequest, user: User) -> None:
    """Put back what ``carry_kept_input_over_logout`` held, if the same person signed in again."""
    held = getattr(request, "_audienceadmin_kept", None)
    if held and held[0] == user.pk:
        request.session[KEPT_INPUT] = held[1]
