"""Bulk deletion: the operations on bulk jobs (services for them), and the background task.

A job's items are deleted by ``services.audience_delete`` exactly like single deletes (two audit
events each, with the job id in the *requested* event's details), ``BULK_CONCURRENCY`` at a time,
with one pause gate shared by the job's threads so that a 429 or 503 pauses them all.

A worker killed mid-job: its heartbeat goes stale; ``bulk_jobs_resume`` (run by `make run` before
the worker starts, by ``manage.py resume_bulk_jobs``, and by the job page) queues the job again.
The new run closes the items that were in flight as ``unknown`` (never retried: Batch may have
deleted them) and carries on with the items never started.
"""

from __future__ import annotations

import csv
import io
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Q
from django.tasks import task
from django.utils import timezone

from audienceadmin import batch, selectors, services
from audienceadmin.fields import DecryptionError
from audienceadmin.models import AuditEvent, BatchApp, BulkItem, BulkJob

logger = logging.getLogger(__name__)
Outcome = AuditEvent.Outcome
STALE_AFTER = timedelta(seconds=60)
HEARTBEAT_EVERY = 5.0
CANCEL_CHECK_EVERY = 0.25
NOT_RECORDED = "Not attempted: the database could not record the request, so it was not sent to Batch."
NOT_STARTED = "Not attempted: the job's worker stopped before starting it (see the worker's log); nothing was sent."


@dataclass
class NameReport:
    """The validation report shown before a bulk job is created."""

    valid: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    too_many: bool = False


def bulk_names_check(text: str, *, limit: int | None = None) -> NameReport:
    """Names one per line (or comma/semicolon separated, as a .csv has them), blank lines ignored."""
    limit = limit or settings.BULK_MAX_ITEMS
    report, seen = NameReport(), set()
    for line in text.splitlines():
        for raw in line.replace(";", ",").split(","):
            name = raw.strip().strip('"').strip()
            if not name:
                continue
            if not batch.is_valid_audience_name(name):
                reason = "longer than 255 characters" if len(name) > 255 else "has characters Batch does not allow"
                report.invalid.append((name[:80], reason))
            elif name in seen:
                report.duplicates.append(name)
            else:
                seen.add(name)
                report.valid.append(name)
    report.too_many = len(report.valid) > limit
    return report


def bulk_job_create(*, actor: AbstractBaseUser, app: BatchApp, names: list[str], ip: str | None = None) -> BulkJob:
    if not actor.has_perm(services.DELETE_PERMISSION) or not selectors.app_usable_by(app, actor):
        raise PermissionDenied("You may not delete audiences in this app.")
    report = bulk_names_check("\n".join(names))
    if report.invalid or not report.valid or report.too_many:
        raise ValidationError("The list must hold between 1 and BULK_MAX_ITEMS valid names.")
    with transaction.atomic():
        job = BulkJob.objects.create(app=app, created_by=actor, concurrency=max(1, settings.BULK_CONCURRENCY))
        BulkItem.objects.bulk_create(
            BulkItem(job=job, position=i, audience=name) for i, name in enumerate(report.valid)
        )
        _audit_job(AuditEvent.Kind.BULK_QUEUED, actor=actor, job=job, ip=ip, message=f"{len(report.valid)} audiences")
        transaction.on_commit(lambda: bulk_job_task.enqueue(job_id=job.pk))
    return job


def bulk_job_cancel(*, actor: AbstractBaseUser, job: BulkJob, ip: str | None = None) -> BulkJob:
    """Items not yet started are not attempted; items in flight finish and are recorded."""
    with transaction.atomic():
        first = BulkJob.objects.filter(pk=job.pk, cancel_requested=False, finished_at__isnull=True).update(
            cancel_requested=True, cancelled_by=actor
        )
        if first:  # audited once, and only if there was something left to cancel
            _audit_job(AuditEvent.Kind.BULK_CANCELLED, actor=actor, job=job, ip=ip)
        claimed = BulkJob.objects.filter(pk=job.pk, state=BulkJob.State.QUEUED).update(
            state=BulkJob.State.CANCELLED, finished_at=timezone.now()
        )
        if claimed:  # never started: nothing is in flight
            job.items.filter(state=BulkItem.State.PENDING).update(state=BulkItem.State.SKIPPED)
    job.refresh_from_db()
    return job


def _audit_job(kind: str, *, actor: AbstractBaseUser, job: BulkJob, ip: str | None, message: str = "") -> None:
    text = f"Bulk job {job.pk}" + (f": {message}" if message else "")
    services.app_event_record(kind, actor=actor, app=job.app, ip=ip, message=text, details={"job": job.pk})


def bulk_jobs_resume() -> int:
    """Queue again the active jobs whose worker stopped beating (died). Returns how many."""
    stale = timezone.now() - STALE_AFTER
    jobs = BulkJob.objects.filter(state=BulkJob.State.RUNNING, heartbeat_at__lt=stale)
    count = 0
    for job in jobs:
        bulk_job_task.enqueue(job_id=job.pk)
        count += 1
    return count


@dataclass(frozen=True)
class Progress:
    state: str
    state_label: str
    total: int
    done: int
    deleted: int
    rejected: int
    failed: int
    unknown: int
    not_sent: int
    skipped: int
    running: int

    @property
    def remaining(self) -> int:
        return self.total - self.done - self.skipped

    @property
    def percent(self) -> int:
        return round(100 * (self.done + self.skipped) / self.total) if self.total else 100


def bulk_job_progress(job: BulkJob) -> Progress:
    counts = job.items.aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(state=BulkItem.State.DONE)),
        skipped=Count("id", filter=Q(state=BulkItem.State.SKIPPED)),
        running=Count("id", filter=Q(state=BulkItem.State.RUNNING)),
        **{o: Count("id", filter=Q(outcome=o)) for o in Outcome.values},
    )
    label = job.get_state_display()
    if job.cancel_requested and job.is_active:
        label += " (cancelling: waiting for the deletions in flight)"
    return Progress(state=job.state, state_label=label, **counts)


def bulk_job_csv(job: BulkJob):
    """The job's items and outcomes as CSV lines (streamed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["position", "audience", "state", "outcome", "http_status", "error_name", "message", "attempt"])
    for item in job.items.order_by("position").iterator(chunk_size=1000):
        writer.writerow(
            [item.position + 1, item.audience, item.state, item.outcome, item.http_status or "",
             item.error_name, item.message, item.attempt or ""]
        )  # fmt: skip
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


# --- the background task -------------------------------------------------------------------------------


@task()
def bulk_job_task(job_id: int) -> str:
    return bulk_job_run(job_id)


def bulk_job_run(job_id: int, *, client: batch.MepClient | None = None) -> str:
    """Run a job to its end (or its cancellation). Safe to call again after a crash."""
    runner = uuid.uuid4().hex
    now = timezone.now()
    claimed = (
        BulkJob.objects.filter(pk=job_id)
        .filter(Q(state=BulkJob.State.QUEUED) | Q(state=BulkJob.State.RUNNING, heartbeat_at__lt=now - STALE_AFTER))
        .update(state=BulkJob.State.RUNNING, runner=runner, heartbeat_at=now)
    )
    if not claimed:
        return "not claimed: finished, cancelled, or run by a live worker"
    job = BulkJob.objects.select_related("app", "created_by").get(pk=job_id)
    if job.started_at is None:
        BulkJob.objects.filter(pk=job_id).update(started_at=now)
    _close_interrupted_items(job)

    stop = threading.Event()  # the job was cancelled or taken over: items not started stay pending
    client = client or batch.get_client()
    gate = client.new_gate()
    client = client.bound(gate=gate, should_stop=lambda: "cancelled" if stop.is_set() else "")
    slots = threading.BoundedSemaphore(job.concurrency)
    allowed = _still_allowed(job)
    last_beat = last_check = time.monotonic()
    try:
        credentials = services.app_credentials(job.app)
    except DecryptionError:
        credentials = None  # each item then records the failure, as a single delete would

    def beat() -> bool:
        """Heartbeat and permission re-check (every few seconds), cancellation check (several times a
        second); False once the job was cancelled or taken over by another worker."""
        nonlocal allowed, last_beat, last_check
        now = time.monotonic()
        if now - last_beat >= HEARTBEAT_EVERY:
            last_beat = now
            BulkJob.objects.filter(pk=job_id, runner=runner).update(heartbeat_at=timezone.now())
            allowed = _still_allowed(job)
        if now - last_check >= CANCEL_CHECK_EVERY:
            last_check = now
            cancel_requested, current = BulkJob.objects.values_list("cancel_requested", "runner").get(pk=job_id)
            if cancel_requested or current != runner:
                stop.set()
        return not stop.is_set()

    def delete_one(item_id: int, audience: str) -> None:
        try:
            # A pause (429/503 seen by another thread) is waited out before the item starts, so that
            # its deadline begins after it; a cancel during the wait leaves the item unattempted.
            if gate.wait(lambda: "stop" if stop.is_set() else "") or stop.is_set():
                return
            if allowed is not True:
                raise ValidationError(allowed)
            services.audience_delete_checked(
                actor=job.created_by,
                app=job.app,
                name=audience,
                ip=None,
                source=AuditEvent.Source.BULK,
                client=client,
                details={"job": job_id},
                credentials=credentials,
                bulk_item=item_id,  # running, then done, in the same transactions as the audit events
            )
        except (ValidationError, PermissionDenied) as exc:  # the app was archived or access withdrawn
            _skip(item_id, "Not attempted: " + " ".join(getattr(exc, "messages", [str(exc)])))
        except DatabaseError:  # the request could not be recorded, so it was not sent
            logger.exception("Bulk job %s: could not record the request for audience %s", job_id, audience)
            _skip(item_id, NOT_RECORDED)
        finally:
            slots.release()

    work: queue.Queue[tuple[int, str] | None] = queue.Queue()

    def worker() -> None:
        """Deletes items until told to stop. A bug ends the thread (logged by threading's excepthook);
        the main loop notices when no thread is left and stops handing items out."""
        try:
            while (task := work.get()) is not None:
                try:
                    delete_one(*task)
                except DatabaseError:  # the database failed again while recording the skip
                    logger.exception("Bulk job %s: could not record the state of an item", job_id)
        finally:
            connection.close()  # each thread has its own connection; nothing else would close it

    def wait_for_slot() -> bool:
        """At most `concurrency` items handed over and not finished; False once every thread is gone."""
        while not slots.acquire(timeout=1.0):
            beat()  # every slot busy (slow Batch, a pause): the heartbeat goes on
            if not any(thread.is_alive() for thread in threads):
                return False
        return True

    threads = [threading.Thread(target=worker, name=f"bulk-{job_id}-{n}", daemon=True) for n in range(job.concurrency)]
    for thread in threads:
        thread.start()
    try:
        pending = job.items.filter(state=BulkItem.State.PENDING).order_by("position").values_list("id", "audience")
        for item in pending:
            if not wait_for_slot():
                break
            if not beat():
                slots.release()
                break
            work.put(item)
    finally:
        for _ in threads:
            work.put(None)
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=1.0)
                beat()
    _close_interrupted_items(job)  # items whose thread died (database error...): unknown, as after a crash
    with transaction.atomic():
        current = BulkJob.objects.select_for_update().get(pk=job_id)
        if current.runner != runner:
            return "taken over by another worker"
        cancelled = current.cancel_requested
        job.items.filter(state=BulkItem.State.PENDING).update(
            state=BulkItem.State.SKIPPED, message="" if cancelled else NOT_STARTED, finished_at=timezone.now()
        )
        BulkJob.objects.filter(pk=job_id).update(
            state=BulkJob.State.CANCELLED if cancelled else BulkJob.State.DONE, finished_at=timezone.now()
        )
    return "cancelled" if cancelled else "done"


def _skip(item_id: int, message: str) -> None:
    BulkItem.objects.filter(pk=item_id, state=BulkItem.State.PENDING).update(
        state=BulkItem.State.SKIPPED, message=message, finished_at=timezone.now()
    )


def _still_allowed(job: BulkJob) -> bool | str:
    """True, or why the job may not go on (the app archived, the creator's access withdrawn)."""
    app = BatchApp.objects.get(pk=job.app_id)
    if app.is_archived:
        return f"app “{app.name}” was archived"
    user = type(job.created_by).objects.get(pk=job.created_by_id)
    if not (user.is_active and user.has_perm(services.DELETE_PERMISSION) and selectors.app_usable_by(app, user)):
        return f"{user.get_username()} may no longer delete audiences in app “{app.name}”"
    return True


def _close_interrupted_items(job: BulkJob) -> None:
    """Items a dead worker had in flight (request recorded, outcome not): unknown, never retried.
    (An item whose outcome was recorded is done: both commit in one transaction.)"""
    for item in job.items.filter(state=BulkItem.State.RUNNING):
        requested = AuditEvent.objects.filter(kind=AuditEvent.Kind.DELETE_REQUESTED, attempt=item.attempt).first()
        if requested is not None and services.attempt_close_interrupted(requested, bulk_item=item.pk):
            continue
        # The sweep closed the attempt first (its completed event already says unknown).
        BulkItem.objects.filter(pk=item.pk).update(
            state=BulkItem.State.DONE,
            outcome=Outcome.UNKNOWN,
            message=services.bulk_item_message(Outcome.UNKNOWN, services.INTERRUPTED),
            finished_at=timezone.now(),
        )
