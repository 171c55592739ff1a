"""`manage.py worker`: the background task worker (bulk deletion), made to survive what workers meet.

It is django-tasks-db's ``db_worker`` loop, plus:

* **the database going away** (a restart, a failover, a full disk): the worker logs it, waits with
  backoff and carries on, instead of exiting; a bulk job it runs keeps its lease meanwhile;
* **a janitor thread**: every few seconds it queues a new run for the bulk jobs whose run died (lease
  passed), a check for each CEP removal whose follow-up is due, closes the deletion requests that
  expired, sends the notifications due (with retries) and sweeps interrupted attempts, so nothing
  waits for a page view or a command;
* **SIGTERM**: no new call to Batch starts, calls in flight finish and are recorded, the running job
  is given back (another worker takes it at once), then the process exits.

Run one or more, under a supervisor that restarts a worker that exits (README: Deploying).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from types import FrameType
from typing import Any

from django.db import DatabaseError, close_old_connections, connection
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker

from audienceadmin import bulk_runner, services
from audienceadmin.batch import refuse_new_calls

logger = logging.getLogger("audienceadmin.worker")
SWEEP_EVERY = 60.0  # seconds between sweeps of interrupted attempts


class ResilientWorker(Worker):
    """db_worker's loop, restarted with backoff when the database fails instead of exiting."""

    def run(self) -> None:
        failures = 0
        while self.running:
            try:
                super().run()
                return  # --batch or --max-tasks: done
            except DatabaseError as exc:
                failures += 1
                wait = min(0.5 * 2 ** min(failures, 5), 10.0)
                logger.warning("Worker: the database failed (%s); trying again in %.1f s", type(exc).__name__, wait)
                close_old_connections()
                connection.close()
                time.sleep(wait)
                self.startup_delay = False

    def shutdown(self, signum: int, frame: FrameType | None) -> None:
        refuse_new_calls()  # no new call to Batch; those in flight finish
        bulk_runner.stop_runs()  # the running job stops handing items out and is given back
        super().shutdown(signum, frame)


def janitor(stop: threading.Event, sweep_every: float = SWEEP_EVERY) -> None:
    """Queue a run for orphaned bulk jobs (as often as a lease is renewed); sweep interrupted
    attempts. Never dies of a database error."""
    every = bulk_runner.renew_every()
    last_sweep = 0.0
    while not stop.wait(every):
        try:
            resumed = services.bulk_jobs_resume()
            if resumed:
                logger.info("Janitor: queued a new run for %d bulk job(s) whose run had stopped", resumed)
            services.removal_checks_queue()  # CEP removals due for a look
            # The two-person rule: requests nobody decided in time are closed; notifications go out.
            expired = services.requests_expire()
            if expired:
                logger.info("Janitor: %d deletion request(s) expired", expired)
            services.notifications_send()
            if time.monotonic() - last_sweep >= sweep_every:
                last_sweep = time.monotonic()
                services.attempts_sweep(window=timedelta(days=1))
        except DatabaseError as exc:
            logger.warning("Janitor: the database failed (%s); trying again later", type(exc).__name__)
        finally:
            connection.close()


class Command(DbWorkerCommand):
    help = (
        "Run a background task worker (bulk deletion) that rides out database outages, resumes the "
        "jobs of dead workers by itself and shuts down cleanly on SIGTERM."
    )

    def handle(  # the upstream options; --reload is ignored (see below)
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        **options: Any,
    ) -> None:
        # No autoreload, whatever --reload says: a reloader keeps the process of a dead worker alive,
        # so nothing would restart it.
        self.configure_logging(verbosity)
        worker = ResilientWorker(
            queue_names=queue_name.split(","),
            interval=interval,
            batch=batch,
            backend_name=backend_name,
            startup_delay=startup_delay,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=exclude_queues.split(",") if exclude_queues else [],
        )
        stop = threading.Event()
        threading.Thread(target=janitor, args=(stop,), name="worker-janitor", daemon=True).start()
        worker.configure_signals()
        try:
            worker.run()
        finally:
            stop.set()
