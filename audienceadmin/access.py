"""Who is asking, and may they: the client's address and the audited permission check.

Used by the views, by the authentication signal receivers, and by django-axes
(``AXES_CLIENT_IP_CALLABLE``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

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
