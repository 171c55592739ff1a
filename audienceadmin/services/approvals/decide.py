"""Deciding a request: approve (then it is executed at once), reject, or break the glass.

Each decision locks the request's row and checks, inside the transaction, everything that could have
changed since the page was shown: the request still waits and has not expired (by the database's
clock), the approver is still allowed (read again from the database), and is not the requester.
Two approvers clicking at once: the second finds the request decided, and nothing is sent twice."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audienceadmin import dbclock, selectors, wording
from audienceadmin.models import AuditEvent, DeletionRequest
from audienceadmin.services.approvals import notify
from audienceadmin.services.approvals.records import request_event_record
from audienceadmin.services.events import security_event_record

if TYPE_CHECKING:
    from datetime import datetime

    from django.contrib.auth.models import User

Kind = AuditEvent.Kind
State = DeletionRequest.State


class RequestClosed(ValidationError):
    """The request is no longer waiting for a decision (decided, withdrawn, expired): nothing changed."""


def locked(request: DeletionRequest) -> DeletionRequest:
    """The request's row, locked until the end of the transaction (and its app and requester)."""
    return (
        DeletionRequest.objects.select_for_update(of=("self",)).select_related("app", "requested_by").get(pk=request.pk)
    )


def expire_locked(row: DeletionRequest, now: datetime) -> None:
    """Close a locked pending request whose time has passed (the janitor, or a late decision)."""
    row.state, row.decided_at = State.EXPIRED, now
    row.save(update_fields=["state", "decided_at"])
    request_event_record(
        Kind.REQUEST_EXPIRED, actor=None, request=row, ip=None, actor_label="system", text=wording.REQUEST_EXPIRED
    )
    notify.request_decided(row, "expired")


def _fresh(user: User) -> User:
    """The user as the database has them now (permissions are cached on the object)."""
    return get_user_model().objects.get(pk=user.pk)


def approver_refusal(row: DeletionRequest, actor: User) -> str | None:
    """Why ``actor`` may not approve ``row`` now, or None. Never the requester, even a superuser."""
    if row.requested_by_id == actor.pk:
        return wording.NO_SELF_APPROVAL
    if not selectors.may_approve_in(row.app, actor):
        return wording.MAY_NOT_APPROVE
    if not selectors.may_delete_in(row.app, _fresh(row.requested_by)) or not row.requested_by.is_active:
        return wording.REQUESTER_LOST_ACCESS
    return None


def _open_or_refusal(row: DeletionRequest, now: datetime) -> Exception | None:
    if row.state != State.PENDING:
        return RequestClosed(wording.request_closed(row.get_state_display()))
    if row.expires_at <= now:
        expire_locked(row, now)
        return RequestClosed(wording.REQUEST_EXPIRED)
    return None


def _start_bulk_job(row: DeletionRequest, ip: str | None, now: datetime) -> None:
    """A bulk request becomes a bulk job (run as any other), in the transaction that decided it."""
    from audienceadmin.services.bulk import bulk_job_create

    job = bulk_job_create(actor=row.requested_by, app=row.app, names=row.audiences, ip=ip, approval=row)
    if row.state == State.APPROVED:
        row.state = State.EXECUTED
    row.bulk_job, row.executed_at = job, now
    row.save(update_fields=["state", "bulk_job", "executed_at"])
    request_event_record(
        Kind.REQUEST_EXECUTED,
        actor=row.decided_by,
        request=row,
        ip=ip,
        text=wording.bulk_job_event(job.pk, ""),
        details={"job": job.pk, "decided_by": row.decided_by.get_username() if row.decided_by else ""},
    )
    notify.request_decided(row, "executed")


def request_approve(
    *, actor: User, request: DeletionRequest, ip: str | None, comment: str = "", source: str = AuditEvent.Source.WEB
) -> DeletionRequest:
    """Approve and execute at once: a single deletion is sent now (``execute``), for the requester
    and the approver; a bulk request becomes a bulk job. Raises ``RequestClosed`` (decided already,
    expired) or ``PermissionDenied`` (the requester, or no longer allowed), and then sends nothing."""
    refusal: Exception | None = None
    with transaction.atomic():
        row = locked(request)
        now = dbclock.db_now()
        refusal = _open_or_refusal(row, now)
        if refusal is None:
            why = approver_refusal(row, _fresh(actor))
            if why is not None:
                security_event_record(
                    kind=Kind.PERMISSION_DENIED, actor=actor, ip=ip, app=row.app, message=why + f" (request {row.pk})"
                )
                refusal = PermissionDenied(why)
        if refusal is None:
            row.state, row.decided_by, row.decided_at, row.comment = State.APPROVED, actor, now, comment.strip()
            row.save(update_fields=["state", "decided_by", "decided_at", "comment"])
            request_event_record(
                Kind.REQUEST_APPROVED, actor=actor, request=row, ip=ip, text=row.comment, details={"via": source}
            )
            if row.bulk:
                _start_bulk_job(row, ip, now)
            else:
                notify.request_decided(row, "approved")
    if refusal is not None:
        raise refusal
    if row.bulk:
        return row
    from audienceadmin.services.approvals.execute import request_execute

    return request_execute(row, ip=ip)


def request_reject(*, actor: User, request: DeletionRequest, ip: str | None, comment: str) -> DeletionRequest:
    """Reject with a comment (the requester reads it). Any approver may; the requester withdraws instead."""
    comment = comment.strip()
    if not comment:
        raise ValidationError(wording.COMMENT_REQUIRED, code="comment")
    refusal: Exception | None = None
    with transaction.atomic():
        row = locked(request)
        now = dbclock.db_now()
        refusal = _open_or_refusal(row, now)
        if refusal is None and (
            row.requested_by_id == actor.pk or not selectors.may_approve_in(row.app, _fresh(actor))
        ):
            refusal = PermissionDenied(
                wording.NO_SELF_APPROVAL if row.requested_by_id == actor.pk else wording.MAY_NOT_APPROVE
            )
        if refusal is None:
            row.state, row.decided_by, row.decided_at, row.comment = State.REJECTED, actor, now, comment
            row.save(update_fields=["state", "decided_by", "decided_at", "comment"])
            request_event_record(Kind.REQUEST_REJECTED, actor=actor, request=row, ip=ip, text=comment)
            notify.request_decided(row, "rejected")
    if refusal is not None:
        raise refusal
    return row


def request_break_glass(*, actor: User, request: DeletionRequest, ip: str | None, reason: str) -> DeletionRequest:
    """A superuser executes a waiting request without a second person, with a reason: audited as a
    break glass (shown as such in the history and on the request). Never for an expired request."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(wording.BREAK_GLASS_REASON_REQUIRED, code="reason")
    refusal: Exception | None = None
    with transaction.atomic():
        row = locked(request)
        now = dbclock.db_now()
        refusal = _open_or_refusal(row, now)
        fresh = _fresh(actor)
        if refusal is None and not (fresh.is_active and fresh.is_superuser):
            security_event_record(
                kind=Kind.PERMISSION_DENIED,
                actor=actor,
                ip=ip,
                app=row.app,
                message=wording.BREAK_GLASS_SUPERUSERS_ONLY,
            )
            refusal = PermissionDenied(wording.BREAK_GLASS_SUPERUSERS_ONLY)
        if refusal is None:
            row.state, row.decided_by, row.decided_at, row.comment = State.BREAK_GLASS, actor, now, reason
            row.save(update_fields=["state", "decided_by", "decided_at", "comment"])
            request_event_record(Kind.BREAK_GLASS, actor=actor, request=row, ip=ip, text=reason)
            if row.bulk:
                _start_bulk_job(row, ip, now)
    if refusal is not None:
        raise refusal
    if row.bulk:
        return row
    from audienceadmin.services.approvals.execute import request_execute

    return request_execute(row, ip=ip)
