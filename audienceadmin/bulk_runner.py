"""Running a bulk job: the task's work, from taking the job to recording how it ended.

A job's items are deleted by ``services.audience_delete_prechecked`` exactly like single deletes
(two audit events each, with the job id in the *requested* event's details), ``concurrency`` at a
time, with one pause gate shared by the job's threads so that a 429 or 503 pauses them all.

**The lease.** A run takes the job with a fresh token (``BulkJob.runner``) and a lease that it
renews every few seconds, both by the database's clock. Every write of an item is fenced by the
token, and a run starts a call to Batch only while its lease surely outlasts the call (the client's
hard bound), by its own monotonic clock. So once a lease has passed and another run has taken the
job, the old run can neither send nor record anything for it — even if it was paused, or its clock
is wrong — and no audience gets two DELETEs from one job. A run that dies simply stops renewing;
the workers' janitor (``manage.py worker``) queues the job again once the lease has passed. The new
run closes the items that were in flight as the audit says (``unknown`` if nothing was recorded:
Batch may have deleted them, so they are never sent again) and carries on with the others.

**The database going away** (a restart, a failover): the run stops handing items out, keeps its
job and retries with backoff; items not yet sent wait. Outcomes that could not be recorded are
written once the database is back (``services.late_records``).

**Shutdown** (SIGTERM to the worker): no new call starts; calls in flight finish and are recorded;
the run gives its lease back so that another worker takes the job at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Now

from audienceadmin import batch, dbclock, selectors, services, wording
from audienceadmin.fields import DecryptionError
from audienceadmin.models import AuditEvent, BatchApp, BulkItem, BulkJob

if TYPE_CHECKING:
    from audienceadmin.services.deletion import BatchClient, Credentials

# The logger's name is what log filters and alerts know: it stays that of the module before the split.
logger = logging.getLogger("audienceadmin.bulk")
Outcome = AuditEvent.Outcome
NOT_CLAIMED = "not claimed: finished, cancelled, or held by a live run"
TAKEN_OVER = "taken over by another run"
RELEASED = "released: another worker carries on"
_shutting_down = threading.Event()


def stop_runs() -> None:
    """SIGTERM: every run of this process stops handing items out and releases its job."""
    _shutting_down.set()


def renew_every() -> float:
    """Seconds between renewals of a lease: twelve renewals a lease (5 s with the default 60 s)."""
    return float(settings.BULK_LEASE_SECONDS) / 12


def lease_seconds() -> float:
    """How long a lease holds: ``BULK_LEASE_SECONDS``, and at least enough for a call started at the
    last moment (the client's hard bound), the recording of its outcome and two missed renewals."""
    return max(
        float(settings.BULK_LEASE_SECONDS),
        batch.config_from_settings().hard_bound + BulkJobRun.margin + 2 * renew_every(),
    )


def bulk_job_run(job_id: int, *, client: BatchClient | None = None) -> str:
    """Run a job to its end (or its cancellation). Safe to call again after a crash."""
    return BulkJobRun(job_id, client=client).run()


class BulkJobRun:
    """One run of one job, by one worker process. The main thread hands pending items to
    ``concurrency`` threads and renews the lease; each thread deletes the items it is given."""

    cancel_check_every = 0.25  # seconds between looks at the job's cancel flag
    margin = 2.0  # seconds of lease left beyond a call's hard bound, for recording its outcome
    record_tries = 3  # an item whose request cannot be recorded this many times is not attempted

    job: BulkJob
    client: BatchClient
    credentials: Credentials | None
    slots: threading.BoundedSemaphore
    version: str | None  # an MEP app's Custom Audience API version for every item (None: per item)
    resolve_each: bool
    threads: list[threading.Thread]

    def __init__(self, job_id: int, *, client: BatchClient | None = None) -> None:
        self.job_id = job_id
        self.runner = uuid.uuid4().hex  # this run's token on the job row
        self.given_client = client
        self.lease = lease_seconds()
        self.renew_every = renew_every()  # and the permission re-checked
        self.hard_bound = batch.config_from_settings().hard_bound
        self.lease_holds_until = 0.0  # time.monotonic() until which the lease surely holds
        self.stop = threading.Event()  # cancelled, taken over, shutting down: nothing more is handed out
        self.stop_reason = ""
        self.work: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self.in_hand: set[int] = set()  # items handed to a thread and not finished
        self.hand_lock = threading.Lock()
        self.refusal: str | None = None  # why the job may no longer go on (None: it may)
        self.last_renewal = self.last_check = 0.0
        self.database_down_since: float | None = None
        self.unrecorded: dict[int, int] = {}  # item -> times its request could not be recorded

    # --- the run ------------------------------------------------------------------------------

    def run(self) -> str:
        if not self.claim():
            return NOT_CLAIMED
        self.prepare()
        self.start_workers()
        try:
            self.hand_out()
        finally:
            self.stop_workers()
        return self.finish()

    def claim(self) -> bool:
        """Take the job: queued, or running under a lease that has passed (its run died)."""
        started = time.monotonic()
        lease_passed = Q(lease_until__isnull=True) | Q(lease_until__lt=dbclock.DbNow())
        claimed = (
            BulkJob.objects.filter(pk=self.job_id)
            .filter(Q(state=BulkJob.State.QUEUED) | Q(state=BulkJob.State.RUNNING) & lease_passed)
            .update(
                state=BulkJob.State.RUNNING,
                runner=self.runner,
                lease_until=dbclock.DbNow() + timedelta(seconds=self.lease),
                runs=F("runs") + 1,
            )
        )
        if not claimed:
            return False
        self.lease_holds_until = started + self.lease
        self.job = BulkJob.objects.select_related("app", "created_by").get(pk=self.job_id)
        BulkJob.objects.filter(pk=self.job_id, started_at__isnull=True).update(started_at=Now())
        logger.info("Bulk job %s: run %s took it (run %d)", self.job_id, self.runner[:8], self.job.runs)
        return True

    def prepare(self) -> None:
        """Close what a dead run left in flight; get the client, the keys, the permission, the slots."""
        self.close_interrupted_items()
        self.client = services.job_client(self.why_not_send, self.given_client, kind=self.job.app.kind)
        self.slots = threading.BoundedSemaphore(self.job.concurrency)
        self.refusal = self.why_refused()
        self.last_renewal = self.last_check = time.monotonic()
        try:
            self.credentials = services.app_credentials(self.job.app)
        except DecryptionError:
            self.credentials = None  # each item then records the failure, as a single delete would
        self.version, self.resolve_each = self.mep_versions()

    def mep_versions(self) -> tuple[str | None, bool]:
        """(the version every item goes to, whether each item is looked up instead). An MEP app with
        audiences in one API version only sends every item there (two list calls per job); one with
        both looks each name up as the confirmation page does."""
        if not isinstance(self.client, batch.MepClient) or self.credentials is None:
            return None, False
        used = services.mep_versions_in_use(self.client, self.credentials)
        if used is None or len(used) > 1:
            return None, True
        return (used[0] if used else batch.mep.DEFAULT_VERSION), False

    def hand_out(self) -> None:
        """Each pending item, in order, once a slot is free; until none is left or the run stops."""
        while self.beat():
            if self.lease_left() < self.hard_bound + self.margin:  # the database is away: wait for it
                time.sleep(0.5)
                continue
            with self.hand_lock:
                in_hand = list(self.in_hand)  # before the query: an item finishing meanwhile is seen again
            try:
                items = self.pending_items(in_hand)
            except DatabaseError:
                self.database_trouble()
                continue
            if not items:
                if not in_hand:
                    return  # all done
                time.sleep(0.1)  # the last items are in flight; one may come back (database trouble)
                continue
            for item in items:
                if not self.wait_for_slot():
                    return
                if not self.beat():
                    self.slots.release()
                    return
                with self.hand_lock:
                    self.in_hand.add(item[0])
                self.work.put(item)

    def pending_items(self, in_hand: list[int], chunk: int = 200) -> list[tuple[int, str]]:
        pending = self.job.items.filter(state=BulkItem.State.PENDING).exclude(pk__in=in_hand)
        return list(pending.order_by("position").values_list("id", "audience")[:chunk])

    def finish(self) -> str:
        """Items never started are skipped; the job ends done or cancelled. A run that must stop
        early (shutdown, the database away) gives its lease back for another run to carry on."""
        try:
            with transaction.atomic():
                current = BulkJob.objects.select_for_update().get(pk=self.job_id)
                if current.runner != self.runner:
                    return TAKEN_OVER
                cancelled = current.cancel_requested
                if not cancelled and self.stop_reason in ("shutting_down", "lease_lost"):
                    BulkJob.objects.filter(pk=self.job_id).update(lease_until=dbclock.DbNow())
                    return RELEASED
                self.close_interrupted_items()  # a thread that died (a bug) left its item running
                services.bulk_items_skip_pending(self.job, message="" if cancelled else wording.NOT_STARTED)
                BulkJob.objects.filter(pk=self.job_id).update(
                    state=BulkJob.State.CANCELLED if cancelled else BulkJob.State.DONE, finished_at=Now()
                )
                services.request_bulk_finished(self.job_id)  # the two-person rule: both people are told
        except DatabaseError:
            logger.exception("Bulk job %s: could not record its end; another run will finish it", self.job_id)
            return RELEASED
        return "cancelled" if cancelled else "done"

    # --- the lease, the cancel flag, the permission -------------------------------------------

    def beat(self) -> bool:
        """Renew the lease and re-check the permission (every few seconds), look at the cancel flag
        (several times a second); False once the run must stop handing items out."""
        now = time.monotonic()
        if _shutting_down.is_set():
            self.halt("shutting_down")
        try:
            if now - self.last_renewal >= self.renew_every:
                self.renew()
            if now - self.last_check >= self.cancel_check_every:
                self.last_check = now
                if BulkJob.objects.filter(pk=self.job_id, cancel_requested=True).exists():
                    self.halt("cancelled")
        except DatabaseError:
            self.database_trouble()
        if self.lease_left() <= 0:
            self.halt("lease_lost")  # it may be someone else's by now
        return not self.stop.is_set()

    def renew(self) -> None:
        started = time.monotonic()
        self.last_renewal = started
        held = BulkJob.objects.filter(pk=self.job_id, runner=self.runner).update(
            lease_until=dbclock.DbNow() + timedelta(seconds=self.lease)
        )
        if not held:
            self.halt("lease_lost")
            return
        self.lease_holds_until = started + self.lease
        self.refusal = self.why_refused()
        if self.database_down_since is not None:
            logger.warning("Bulk job %s: the database is back; carrying on", self.job_id)
            self.database_down_since = None

    def database_trouble(self) -> None:
        """The database failed: keep the job, wait a little (backoff), try again."""
        if self.database_down_since is None:
            self.database_down_since = time.monotonic()
            logger.warning("Bulk job %s: the database is unavailable; waiting for it", self.job_id)
        connection.close()
        down_for = time.monotonic() - self.database_down_since
        time.sleep(min(0.25 * 2 ** min(down_for, 5), 2.0))

    def lease_left(self) -> float:
        return self.lease_holds_until - time.monotonic()

    def halt(self, reason: str) -> None:
        if not self.stop.is_set():
            self.stop_reason = reason
            logger.info("Bulk job %s: run %s stops (%s)", self.job_id, self.runner[:8], reason)
        self.stop.set()

    def why_not_send(self) -> str:
        """Asked by the client before each try: why this run may not send now, or ""."""
        if _shutting_down.is_set():  # a SIGTERM: no new call, without waiting for the next beat
            self.halt("shutting_down")
        if self.stop.is_set():
            return self.stop_reason or "cancelled"
        if self.lease_left() < self.hard_bound + self.margin:
            return "lease_lost"
        return ""

    def why_refused(self) -> str | None:
        """Why the job may not go on (the app archived, the creator's access withdrawn), or None."""
        app = BatchApp.objects.get(pk=self.job.app_id)
        if app.is_archived:
            return wording.bulk_job_app_archived(app.name)
        user = type(self.job.created_by).objects.get(pk=self.job.created_by_id)
        if not (user.is_active and selectors.may_delete_in(app, user)):
            return wording.bulk_job_access_withdrawn(user.get_username(), app.name)
        try:  # the two-person rule: a job of an app under it runs only for its approved request
            services.require_approval(app, name=None, approval=None, bulk_job_id=self.job_id)
        except services.ApprovalRequired:
            return wording.APPROVAL_REQUIRED
        return None

    # --- the threads ------------------------------------------------------------------------------

    def start_workers(self) -> None:
        self.threads = [
            threading.Thread(target=self.worker, name=f"bulk-{self.job_id}-{n}", daemon=True)
            for n in range(self.job.concurrency)
        ]
        for thread in self.threads:
            thread.start()

    def wait_for_slot(self) -> bool:
        """At most `concurrency` items handed over and not finished; False once every thread is gone."""
        while not self.slots.acquire(timeout=0.5):
            self.beat()  # every slot busy (slow Batch, a pause): the lease is renewed meanwhile
            if not any(thread.is_alive() for thread in self.threads):
                return False
        return True

    def stop_workers(self) -> None:
        """Tell every thread to stop once the queue is empty, and wait for them, renewing meanwhile."""
        for _ in self.threads:
            self.work.put(None)
        for thread in self.threads:
            while thread.is_alive():
                thread.join(timeout=0.5)
                self.beat()

    def worker(self) -> None:
        """Deletes items until told to stop. A bug ends the thread (logged by threading's excepthook);
        the main loop notices when no thread is left and stops handing items out."""
        try:
            while (task := self.work.get()) is not None:
                try:
                    self.delete_one(*task)
                except DatabaseError:  # the database failed again while recording a skip
                    logger.exception("Bulk job %s: could not record the state of an item", self.job_id)
        finally:
            connection.close()  # each thread has its own connection; nothing else would close it

    def delete_one(self, item_id: int, audience: str) -> None:
        """Send one item's deletion and record it (or record why it was not sent); frees its slot.
        An item that cannot be sent now (a stop, the database away) stays pending."""
        try:
            # A pause (a 429 or 503 seen by another thread) is waited out before the item starts, so
            # that its deadline begins after it; a stop during the wait leaves the item pending.
            gate = self.client.gate
            if (gate is not None and gate.wait(self.why_not_send)) or self.why_not_send():
                return
            if self.refusal is not None:
                raise ValidationError(self.refusal)
            client = self.client.with_version(self.version) if self.version else self.client
            if self.resolve_each and isinstance(self.client, batch.MepClient) and self.credentials is not None:
                preview = services.mep_resolve(self.client, self.credentials, audience, self.job.app)
                if preview.choose_version and preview.exists is not None:  # in both, or one could not be asked
                    self.skip(item_id, wording.BULK_VERSION_UNDECIDED)
                    return
                client = self.client.with_version(preview.version or batch.mep.DEFAULT_VERSION)
            services.audience_delete_prechecked(
                actor=self.job.created_by,
                app=self.job.app,
                name=audience,
                ip=None,
                source=AuditEvent.Source.BULK,
                client=client,
                details={"job": self.job_id},
                credentials=self.credentials,
                bulk_item=services.BulkItemRef(item_id=item_id, runner=self.runner),
            )
        except services.LeaseLost:
            self.halt("lease_lost")
        except (ValidationError, PermissionDenied) as exc:  # the app was archived or access withdrawn
            self.skip(item_id, wording.bulk_item_not_attempted(getattr(exc, "messages", [str(exc)])))
        except DatabaseError:  # the request could not be recorded, so it was not sent: tried again later
            logger.warning("Bulk job %s: the database failed before audience %s was sent", self.job_id, audience)
            if _database_answers():  # not an outage (that is waited out): this item's request
                self.unrecorded[item_id] = self.unrecorded.get(item_id, 0) + 1
                if self.unrecorded[item_id] >= self.record_tries:
                    self.skip(item_id, wording.NOT_RECORDED)
            else:
                time.sleep(1.0)  # an outage: the item waits, and so does this thread
        finally:
            with self.hand_lock:
                self.in_hand.discard(item_id)
            self.slots.release()

    def skip(self, item_id: int, message: str) -> None:
        BulkItem.objects.filter(pk=item_id, state=BulkItem.State.PENDING, job__runner=self.runner).update(
            state=BulkItem.State.SKIPPED, message=message, finished_at=Now(), seq=F("position") + 1
        )

    def close_interrupted_items(self) -> None:
        """Items left running by a run that died or lost the job: as the audit says; ``unknown`` if
        nothing was recorded (never sent again: Batch may have deleted them)."""
        for item_id, attempt in self.job.items.filter(state=BulkItem.State.RUNNING).values_list("pk", "attempt"):
            requested = AuditEvent.objects.filter(kind=AuditEvent.Kind.DELETE_REQUESTED, attempt=attempt).first()
            if requested is None:  # cannot happen (both commit together); nothing was sent
                BulkItem.objects.filter(pk=item_id, job__runner=self.runner).update(state=BulkItem.State.PENDING)
            else:
                services.attempt_close_interrupted(requested, runner=self.runner)


def _database_answers() -> bool:
    connection.close()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return False
    return True
