"""Closing attempts whose process died between their two audit events, and keeping every bulk item
equal to what the audit says of its attempt.

An attempt left with a *requested* event and no *completed* one is closed as *unknown* ("interrupted:
no answer recorded") once it is older than the client's hard bound plus ``AUDIT_SWEEP_GRACE``, by the
database's clock: no call can still be waiting for Batch by then, whatever the clock of the instance
that sweeps. Its bulk item, if any, then shows that outcome too.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef

from audienceadmin import batch, dbclock, wording
from audienceadmin.models import AuditEvent, BulkItem
from audienceadmin.services.deletion import BulkItemRef, complete, item_outcome_fields

Outcome = AuditEvent.Outcome
Kind = AuditEvent.Kind
COMMON_FIELDS = ("attempt", "source", "actor_id", "actor_username", "app_id", "app_name", "ip", "audience")


def stale_attempt_age() -> timedelta:
    """After this long without a *completed* event, an attempt's process cannot still be waiting for
    Batch: no call outlives the client's hard bound (its deadline, enforced by a watchdog)."""
    return timedelta(seconds=batch.config_from_settings().hard_bound + settings.AUDIT_SWEEP_GRACE)


_last_sweep = 0.0  # when this process's history page last swept (time.monotonic())


def sweep_throttle_reset() -> None:
    """Forget when the history page last swept, so that its next visit sweeps (tests use it)."""
    global _last_sweep
    _last_sweep = 0.0


def attempts_sweep_now_and_then(every: float = 60.0) -> None:
    """The history page's sweep of the last day, at most once a minute per process."""
    global _last_sweep
    if time.monotonic() - _last_sweep >= every:
        _last_sweep = time.monotonic()
        attempts_sweep(window=timedelta(days=1))


def attempts_sweep(*, window: timedelta | None = None) -> int:
    """Close the attempts whose process died between *requested* and *completed* as ``unknown``.
    ``window`` limits the look-back (the history page and the workers sweep the last day; the
    ``sweep_attempts`` command, everything). Returns how many were closed."""
    now = dbclock.db_now()
    requested = AuditEvent.objects.filter(kind=Kind.DELETE_REQUESTED, at__lt=now - stale_attempt_age())
    if window is not None:
        requested = requested.filter(at__gte=now - window)
    completed = AuditEvent.objects.filter(kind=Kind.DELETE_COMPLETED, attempt=OuterRef("attempt"))
    closed = 0
    for event in requested.filter(~Exists(completed)).order_by("id").iterator():
        closed += attempt_close_interrupted(event)
    return closed


def attempt_close_interrupted(requested: AuditEvent, *, runner: str | None = None) -> bool:
    """Give a *requested* event whose process died its *completed* event (outcome unknown), and its
    bulk item that outcome. False if the attempt was closed meanwhile (its item then follows the audit)."""
    common = {f: getattr(requested, f) for f in COMMON_FIELDS}
    item = BulkItem.objects.filter(attempt=requested.attempt).values_list("pk", "job__runner").first()
    ref = BulkItemRef(item_id=item[0], runner=runner or item[1]) if item else None
    if complete(common, ref, late=False, outcome=Outcome.UNKNOWN, message=wording.INTERRUPTED):
        return True
    if item is not None and requested.attempt is not None:
        item_follow_audit(item[0], requested.attempt)
    return False


def item_follow_audit(item_id: int, attempt: uuid.UUID) -> None:
    """Set a bulk item from its attempt's *completed* event, whoever wrote that event."""
    done = AuditEvent.objects.filter(attempt=attempt, kind=Kind.DELETE_COMPLETED).first()
    if done is None:
        return
    outcome: dict[str, Any] = {f: getattr(done, f) for f in ("outcome", "http_status", "error_name", "message")}
    with transaction.atomic():
        BulkItem.objects.filter(pk=item_id, attempt=attempt).update(seq=done.pk, **item_outcome_fields(outcome))
