"""Running a bulk job: the task's work, from claiming the job to recording how it ended.

A job's items are deleted by ``services.audience_delete_prechecked`` exactly like single deletes
(two audit events each, with the job id in the *requested* event's details), ``concurrency`` at a
time, with one pause gate shared by the job's threads so that a 429 or 503 pauses them all.

A worker killed mid-job: its heartbeat goes stale; ``services.bulk_jobs_resume`` (run by `make run`
before the worker starts, by ``manage.py resume_bulk_jobs``, and by the job page) queues the job
again. The new run closes the items that were in flight as ``unknown`` (never retried: Batch may
have deleted them) and carries on with the items never started.

One place claims the job (``claim``), one place beats its heartbeat (``beat``), one place sends
and records an item (``delete_one``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from audienceadmin import selectors, services, wording
from audienceadmin.fields import DecryptionError
from audienceadmin.models import AuditEvent, BatchApp, BulkItem, BulkJob

if TYPE_CHECKING:
    from audienceadmin.services.deletion import BatchClient, Credentials

# The logger's name is what log filters and alerts know: it stays that of the module before the split.
logger = logging.getLogger("audienceadmin.bulk")
Outcome = AuditEvent.Outcome
NOT_CLAIMED = "not claimed: finished, cancelled, or run by a live worker"
TAKEN_OVER = "taken over by another worker"


def bulk_job_run(job_id: int, *, client: BatchClient | None = None) -> str:
    """Run a job to its end (or its cancellation). Safe to call again after a crash."""
    return BulkJobRun(job_id, client=client).run()


class BulkJobRun:
    """One run of one job, by one worker process. The main thread hands pending items to
    ``concurrency`` threads and beats the heartbeat; each thread deletes the items it is given."""

    heartbeat_every = 5.0  # seconds between heartbeats (and permission re-checks)
    cancel_check_every = 0.25  # seconds between looks at the job's cancel flag and runner

    job: BulkJob
    client: BatchClient
    credentials: Credentials | None
    slots: threading.BoundedSemaphore
    threads: list[threading.Thread]

    def __init__(self, job_id: int, *, client: BatchClient | None = None) -> None:
        self.job_id = job_id
        self.runner = uuid.uuid4().hex  # this run's mark on the job row
        self.given_client = client
        self.stop = threading.Event()  # the job was cancelled or taken over: items not started stay pending
        self.work: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self.refusal: str | None = None  # why the job may no longer go on (None: it may)
        self.last_beat = self.last_check = 0.0

    def run(self) -> str:
        if not self.claim():
            return NOT_CLAIMED
        self.prepare()
        self.start_workers()
        try:
            self.hand_out()
        finally:
            self.stop_workers()
        self.close_interrupted_items()  # items whose thread died (database error...): unknown, as after a crash
        return self.finish()

    def claim(self) -> bool:
        """Take the job: queued, or running with a stale heartbeat (its worker died)."""
        now = timezone.now()
        claimed = (
            BulkJob.objects.filter(pk=self.job_id)
            .filter(
                Q(state=BulkJob.State.QUEUED)
                | Q(state=BulkJob.State.RUNNING, heartbeat_at__lt=now - services.STALE_AFTER)
            )
            .update(state=BulkJob.State.RUNNING, runner=self.runner, heartbeat_at=now)
        )
        if not claimed:
            return False
        self.job = BulkJob.objects.select_related("app", "created_by").get(pk=self.job_id)
        if self.job.started_at is None:
            BulkJob.objects.filter(pk=self.job_id).update(started_at=now)
        return True

    def prepare(self) -> None:
        """Close what a dead run left in flight; get the client, the keys, the permission, the slots."""
        self.close_interrupted_items()
        self.client = services.job_client(lambda: "cancelled" if self.stop.is_set() else "", self.given_client)
        self.slots = threading.BoundedSemaphore(self.job.concurrency)
        self.refusal = self.why_refused()
        self.last_beat = self.last_check = time.monotonic()
        try:
            self.credentials = services.app_credentials(self.job.app)
        except DecryptionError:
            self.credentials = None  # each item then records the failure, as a single delete would

    def beat(self) -> bool:
        """Heartbeat and permission re-check (every few seconds), cancellation check (several times a
        second); False once the job was cancelled or taken over by another worker."""
        now = time.monotonic()
        if now - self.last_beat >= self.heartbeat_every:
            self.last_beat = now
            BulkJob.objects.filter(pk=self.job_id, runner=self.runner).update(heartbeat_at=timezone.now())
            self.refusal = self.why_refused()
        if now - self.last_check >= self.cancel_check_every:
            self.last_check = now
            cancel_requested, current = BulkJob.objects.values_list("cancel_requested", "runner").get(pk=self.job_id)
            if cancel_requested or current != self.runner:
                self.stop.set()
        return not self.stop.is_set()

    def why_refused(self) -> str | None:
        """Why the job may not go on (the app archived, the creator's access withdrawn), or None."""
        app = BatchApp.objects.get(pk=self.job.app_id)
        if app.is_archived:
            return wording.bulk_job_app_archived(app.name)
        user = type(self.job.created_by).objects.get(pk=self.job.created_by_id)
        if not (user.is_active and selectors.may_delete_in(app, user)):
            return wording.bulk_job_access_withdrawn(user.get_username(), app.name)
        return None

    def finish(self) -> str:
        """Items never started are skipped; the job ends done or cancelled (unless taken over)."""
        with transaction.atomic():
            current = BulkJob.objects.select_for_update().get(pk=self.job_id)
            if current.runner != self.runner:
                return TAKEN_OVER
            cancelled = current.cancel_requested
            self.job.items.filter(state=BulkItem.State.PENDING).update(
                state=BulkItem.State.SKIPPED,
                message="" if cancelled else wording.NOT_STARTED,
                finished_at=timezone.now(),
            )
            BulkJob.objects.filter(pk=self.job_id).update(
                state=BulkJob.State.CANCELLED if cancelled else BulkJob.State.DONE, finished_at=timezone.now()
            )
        return "cancelled" if cancelled else "done"

    def start_workers(self) -> None:
        self.threads = [
            threading.Thread(target=self.worker, name=f"bulk-{self.job_id}-{n}", daemon=True)
            for n in range(self.job.concurrency)
        ]
        for thread in self.threads:
            thread.start()

    def hand_out(self) -> None:
        """Each pending item, in order, once a slot is free; until the job stops or no thread is left."""
        pending = self.job.items.filter(state=BulkItem.State.PENDING).order_by("position")
        for item in pending.values_list("id", "audience"):
            if not self.wait_for_slot():
                break
            if not self.beat():
                self.slots.release()
                break
            self.work.put(item)

    def wait_for_slot(self) -> bool:
        """At most `concurrency` items handed over and not finished; False once every thread is gone."""
        while not self.slots.acquire(timeout=1.0):
            self.beat()  # every slot busy (slow Batch, a pause): the heartbeat goes on
            if not any(thread.is_alive() for thread in self.threads):
                return False
        return True

    def stop_workers(self) -> None:
        """Tell every thread to stop once the queue is empty, and wait for them, beating meanwhile."""
        for _ in self.threads:
            self.work.put(None)
        for thread in self.threads:
            while thread.is_alive():
                thread.join(timeout=1.0)
                self.beat()

    def worker(self) -> None:
        """Deletes items until told to stop. A bug ends the thread (logged by threading's excepthook);
        the main loop notices when no thread is left and stops handing items out."""
        try:
            while (task := self.work.get()) is not None:
                try:
                    self.delete_one(*task)
                except DatabaseError:  # the database failed again while recording the skip
                    logger.exception("Bulk job %s: could not record the state of an item", self.job_id)
        finally:
            connection.close()  # each thread has its own connection; nothing else would close it

    def delete_one(self, item_id: int, audience: str) -> None:
        """Send one item's deletion and record it (or record why it was not sent); frees its slot."""
        try:
            # A pause (a 429 or 503 seen by another thread) is waited out before the item starts, so
            # that its deadline begins after it; a cancel during the wait leaves the item unattempted.
            if self.client.gate is not None and self.client.gate.wait(lambda: "stop" if self.stop.is_set() else ""):
                return
            if self.stop.is_set():
                return
            if self.refusal is not None:
                raise ValidationError(self.refusal)
            services.audience_delete_prechecked(
                actor=self.job.created_by,
                app=self.job.app,
                name=audience,
                ip=None,
                source=AuditEvent.Source.BULK,
                client=self.client,
                details={"job": self.job_id},
                credentials=self.credentials,
                bulk_item=item_id,  # running, then done, in the same transactions as the audit events
            )
        except (ValidationError, PermissionDenied) as exc:  # the app was archived or access withdrawn
            self.skip(item_id, wording.bulk_item_not_attempted(getattr(exc, "messages", [str(exc)])))
        except DatabaseError:  # the request could not be recorded, so it was not sent
            logger.exception("Bulk job %s: could not record the request for audience %s", self.job_id, audience)
            self.skip(item_id, wording.NOT_RECORDED)
        finally:
            self.slots.release()

    @staticmethod
    def skip(item_id: int, message: str) -> None:
        BulkItem.objects.filter(pk=item_id, state=BulkItem.State.PENDING).update(
            state=BulkItem.State.SKIPPED, message=message, finished_at=timezone.now()
        )

    def close_interrupted_items(self) -> None:
        """Items a dead worker had in flight (request recorded, outcome not): unknown, never retried.
        (An item whose outcome was recorded is done: both commit in one transaction.)"""
        for item in self.job.items.filter(state=BulkItem.State.RUNNING):
            requested = AuditEvent.objects.filter(kind=AuditEvent.Kind.DELETE_REQUESTED, attempt=item.attempt).first()
            if requested is not None and services.attempt_close_interrupted(requested, bulk_item=item.pk):
                continue
            # The sweep closed the attempt first (its completed event already says unknown).
            BulkItem.objects.filter(pk=item.pk).update(
                state=BulkItem.State.DONE,
                outcome=Outcome.UNKNOWN,
                message=wording.bulk_item_message(Outcome.UNKNOWN, wording.INTERRUPTED),
                finished_at=timezone.now(),
            )
