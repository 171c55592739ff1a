"""The janitor's part: requests nobody decided in time are closed as expired; an approval whose
process died before sending is closed too (as executed if its attempt was recorded, else expired)."""

from __future__ import annotations

from django.db import transaction

from audienceadmin import dbclock, selectors
from audienceadmin.models import AuditEvent, DeletionRequest
from audienceadmin.services.approvals.decide import expire_locked, locked
from audienceadmin.services.approvals.execute import _record_outcome
from audienceadmin.services.attempts import stale_attempt_age

State = DeletionRequest.State
Kind = AuditEvent.Kind


def requests_expire() -> int:
    """Close every pending request past its expiry (by the database's clock). Returns how many."""
    now = dbclock.db_now()
    closed = 0
    for pk in DeletionRequest.objects.filter(state=State.PENDING, expires_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            row = locked(DeletionRequest(pk=pk))
            if row.state == State.PENDING and row.expires_at <= dbclock.db_now():
                expire_locked(row, now)
                closed += 1
    stuck = DeletionRequest.objects.filter(
        state__in=[State.APPROVED, State.BREAK_GLASS],
        bulk=False,
        executed_at__isnull=True,
        decided_at__lt=now - stale_attempt_age(),
    )
    for row in stuck:
        done = selectors.attempt_events(row.attempt).get(Kind.DELETE_COMPLETED)
        if done is not None:
            _record_outcome(row, outcome=done.outcome, message=done.message, ip=None)
        elif Kind.DELETE_REQUESTED not in selectors.attempt_events(row.attempt) and row.expires_at <= now:
            with transaction.atomic():
                locked_row = locked(row)
                if locked_row.executed_at is None and locked_row.state == State.APPROVED:
                    expire_locked(locked_row, now)
                    closed += 1
    return closed
