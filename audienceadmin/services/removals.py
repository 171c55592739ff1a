"""Following a CEP removal: Batch accepted it (202, an indexing token), and applies it later. A check
asks ``audiences/view`` with the token; 404 or ``APPLIED`` means applied (Batch's docs do not say
which it answers), anything else "in progress". Checks back off (1 s, 2 s, 4 s … at most a minute)
until the removal is applied or ``BATCH_REMOVAL_FOLLOW_UP_SECONDS`` has passed; either end is an
audit event of its own, naming the attempt in its details.

The state is a ``RemovalFollowUp`` row: a check claims its row (moving ``next_check_at`` past the
call's hard bound), so two workers never ask at once and a worker that died is followed by another;
``removal_checks_queue`` (the workers' janitor) queues a check for every row that is due."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q

from audienceadmin import batch, dbclock, wording
from audienceadmin.batch import cep
from audienceadmin.fields import DecryptionError
from audienceadmin.models import AuditEvent, BatchApp, RemovalFollowUp
from audienceadmin.services import pacing
from audienceadmin.services.apps import app_credentials
from audienceadmin.services.events import actor_fields

logger = logging.getLogger("audienceadmin.services")
State = RemovalFollowUp.State
BACKOFF_CAP = 60.0
ACTOR_LABEL = "removal follow-up"


def _backoff(checks: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_CAP, 2.0 ** max(0, checks - 1)))


def removal_follow_up_start(
    *, app: BatchApp, attempt: uuid.UUID, audience: str, version: str, indexing_token: str, queue: bool = True
) -> RemovalFollowUp | None:
    """Start following a removal Batch accepted; its first check is queued once this commits (with
    ``queue``; else the janitor queues it within seconds: a bulk job's items, one write fewer each).
    None if the row could not be written (logged: the attempt's outcome stands, only the follow-up is lost)."""
    from audienceadmin import tasks

    now = dbclock.db_now()
    try:
        row = RemovalFollowUp.objects.create(
            attempt=attempt,
            app=app,
            audience=audience,
            version=version,
            indexing_token=indexing_token,
            ends_at=now + timedelta(seconds=settings.BATCH_REMOVAL_FOLLOW_UP_SECONDS),
            next_check_at=now,
            queued_for=now if queue else None,
        )
    except DatabaseError:
        logger.exception("Could not start following the removal of %s (attempt %s)", audience, attempt)
        return None
    if queue:
        transaction.on_commit(lambda: tasks.removal_check_task.enqueue(follow_up_id=row.pk))
    return row


def removal_check(follow_up_id: int) -> str:
    """One check of a removal, if it is due and no one else is making it. Returns the row's state
    afterwards ("" when it was not due or is finished)."""
    now = dbclock.db_now()
    hold = timedelta(seconds=batch.config_from_settings().hard_bound + 5)
    due = Q(pk=follow_up_id, state=State.PENDING, next_check_at__lte=now)
    if not RemovalFollowUp.objects.filter(due).update(next_check_at=now + hold, checks=F("checks") + 1):
        return ""
    row = RemovalFollowUp.objects.select_related("app").get(pk=follow_up_id)
    applied, answer = _ask(row)
    now = dbclock.db_now()
    if applied:
        _finish(row, State.APPLIED, answer)
    elif now >= row.ends_at:
        _finish(row, State.UNCONFIRMED, answer)
    else:
        RemovalFollowUp.objects.filter(pk=row.pk).update(
            next_check_at=min(now + _backoff(row.checks), row.ends_at), last_answer=answer[:200]
        )
    return RemovalFollowUp.objects.values_list("state", flat=True).get(pk=row.pk)


def _ask(row: RemovalFollowUp) -> tuple[bool, str]:
    """(applied?, Batch's answer in a few words)."""
    try:
        credentials = app_credentials(row.app)
    except DecryptionError:
        return False, wording.reason_text("undecryptable_keys")
    client = batch.CepClient(batch.get_client().transport, row.version, pace=pacing.project_pacer(row.app))
    try:
        response = client.get_audience(credentials, row.audience, indexing_token=row.indexing_token)
    except batch.BatchApiError as exc:
        label = batch.answer_label(exc.http_status, exc.name)
        return exc.http_status == 404, label
    except batch.BatchError as exc:
        return False, " ".join(
            filter(None, [wording.reason_text(exc.reason), batch.answer_label(exc.http_status, exc.name)])
        )
    state = response.data.get("indexing_state") if isinstance(response.data, dict) else None
    return cep.removal_applied(response), " ".join(filter(None, [f"HTTP {response.status}", str(state or "")]))[:200]


def _finish(row: RemovalFollowUp, state: str, answer: str) -> None:
    now = dbclock.db_now()
    with transaction.atomic():
        updated = RemovalFollowUp.objects.filter(pk=row.pk, state=State.PENDING).update(
            state=state, last_answer=answer[:200], applied_at=now if state == State.APPLIED else None
        )
        if not updated:
            return
        AuditEvent.objects.create(
            kind=AuditEvent.Kind.REMOVAL_APPLIED if state == State.APPLIED else AuditEvent.Kind.REMOVAL_UNCONFIRMED,
            app=row.app,
            app_name=row.app.name,
            audience=row.audience,
            source=AuditEvent.Source.WEB,
            message=wording.removal_event_message(state, answer, checks=row.checks),
            details={
                "attempt": str(row.attempt),
                "indexing_token": row.indexing_token,
                "api": batch.CEP,
                "version": row.version,
                "checks": row.checks,
            },
            **actor_fields(None, ACTOR_LABEL),
        )


def removal_checks_queue() -> int:
    """Queue a check for every follow-up that is due and not queued for this moment yet (the janitor's:
    a worker that died mid-check leaves a row due again once its hold passes). Returns how many."""
    from audienceadmin import tasks

    now = dbclock.DbNow()
    due = Q(state=State.PENDING, next_check_at__lte=now) & (
        Q(queued_for__isnull=True) | ~Q(queued_for=F("next_check_at"))
    )
    count = 0
    for pk, at in RemovalFollowUp.objects.filter(due).values_list("pk", "next_check_at"):
        if RemovalFollowUp.objects.filter(due, pk=pk, next_check_at=at).update(queued_for=at):
            tasks.removal_check_task.enqueue(follow_up_id=pk)
            count += 1
    return count
