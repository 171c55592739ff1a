"""What every step of a request writes: its audit event (linked to the request by ``details``)."""

from __future__ import annotations

from typing import Any

from audienceadmin import wording
from audienceadmin.models import AuditEvent, DeletionRequest
from audienceadmin.services.events import Actor, actor_fields


def request_event_record(
    kind: str,
    *,
    actor: Actor,
    request: DeletionRequest,
    ip: str | None,
    text: str = "",
    actor_label: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """An audit event about a deletion request: who, which app, the audience (a single deletion),
    the request's id and what the step says (a reason, a comment, an outcome)."""
    return AuditEvent.objects.create(
        kind=kind,
        source=request.source,
        app=request.app,
        app_name=request.app.name,
        ip=ip,
        audience="" if request.bulk else request.audiences[0][:255],
        message=wording.request_event(request.pk, request.title, text)[:2000],
        details={
            "request": request.pk,
            "requested_by": request.requested_by.get_username(),
            "audiences": len(request.audiences),
            **(details or {}),
        },
        **actor_fields(actor, actor_label),
    )
