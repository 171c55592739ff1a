"""A CEP project's request rate (``BATCH_PROJECT_RATE`` a second; Batch's default is said to be 1/s
per project key), kept in the database so that every thread, worker and web instance shares it: each
request takes the next free slot in a locked row, then waits for it. A bulk job in a project paces
itself instead of tripping 429s."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest

from audienceadmin import batch, dbclock
from audienceadmin.models import BatchApp, ProjectPace


def project_interval() -> float:
    """Seconds between two requests to one project (0: no pacing)."""
    rate = float(settings.BATCH_PROJECT_RATE)
    return 1.0 / rate if rate > 0 else 0.0


def expected_seconds(app: BatchApp, requests: int) -> float | None:
    """How long ``requests`` take at the project's pace (None: not a paced CEP project)."""
    interval = project_interval()
    return requests * interval if app.kind == batch.CEP and interval else None


def _take_slot(app_id: int, interval: timedelta, *, again: bool = True) -> float:
    """Reserve the project's next slot in one UPDATE (the row is locked until the commit, on both
    databases); the seconds to wait for it."""
    with transaction.atomic():
        later = Greatest(F("next_at"), dbclock.DbNow()) + interval
        if not ProjectPace.objects.filter(app_id=app_id).update(next_at=later):
            try:
                with transaction.atomic():
                    ProjectPace.objects.create(app_id=app_id, next_at=dbclock.db_now() + interval)
                return 0.0
            except IntegrityError:  # another instance created it first
                if again:
                    return _take_slot(app_id, interval, again=False)
                raise
        next_at = ProjectPace.objects.values_list("next_at", flat=True).get(app_id=app_id)
        now = dbclock.db_now()
    return max(0.0, (next_at - interval - now).total_seconds())


def project_pacer(app: BatchApp) -> Callable[[], None] | None:
    """What a CEP project's client calls before each request (None: an MEP app, or pacing off)."""
    interval = project_interval()
    if app.kind != batch.CEP or not interval:
        return None
    step, app_id = timedelta(seconds=interval), app.pk

    def wait_for_slot() -> None:
        delay = _take_slot(app_id, step)
        if delay > 0:
            time.sleep(delay)

    return wait_for_slot
