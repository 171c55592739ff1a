"""Deleting an audience: the two audit events of an attempt around the call to Batch. (Attempts
whose process died between them are closed in ``services.attempts``.)"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from audienceadmin import batch, names, selectors, wording
from audienceadmin.fields import DecryptionError
from audienceadmin.models import AuditEvent, BatchApp, BulkItem, DeletionRequest
from audienceadmin.services import late_records, pacing, removals
from audienceadmin.services.approval_gate import ApprovalRequired, approval_needed, require_approval
from audienceadmin.services.apps import app_credentials
from audienceadmin.services.events import actor_fields, security_event_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# The logger's name is what log filters and alerts know: it stays that of the module before the split.
logger = logging.getLogger("audienceadmin.services")
Outcome = AuditEvent.Outcome
Kind = AuditEvent.Kind
BatchClient = batch.Client
Credentials = batch.Credentials


class AttemptAlreadyMade(Exception):
    """The attempt id was used already (a double submit, a replayed form): nothing was sent this time."""

    def __init__(self, attempt: uuid.UUID) -> None:
        super().__init__(f"attempt {attempt} was already made")
        self.attempt = attempt


@dataclass(frozen=True, kw_only=True)
class BatchAnswer:
    """What one delete call to Batch came to, before it is recorded."""

    outcome: str
    reason: str  # the client's word for it (wording.REASONS)
    tries: int
    http_status: int | None = None
    error_name: str = ""
    error_code: str = ""
    batch_message: str = ""
    indexing_token: str = ""  # a CEP removal's: what the follow-up asks about


@dataclass(frozen=True, kw_only=True)
class DeletionResult(BatchAnswer):
    """Batch's answer to a deletion, with the attempt it was recorded under."""

    attempt: uuid.UUID
    app_name: str
    audience: str
    duration_ms: int = 0
    recorded: bool = True  # False: the *completed* event could not be written
    api_label: str = ""  # "Custom Audience API 1.0", "Audience API 2.11"
    is_project: bool = False

    @property
    def deleted(self) -> bool:
        return self.outcome == Outcome.DELETED

    @property
    def message(self) -> str:
        return wording.describe_deletion(self)


def audience_delete(
    *,
    actor: User | None,
    app: BatchApp,
    name: str,
    ip: str | None,
    source: str = AuditEvent.Source.WEB,
    actor_label: str = "",
    client: BatchClient | None = None,
    details: dict[str, Any] | None = None,
    attempt: uuid.UUID | None = None,
    api_version: str | None = None,
    approval: DeletionRequest | None = None,
) -> DeletionResult:
    """Delete audience ``name`` of ``app`` in Batch, auditing the attempt before and after.

    The call goes to the app's own API (``batch.client_for(app.kind)``): an MEP app's Custom Audience
    API ``api_version`` (1.1 unless said), a CEP project's Audience API (``remove``, whose 202 is the
    outcome ``deleted``: Batch accepted the removal; its indexing token is in the *completed* event).

    The *requested* event is committed before Batch is called; if it cannot be written, nothing is
    sent. A Batch-side failure is an outcome, not an exception: the *completed* event and the
    returned result say what Batch answered, and only a 2xx answer counts as ``deleted``.
    ``details`` (the impact preview, a bulk job id) goes into the *requested* event.
    ``attempt``: the id the confirmation page issued; a second call with it raises
    ``AttemptAlreadyMade`` and sends nothing.
    ``approval``: in an app under the two-person rule, the approved request this deletion carries out;
    without a valid one, ``ApprovalRequired`` is raised (audited) and nothing is sent.
    """
    if not names.is_valid(name):
        raise ValidationError(wording.INVALID_NAME, code="invalid_name")
    app = BatchApp.objects.get(pk=app.pk)  # its current name and state, not a stale copy
    if app.is_archived:
        raise ValidationError(wording.app_archived(app.name), code="archived")
    if actor is not None and not selectors.may_delete_in(app, actor):
        security_event_record(
            kind=Kind.PERMISSION_DENIED,
            actor=actor,
            ip=ip,
            app=app,
            audience=name,
            message=wording.MAY_NOT_DELETE_AUDITED,
        )
        raise PermissionDenied(wording.MAY_NOT_DELETE)

    return audience_delete_prechecked(
        actor=actor,
        app=app,
        name=name,
        ip=ip,
        source=source,
        actor_label=actor_label,
        client=client,
        details=details,
        attempt=attempt,
        api_version=api_version,
        approval=approval,
    )


@dataclass(frozen=True)
class BulkItemRef:
    """The bulk item an attempt belongs to, and the run that may write it: every write of the item is
    fenced by that run's token (``BulkJob.runner``), so a run that lost the job records nothing."""

    item_id: int
    runner: str


class LeaseLost(Exception):
    """The bulk job is held by another run now: this run may neither send nor record for it."""


def audience_delete_prechecked(
    *,
    actor: User | None,
    app: BatchApp,
    name: str,
    ip: str | None,
    source: str,
    actor_label: str = "",
    client: BatchClient | None = None,
    details: dict[str, Any] | None = None,
    credentials: Credentials | None = None,
    bulk_item: BulkItemRef | None = None,
    attempt: uuid.UUID | None = None,
    api_version: str | None = None,
    approval: DeletionRequest | None = None,
) -> DeletionResult:
    """``audience_delete`` for a caller that has already made its checks: a bulk job checks the
    name, the app and the permission once (and again at every renewal of its lease) and decrypts the
    keys once, not per item.

    The keys are read (and decrypted) before anything is recorded, so that nothing stands between
    the committed *requested* event and the call. The *requested* event is written in a durable
    transaction: called inside a transaction of its own, this raises ``RuntimeError`` before
    anything is sent, because Batch must never be called while that event could be rolled back.
    If that write fails, nothing is sent; should it have been committed all the same (the database
    went away at the commit), ``late_records`` gives it a *not sent* completion once it is back.

    ``bulk_item``: the item's state changes commit with the audit events (it is *running* exactly
    when its request was recorded, *done* exactly when its outcome was), fenced by the run's token:
    ``LeaseLost`` (nothing recorded, nothing sent) once another run holds the job.

    The two-person rule's gate is checked here, the one way to Batch: ``ApprovalRequired`` (audited,
    nothing sent) unless the app needs no approval, or ``approval`` (or the bulk item's job) was approved."""
    _gate(app, name, approval, bulk_item, actor, ip)
    if credentials is None:
        try:
            credentials = app_credentials(app)
        except DecryptionError:
            credentials = None  # recorded as failed: nothing can be sent
    client = client or batch.client_for(app.kind, version=api_version)
    if isinstance(client, batch.CepClient) and client.pace is None:
        client = client.paced(pacing.project_pacer(app))
    api = {"api": client.api, "version": client.version}
    given = attempt is not None
    attempt = attempt or uuid.uuid4()
    common = {
        "attempt": attempt,
        "source": source,
        "app": app,
        "app_name": app.name,
        "ip": ip,
        "audience": name,
        **actor_fields(actor, actor_label or source),
    }
    try:
        with transaction.atomic(durable=True):  # committed here, or nothing is sent
            event = AuditEvent.objects.create(kind=Kind.DELETE_REQUESTED, details=(details or {}) | api, **common)
            if bulk_item is not None:
                _item_update(bulk_item, event.pk, only_pending=True, state=BulkItem.State.RUNNING, attempt=attempt)
    except IntegrityError:
        if given:  # the unique (attempt, kind) constraint: this attempt was made already
            raise AttemptAlreadyMade(attempt) from None
        raise
    except DatabaseError:
        late_records.settle_unsent(common, bulk_item)
        raise

    started = time.monotonic()
    answer = _call_batch(name, client, credentials)
    duration_ms = round((time.monotonic() - started) * 1000)
    recorded = complete(
        common,
        bulk_item,
        item_waits=answer.outcome == Outcome.NOT_SENT and answer.reason in RUN_STOPPING,
        outcome=answer.outcome,
        http_status=answer.http_status,
        error_name=answer.error_name,
        error_code=answer.error_code,
        message=answer.batch_message or wording.reason_text(answer.reason),
        tries=answer.tries,
        duration_ms=duration_ms,
        details=api | ({"indexing_token": answer.indexing_token} if answer.indexing_token else {}),
    )
    if answer.indexing_token and client.api == batch.CEP and answer.outcome == Outcome.DELETED:
        removals.removal_follow_up_start(
            app=app,
            attempt=attempt,
            audience=name,
            version=client.version,
            indexing_token=answer.indexing_token,
            queue=bulk_item is None,
        )
    logger.info(
        "audience %s in app %s: %s",
        name,
        app.name,
        answer.outcome,
        extra={"app": app.name, "audience": name, "outcome": answer.outcome, "attempt": attempt},
    )
    return DeletionResult(
        **dataclasses.asdict(answer),
        attempt=attempt,
        app_name=app.name,
        audience=name,
        duration_ms=duration_ms,
        recorded=recorded,
        api_label=client.label,
        is_project=client.api == batch.CEP,
    )


def _gate(
    app: BatchApp, name: str, approval: DeletionRequest | None, bulk_item: BulkItemRef | None, actor: User | None,
    ip: str | None,
) -> None:  # fmt: skip
    if not approval_needed(app):  # one indexed read: most apps need no approval
        return
    job_id = None
    if bulk_item is not None:
        job_id = BulkItem.objects.filter(pk=bulk_item.item_id).values_list("job_id", flat=True).first()
        job_id = job_id if job_id is not None else -1
    try:
        require_approval(app, name=name, approval=approval, bulk_job_id=job_id)
    except ApprovalRequired as exc:
        security_event_record(kind=Kind.PERMISSION_DENIED, actor=actor, ip=ip, app=app, audience=name, message=str(exc))
        raise


def _item_update(ref: BulkItemRef, seq: int, *, only_pending: bool = False, **fields: Any) -> None:
    """Change a bulk item, fenced by its run's token; ``seq`` (the audit event's id) orders the
    changes for the job page's incremental poll."""
    items = BulkItem.objects.filter(pk=ref.item_id, job__runner=ref.runner)
    if only_pending:
        items = items.filter(state=BulkItem.State.PENDING)
    if not items.update(seq=seq, **fields):
        raise LeaseLost


# Why a bulk run refuses to send (``BulkJobRun.why_not_send``): it is stopping. An item whose call it
# refused after its *requested* event was written waits for the next run, as one never started does.
RUN_STOPPING = frozenset({"shutting_down", "lease_lost", "cancelled"})


def complete(
    common: dict[str, Any],
    bulk_item: BulkItemRef | None,
    *,
    late: bool = True,
    item_waits: bool = False,
    **outcome: Any,
) -> bool:
    """Write the *completed* event (and the item's outcome with it; ``item_waits``: nothing was sent
    because the run is stopping, so the item is pending again). False if it was not written now:
    one exists already (a sweep or a new run closed the attempt), the run lost its job, or the
    database failed (then, with ``late``, it is written once the database is back; Batch's answer is
    logged meanwhile, never lost)."""
    try:
        with transaction.atomic():
            event = AuditEvent.objects.create(kind=Kind.DELETE_COMPLETED, **common, **outcome)
            if bulk_item is not None:
                waits = {"state": BulkItem.State.PENDING, "attempt": None}
                _item_update(bulk_item, event.pk, **(waits if item_waits else item_outcome_fields(outcome)))
    except (DatabaseError, LeaseLost) as exc:
        if isinstance(exc, IntegrityError):
            why = "already closed (by the sweep or a new run)"
        elif isinstance(exc, LeaseLost):
            why = "another run holds the bulk job now: it closes the attempt"
        else:
            why = type(exc).__name__ + (": it is written once the database is back" if late else "")
        logger.error(
            "Could not record the outcome of attempt %s (%s, audience %s, app %s): %s",
            common["attempt"],
            outcome.get("outcome"),
            common["audience"],
            common["app_name"],
            why,
        )
        if late and isinstance(exc, DatabaseError) and not isinstance(exc, IntegrityError):
            late_records.complete_later(common, bulk_item, outcome)
        return False
    return True


def item_outcome_fields(outcome: dict[str, Any]) -> dict[str, Any]:
    """A bulk item's columns for an attempt's outcome: the item shows what the audit says."""
    return {
        "state": BulkItem.State.DONE,
        "finished_at": timezone.now(),
        "outcome": outcome["outcome"],
        "http_status": outcome.get("http_status"),
        "error_name": outcome.get("error_name", ""),
        "message": wording.bulk_item_message(outcome["outcome"], outcome.get("message", ""))[:1000],
    }


def _call_batch(name: str, client: BatchClient, credentials: Credentials | None) -> BatchAnswer:
    if credentials is None:
        return BatchAnswer(outcome=Outcome.FAILED, reason="undecryptable_keys", tries=0)
    try:
        response = client.delete_audience(credentials, name)
    except batch.BatchApiError as exc:
        return _from_error(Outcome.REJECTED, exc)
    except batch.BatchUnavailable as exc:
        return _from_error(Outcome.FAILED, exc)
    except batch.OutcomeUnknown as exc:
        return _from_error(Outcome.UNKNOWN, exc)
    except batch.NotSent as exc:
        return _from_error(Outcome.NOT_SENT, exc)
    # A 2xx whose body could not be read is still Batch's answer; the audit notes the body.
    token = response.data.get("indexing_token") if isinstance(response.data, dict) else None
    token = token[:200] if isinstance(token, str) else ""
    reason = "removal_accepted" if client.api == batch.CEP else "deleted"
    reason = f"body_{response.body_error}" if response.body_error else reason
    return BatchAnswer(
        outcome=Outcome.DELETED, reason=reason, tries=response.tries, http_status=response.status, indexing_token=token
    )


def _from_error(outcome: str, exc: batch.BatchError) -> BatchAnswer:
    return BatchAnswer(
        outcome=outcome,
        reason=exc.reason,
        tries=exc.tries,
        http_status=exc.http_status,
        error_name=exc.name,
        error_code=exc.code,
        batch_message=exc.message,
    )


def job_client(
    should_stop: batch.StopCheck, client: BatchClient | None = None, *, kind: str = batch.MEP
) -> BatchClient:
    """A client for one bulk job in an app of ``kind``: a 429 or 503 seen by any of its threads pauses
    them all, and ``should_stop`` (the job cancelled, its lease lost) keeps any of them from sending more."""
    client = client or batch.client_for(kind)
    return client.bound(gate=client.new_gate(), should_stop=should_stop)
