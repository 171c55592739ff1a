"""Failed logins and lockouts in the audit trail, with bursts counted rather than written one by one.

200 failed logins from one address, with a new username each time, used to write 200 sealed audit
events (the audit is insert-only: forever). Now, per IP address:

- the first ``AUDIT_LOGIN_BURST_THRESHOLD`` failed logins within ``AUDIT_LOGIN_BURST_WINDOW``
  seconds are each an event, as before (lockouts too);
- past that, a *burst* starts: the failures (and the refusals while locked out) of the next
  window are counted in a ``LoginFailureBurst`` row, not written;
- once its window is over, the burst is closed into **one** event, *Failed logins counted*, that
  says how many, from which address, between which times; the row goes in the same transaction, so
  a failure is always either an event of its own or part of exactly one count.

A burst is closed by the next failed login (from any address) or the next visit to History, so the
count reaches the audit even when the attacker has stopped. Failures without an address (no
request) are always written one by one.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audienceadmin import wording
from audienceadmin.models import AuditEvent, LoginFailureBurst
from audienceadmin.services.events import security_event_record

Kind = AuditEvent.Kind


def login_failure_record(*, username: str, ip: str | None) -> None:
    """A failed login: an audit event, or one more in its address's burst."""
    _record(Kind.LOGIN_FAILED, username=username, ip=ip)


def lockout_record(*, username: str, ip: str | None) -> None:
    """A login refused because of a lockout: an audit event, or one more in its address's burst."""
    _record(Kind.LOCKED_OUT, username=username, ip=ip, message=wording.LOCKED_OUT)


def _record(kind: str, *, username: str, ip: str | None, message: str = "") -> None:
    login_bursts_close()
    if ip is not None and _counted(kind, ipaddress.ip_address(ip).compressed):  # as the audit stores it
        return
    security_event_record(kind=kind, username=username, ip=ip, message=message)


def _counted(kind: str, ip: str) -> bool:
    """Count this failure in the address's burst, starting one if it has just passed the threshold."""
    now = timezone.now()
    window_start = now - timedelta(seconds=settings.AUDIT_LOGIN_BURST_WINDOW)
    counter = "failures" if kind == Kind.LOGIN_FAILED else "refused_while_locked_out"
    with transaction.atomic():
        open_bursts = LoginFailureBurst.objects.filter(ip=ip, started_at__gt=window_start)
        if open_bursts.update(**{counter: F(counter) + 1}, last_at=now):
            return True
        if kind != Kind.LOGIN_FAILED:
            return False  # a burst starts with a failure: a lockout outside one is always an event
        recorded = AuditEvent.objects.filter(kind=Kind.LOGIN_FAILED, ip=ip, at__gte=window_start).count()
        if recorded < settings.AUDIT_LOGIN_BURST_THRESHOLD:
            return False
        LoginFailureBurst.objects.create(ip=ip, started_at=now, last_at=now, failures=1)
        return True


def login_bursts_close() -> int:
    """Turn every burst whose window is over into its audit event (the row and the event go in one
    transaction: a count is never lost nor written twice). Returns how many were closed."""
    cutoff = timezone.now() - timedelta(seconds=settings.AUDIT_LOGIN_BURST_WINDOW)
    if not LoginFailureBurst.objects.filter(started_at__lte=cutoff).exists():
        return 0  # the usual case: one cheap query
    closed = 0
    with transaction.atomic():
        for burst in LoginFailureBurst.objects.select_for_update().filter(started_at__lte=cutoff).order_by("id"):
            AuditEvent.objects.create(
                kind=Kind.LOGIN_FAILURES_COUNTED,
                ip=burst.ip,
                actor_username="",
                message=wording.login_failures_counted(
                    burst.failures, burst.ip, burst.started_at, burst.last_at, burst.refused_while_locked_out
                ),
                details={
                    "failures": burst.failures,
                    "refused_while_locked_out": burst.refused_while_locked_out,
                    "first_at": burst.started_at.isoformat(),
                    "last_at": burst.last_at.isoformat(),
                },
            )
            burst.delete()
            closed += 1
    return closed
