"""Reads about bulk jobs: the jobs a user may follow, a job's progress and items, its results."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Max, Q, QuerySet

from audienceadmin import wording
from audienceadmin.models import AuditEvent, BulkItem, BulkJob
from audienceadmin.selectors.apps import apps_open_to

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def bulk_jobs_for(*, user: User) -> QuerySet[BulkJob]:
    """The bulk jobs a user may follow: those of apps open to them (archived since or not)."""
    return BulkJob.objects.filter(app__in=apps_open_to(user)).select_related("app", "created_by", "cancelled_by")


def _outcome_counts() -> dict[str, Count]:
    """Items per outcome, and the 404 rejections apart ("not found"; ``rejected`` counts them too)."""
    counts = {o: Count("items", filter=Q(items__outcome=o)) for o in AuditEvent.Outcome.values}
    counts["not_found"] = Count("items", filter=Q(items__outcome=AuditEvent.Outcome.REJECTED, items__http_status=404))
    counts["skipped"] = Count("items", filter=Q(items__state=BulkItem.State.SKIPPED))
    return counts


def bulk_jobs_recent(*, user: User, limit: int = 20) -> list[BulkJob]:
    """The latest jobs, each with ``summary``: its items per outcome in words ("18 deleted · 2 not found")."""
    jobs = list(bulk_jobs_for(user=user).order_by("-id").annotate(**_outcome_counts())[:limit])
    for job in jobs:
        counts = {k: getattr(job, k) for k in _outcome_counts()}
        counts["rejected"] -= counts["not_found"]
        job.summary = wording.outcome_counts(counts)  # type: ignore[attr-defined]
    return jobs


def bulk_jobs_active(*, user: User) -> QuerySet[BulkJob]:
    return bulk_jobs_for(user=user).filter(state__in=[BulkJob.State.QUEUED, BulkJob.State.RUNNING])[:10]


@dataclass(frozen=True)
class Progress:
    state: str
    state_label: str
    total: int
    done: int
    deleted: int
    rejected: int
    not_found: int
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
        """What was done: a cancelled job's bar stops where it stopped (items not attempted are not done)."""
        return round(100 * self.done / self.total) if self.total else 100

    @property
    def summary(self) -> str:
        return wording.outcome_counts(dataclasses.asdict(self))


def bulk_job_progress(job: BulkJob) -> Progress:
    counts = job.items.aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(state=BulkItem.State.DONE)),
        skipped=Count("id", filter=Q(state=BulkItem.State.SKIPPED)),
        running=Count("id", filter=Q(state=BulkItem.State.RUNNING)),
        **{o: Count("id", filter=Q(outcome=o)) for o in AuditEvent.Outcome.values},
        not_found=Count("id", filter=Q(outcome=AuditEvent.Outcome.REJECTED, http_status=404)),
    )
    counts["rejected"] -= counts["not_found"]
    label = job.get_state_display()
    if job.cancel_requested and job.is_active:
        label += wording.CANCELLING
    return Progress(state=job.state, state_label=label, **counts)


def bulk_job_items(job: BulkJob) -> QuerySet[BulkItem]:
    """The job's items, in the order they were listed."""
    return job.items.order_by("position")


def bulk_job_cursor(job: BulkJob) -> int:
    """Where the job's changes stand: the live page asks for what changed after this."""
    return job.items.aggregate(cursor=Max("seq"))["cursor"] or 0


def bulk_items_changed(job: BulkJob, *, since: int, limit: int = 500) -> tuple[list[dict[str, Any]], int, bool]:
    """The items changed after cursor ``since`` (in the order they changed, labels included), the new
    cursor, and whether more changes are waiting: a poll costs what changed, not the whole job."""
    states, outcomes = dict(BulkItem.State.choices), dict(AuditEvent.Outcome.choices)
    rows = list(
        job.items.filter(seq__gt=since)
        .order_by("seq")
        .values_list("seq", "position", "state", "outcome", "http_status", "error_name", "message")[: limit + 1]
    )
    items = [
        {
            "position": p,
            "state": st,
            "outcome": o,
            "label": outcomes.get(o) or states[st],
            "http_status": status,
            "answer": wording.answer_label(status, error),
            "message": m,
        }
        for _seq, p, st, o, status, error, m in rows[:limit]
    ]
    cursor = rows[:limit][-1][0] if rows else since
    return items, cursor, len(rows) > limit


# What "Retry the failed and not-attempted items" takes again: failures, what was never sent or never
# started, and rejections that may pass next time (keys fixed, rate limit over). Never a deletion, a
# 404 (nothing left to delete), another rejection (it would be refused again), nor, unless the operator
# ticks it, an unknown outcome (Batch may have deleted it).
RETRY_REJECTED_STATUSES = (401, 403, 429)


def bulk_job_retry_items(job: BulkJob) -> tuple[list[str], list[str]]:
    """The names a retry of ``job`` takes (in the job's order), and its unknown ones (offered, unticked)."""
    outcome = AuditEvent.Outcome
    again = (
        Q(state__in=[BulkItem.State.SKIPPED, BulkItem.State.PENDING])
        | Q(outcome__in=[outcome.FAILED, outcome.NOT_SENT])
        | Q(outcome=outcome.REJECTED, http_status__in=RETRY_REJECTED_STATUSES)
    )
    items = bulk_job_items(job)
    names = list(items.filter(again).values_list("audience", flat=True))
    return names, list(items.filter(outcome=outcome.UNKNOWN).values_list("audience", flat=True))


RESULTS_FIELDS = ("position", "audience", "state", "outcome", "http_status", "error_name", "message", "attempt")
# The CSV's columns: the item's fields, then the outcome in words ("Not found (already deleted?)" for a 404).
RESULTS_COLUMNS = (*RESULTS_FIELDS, "result")


def bulk_job_results_rows(job: BulkJob) -> Iterator[tuple[Any, ...]]:
    """The job's items and outcomes, for its results CSV (read in chunks: constant memory)."""
    labels = dict(AuditEvent.Outcome.choices) | dict(BulkItem.State.choices)
    rows = bulk_job_items(job).values_list(*RESULTS_FIELDS).iterator(chunk_size=1000)
    for position, audience, state, outcome, http_status, error_name, message, attempt in rows:
        _kind, result = wording.outcome_shown(outcome, http_status, labels.get(outcome or state, state))
        yield (position + 1, audience, state, outcome, http_status or "", error_name, message, attempt or "", result)
