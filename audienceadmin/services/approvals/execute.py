"""Executing a single-audience request once it is approved (or broken glass): the deletion is sent
by ``services.deletion`` under the request's own attempt id, for the requester (the *requested* and
*completed* events) and the approver (the *executed* event, linked to both)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction

from audienceadmin import dbclock, selectors, wording
from audienceadmin.models import AuditEvent, DeletionRequest
from audienceadmin.services.approvals import notify
from audienceadmin.services.approvals.decide import locked
from audienceadmin.services.approvals.records import request_event_record

logger = logging.getLogger("audienceadmin.services")
Kind = AuditEvent.Kind
State = DeletionRequest.State
Outcome = AuditEvent.Outcome


def request_execute(request: DeletionRequest, *, ip: str | None) -> DeletionRequest:
    """Send the approved deletion and record what came of it on the request. The gate
    (``approval_gate``) is passed by this request alone, and its attempt id is unique: sent once."""
    from audienceadmin.services.deletion import AttemptAlreadyMade, audience_delete

    row = DeletionRequest.objects.select_related("app", "requested_by", "decided_by").get(pk=request.pk)
    name = row.audiences[0]
    decided_by = row.decided_by.get_username() if row.decided_by else ""
    details = {
        "preview": row.preview,
        "request": row.pk,
        "decided_by": decided_by,
        "break_glass": row.state == State.BREAK_GLASS,
    }
    try:
        result = audience_delete(
            actor=row.requested_by,
            app=row.app,
            name=name,
            ip=ip,
            source=row.source,
            details=details,
            attempt=row.attempt,
            approval=row,
            api_version=_version(row.preview),
        )
        outcome, message = result.outcome, result.message
    except AttemptAlreadyMade:  # another process sent it: its outcome is the audit's
        done = selectors.attempt_events(row.attempt).get(Kind.DELETE_COMPLETED)
        outcome, message = (done.outcome, done.message) if done else (Outcome.UNKNOWN, wording.INTERRUPTED)
    except (PermissionDenied, ValidationError) as exc:  # expired meanwhile, access withdrawn, app archived
        outcome = Outcome.NOT_SENT
        message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
    except DatabaseError:
        # Nothing sent (the *requested* event could not be written): the request stays approved and
        # the janitor closes it once it has expired; never sent late (the gate checks expiry).
        logger.exception("Request %s: could not record the deletion; nothing was sent", row.pk)
        raise
    return _record_outcome(row, outcome=outcome, message=message, ip=ip)


def _record_outcome(request: DeletionRequest, *, outcome: str, message: str, ip: str | None) -> DeletionRequest:
    events = selectors.attempt_events(request.attempt)
    requested, completed = events.get(Kind.DELETE_REQUESTED), events.get(Kind.DELETE_COMPLETED)
    with transaction.atomic():
        row = locked(request)
        if row.executed_at is not None:  # recorded already (a second caller)
            return row
        if row.state == State.APPROVED:
            row.state = State.EXECUTED
        row.executed_at, row.outcome, row.outcome_message = dbclock.db_now(), outcome, message[:2000]
        row.save(update_fields=["state", "executed_at", "outcome", "outcome_message"])
        request_event_record(
            Kind.REQUEST_EXECUTED,
            actor=row.decided_by,
            request=row,
            ip=ip,
            text=f"{outcome}: {message}",
            details={
                "attempt": str(row.attempt),
                "requested_event": requested.pk if requested else None,
                "completed_event": completed.pk if completed else None,
                "outcome": outcome,
                "decided_by": row.decided_by.get_username() if row.decided_by else "",
                "break_glass": row.state == State.BREAK_GLASS,
            },
        )
        notify.request_decided(row, "executed")
    return row


def request_bulk_finished(job_id: int) -> None:
    """A bulk request's job has ended: its counts go on the request, and both people are told.
    Called by the bulk run in the transaction that ends the job (nothing for a job of no request)."""
    row = DeletionRequest.objects.select_related("app", "requested_by", "decided_by").filter(bulk_job_id=job_id).first()
    if row is None:
        return
    progress = selectors.bulk_job_progress(row.bulk_job)  # type: ignore[arg-type]
    row.outcome_message = wording.bulk_request_outcome(
        deleted=progress.deleted,
        failed=progress.failed + progress.rejected + progress.unknown + progress.not_sent,
        skipped=progress.skipped,
        total=progress.total,
    )
    row.save(update_fields=["outcome_message"])
    notify.request_decided(row, "finished")


def _version(preview: dict[str, Any]) -> str | None:
    """The Custom Audience API version the requester's confirmation chose (an MEP app), else None."""
    version = preview.get("delete_version")
    return version if version in ("1.1", "1.0") else None
