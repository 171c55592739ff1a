"""Asking for a deletion in an app under the two-person rule, and withdrawing the request."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audienceadmin import dbclock, names, selectors, wording
from audienceadmin.models import AuditEvent, BatchApp, DeletionRequest
from audienceadmin.names import bulk_names_check
from audienceadmin.services.approvals import notify
from audienceadmin.services.approvals.decide import RequestClosed, locked
from audienceadmin.services.approvals.records import request_event_record
from audienceadmin.services.events import security_event_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Kind = AuditEvent.Kind
State = DeletionRequest.State


def _checked_names(audiences: list[str], *, bulk: bool) -> list[str]:
    if bulk:
        report = bulk_names_check("\n".join(audiences))
        if report.invalid or not report.valid or report.too_many:
            raise ValidationError(wording.BULK_LIST_INVALID)
        return report.valid
    if len(audiences) != 1 or not names.is_valid(audiences[0]):
        raise ValidationError(wording.INVALID_NAME, code="invalid_name")
    return audiences


def deletion_request_create(
    *,
    actor: User,
    app: BatchApp,
    audiences: list[str],
    reason: str,
    ip: str | None,
    bulk: bool = False,
    preview: dict[str, Any] | None = None,
    source: str = AuditEvent.Source.WEB,
    attempt: uuid.UUID | None = None,
) -> DeletionRequest:
    """Ask for the deletion of one audience (or, ``bulk``, of a list as one request). Nothing is
    sent to Batch: approvers are told (the outbox), and the request waits for one of them until it
    expires (``APPROVAL_EXPIRY_HOURS``, by the database's clock). ``attempt``: the confirmation
    page's attempt id, so that the same page sent twice asks once (``IntegrityError``)."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(wording.REASON_REQUIRED, code="reason")
    audiences = _checked_names(audiences, bulk=bulk)
    app = BatchApp.objects.get(pk=app.pk)
    if app.is_archived:
        raise ValidationError(wording.app_archived(app.name), code="archived")
    if not app.needs_approval:
        raise ValidationError(wording.NO_APPROVAL_NEEDED, code="no_approval_needed")
    if not selectors.may_delete_in(app, actor):
        security_event_record(
            kind=Kind.PERMISSION_DENIED, actor=actor, ip=ip, app=app, message=wording.MAY_NOT_DELETE_AUDITED
        )
        raise PermissionDenied(wording.MAY_NOT_DELETE)
    with transaction.atomic():
        now = dbclock.db_now()
        request = DeletionRequest.objects.create(
            app=app,
            requested_by=actor,
            source=source,
            created_at=now,
            expires_at=now + timedelta(hours=settings.APPROVAL_EXPIRY_HOURS),
            reason=reason[:4000],
            audiences=audiences,
            bulk=bulk,
            preview=preview or {},
            **({"attempt": attempt} if attempt else {}),
        )
        request_event_record(
            Kind.REQUEST_CREATED,
            actor=actor,
            request=request,
            ip=ip,
            text=reason,
            details={"expires_at": request.expires_at.isoformat(), "preview": preview or {}},
        )
        notify.request_created(request)
    return request


def request_withdraw(*, actor: User, request: DeletionRequest, ip: str | None) -> DeletionRequest:
    """The requester takes the request back while it waits."""
    refusal: Exception | None = None
    with transaction.atomic():
        row = locked(request)
        if row.requested_by_id != actor.pk:
            refusal = PermissionDenied(wording.NOT_THE_REQUESTER)
        elif row.state != State.PENDING:
            refusal = RequestClosed(wording.request_closed(row.get_state_display()))
        else:
            row.state, row.decided_by, row.decided_at = State.WITHDRAWN, actor, dbclock.db_now()
            row.save(update_fields=["state", "decided_by", "decided_at"])
            request_event_record(Kind.REQUEST_WITHDRAWN, actor=actor, request=row, ip=ip)
    if refusal is not None:
        raise refusal
    return row
