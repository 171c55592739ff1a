"""Audit records that must wait for the database to come back.

When the database fails just as an attempt is recorded, what is true is known here and nowhere else:
Batch's answer to a call that was made, or that no call was made. This process keeps retrying to
write it (a daemon thread, every second or two, for ``LATE_RECORD_WINDOW`` seconds), so the audit says
what happened rather than "interrupted". Should this process die first, the sweep closes the attempt
as *unknown* later: then only the log line written here says more.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction

from audienceadmin import wording
from audienceadmin.models import AuditEvent, BulkItem

if TYPE_CHECKING:
    from audienceadmin.services.deletion import BulkItemRef

logger = logging.getLogger("audienceadmin.services")
Kind = AuditEvent.Kind

_pending: queue.Queue[tuple[int, float, str, Callable[[], None]]] = queue.Queue()
_thread: threading.Thread | None = None
_lock = threading.Lock()
_outstanding = 0  # submitted and not yet written or given up
_generation = 0  # ``forget_all`` drops everything submitted before it


def complete_later(common: dict[str, Any], bulk_item: BulkItemRef | None, outcome: dict[str, Any]) -> None:
    """Batch answered, the *completed* event could not be written: write it once the database is back."""
    from audienceadmin.services.deletion import complete

    def write() -> None:
        written = complete(common, bulk_item, late=False, **outcome)
        if (
            not written
            and not AuditEvent.objects.filter(attempt=common["attempt"], kind=Kind.DELETE_COMPLETED).exists()
        ):
            raise DatabaseError("not written yet")

    _submit(f"the outcome of attempt {common['attempt']}", write)


def settle_unsent(common: dict[str, Any], bulk_item: BulkItemRef | None) -> None:
    """The *requested* event's transaction failed, so nothing was sent. Had it been committed all the
    same (the commit reached the database, its answer did not), its attempt gets a *not sent*
    completion, and its bulk item goes back to waiting (nothing reached Batch: safe to send later)."""

    def settle() -> None:
        with transaction.atomic():
            events = set(AuditEvent.objects.filter(attempt=common["attempt"]).values_list("kind", flat=True))
            if Kind.DELETE_REQUESTED not in events or Kind.DELETE_COMPLETED in events:
                return  # never recorded (nothing to say), or closed already
            AuditEvent.objects.create(
                kind=Kind.DELETE_COMPLETED,
                outcome=AuditEvent.Outcome.NOT_SENT,
                message=wording.NOT_SENT_DATABASE,
                **common,
            )
            if bulk_item is not None:
                BulkItem.objects.filter(pk=bulk_item.item_id, job__runner=bulk_item.runner).update(
                    state=BulkItem.State.PENDING, attempt=None
                )

    _submit(f"attempt {common['attempt']} (not sent)", settle)


def _submit(what: str, write: Callable[[], None]) -> None:
    global _thread, _outstanding
    with _lock:
        _outstanding += 1
        _pending.put((_generation, time.monotonic() + settings.LATE_RECORD_WINDOW, what, write))
        if _thread is None:
            _thread = threading.Thread(target=_run, name="audit-late-records", daemon=True)
            _thread.start()


def _run() -> None:
    global _thread, _outstanding
    waiting: list[tuple[int, float, str, Callable[[], None]]] = []
    while True:
        while True:  # take everything submitted meanwhile
            try:
                waiting.append(_pending.get(timeout=0.0 if waiting else 5.0))
            except queue.Empty:
                break
        if not waiting:
            with _lock:
                if _pending.empty():
                    _thread = None
                    return
            continue
        time.sleep(1.0)
        still = []
        for entry in waiting:
            if entry[0] == _generation and _try(*entry[1:]):
                still.append(entry)
            else:
                with _lock:
                    _outstanding -= 1
        waiting = still
        connection.close()


def _try(until: float, what: str, write: Callable[[], None]) -> bool:
    """One try at a late record; True to try again later."""
    close_old_connections()
    try:
        write()
    except IntegrityError:
        logger.warning("Late record of %s: already closed meanwhile (by the sweep or a new run)", what)
    except DatabaseError:
        if time.monotonic() < until:
            return True
        logger.error("Gave up recording %s: the database stayed unavailable", what)
    else:
        logger.info("Recorded %s once the database was back", what)
    return False


def outstanding() -> int:
    """Records still waiting for the database (tests, and a worker's shutdown)."""
    with _lock:
        return _outstanding


def forget_all() -> None:
    """Drop every record still waiting (tests: a test's database is gone once it ends)."""
    global _generation, _outstanding
    with _lock:
        _generation += 1
        _outstanding = 0
