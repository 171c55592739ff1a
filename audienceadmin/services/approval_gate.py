"""The two-person rule's gate in front of Batch: in an app whose policy asks for a second person,
nothing is sent without a deletion request that was approved by another person (or executed by an
audited break glass). ``services.deletion`` and ``services.bulk`` call it before anything is
recorded or sent, whatever the caller (a view, the bulk runner, a command, a shell).

Kept apart from ``services.approvals`` (which executes requests through ``services.deletion``) so
that the deletion service can import it without a cycle."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from audienceadmin import dbclock, wording
from audienceadmin.models import BatchApp, DeletionRequest

State = DeletionRequest.State
# A request that may send: approved (or break glass) and not yet executed.
MAY_SEND = (State.APPROVED, State.BREAK_GLASS)
# A bulk job's request: the job was created when the request was approved (or broken glass).
JOB_MAY_RUN = (State.EXECUTED, State.BREAK_GLASS)


class ApprovalRequired(PermissionDenied):
    """The app is under the two-person rule and no valid approval was given: nothing was sent."""


def approval_needed(app: BatchApp) -> bool:
    """The app's current policy (read again: a stale copy must not open the gate)."""
    return BatchApp.objects.filter(pk=app.pk, approval_policy=BatchApp.ApprovalPolicy.SECOND_PERSON).exists()


def require_approval(
    app: BatchApp, *, name: str | None, approval: DeletionRequest | None, bulk_job_id: int | None = None
) -> None:
    """Raise ``ApprovalRequired`` unless the app needs no approval, or ``approval`` (a single
    deletion: for this app and ``name``, approved or broken glass, not executed, not expired by the
    database's clock) or the bulk job's request allows the deletion."""
    if not approval_needed(app):
        return
    if bulk_job_id is not None:
        if DeletionRequest.objects.filter(bulk_job_id=bulk_job_id, app_id=app.pk, state__in=JOB_MAY_RUN).exists():
            return
        raise ApprovalRequired(wording.APPROVAL_REQUIRED)
    if approval is None:
        raise ApprovalRequired(wording.APPROVAL_REQUIRED)
    row = DeletionRequest.objects.filter(
        pk=approval.pk, app_id=app.pk, state__in=MAY_SEND, executed_at__isnull=True, bulk=False
    ).first()
    if row is None or name not in row.audiences:
        raise ApprovalRequired(wording.APPROVAL_REQUIRED)
    if row.state == State.APPROVED and row.expires_at <= dbclock.db_now():
        raise ApprovalRequired(wording.REQUEST_EXPIRED)
