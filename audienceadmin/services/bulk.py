"""Bulk jobs: creating one (its items, its audit event, its task), cancelling it, and queueing again
the jobs whose worker died. The job itself runs in ``audienceadmin.bulk_runner``."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Now
from django.utils import timezone

from audienceadmin import dbclock, selectors, tasks, wording
from audienceadmin.models import AuditEvent, BatchApp, BulkItem, BulkJob, DeletionRequest
from audienceadmin.names import bulk_names_check
from audienceadmin.services.approval_gate import MAY_SEND, ApprovalRequired, approval_needed
from audienceadmin.services.events import app_event_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def bulk_job_create(
    *,
    actor: User,
    app: BatchApp,
    names: list[str],
    ip: str | None = None,
    retry_of: BulkJob | None = None,
    approval: DeletionRequest | None = None,
) -> BulkJob:
    """Queue a bulk job. ``retry_of``: the ended job of the same app whose failed and not-attempted
    items this retries. In an app under the two-person rule, only for ``approval``, a bulk request
    being approved (or broken glass) in the caller's transaction (``services.approvals``);
    otherwise ``ApprovalRequired`` and nothing is queued."""
    if not selectors.may_delete_in(app, actor):
        raise PermissionDenied(wording.MAY_NOT_DELETE)
    if retry_of is not None and (retry_of.app_id != app.pk or retry_of.is_active):
        raise ValidationError(wording.RETRY_NOT_ENDED)
    if approval_needed(app) and not (
        approval is not None
        and approval.app_id == app.pk
        and approval.bulk
        and approval.bulk_job_id is None
        and approval.state in MAY_SEND
        and DeletionRequest.objects.filter(pk=approval.pk, state__in=MAY_SEND, bulk_job__isnull=True).exists()
    ):
        raise ApprovalRequired(wording.APPROVAL_REQUIRED)
    report = bulk_names_check("\n".join(names))
    if report.invalid or not report.valid or report.too_many:
        raise ValidationError(wording.BULK_LIST_INVALID)
    with transaction.atomic():
        job = BulkJob.objects.create(
            app=app, created_by=actor, concurrency=max(1, settings.BULK_CONCURRENCY), retry_of=retry_of
        )
        BulkItem.objects.bulk_create(
            BulkItem(job=job, position=i, audience=name) for i, name in enumerate(report.valid)
        )
        size = wording.bulk_job_size(len(report.valid))
        _audit_job(
            AuditEvent.Kind.BULK_QUEUED,
            actor=actor,
            job=job,
            ip=ip,
            message=wording.bulk_job_retry(size, retry_of.pk) if retry_of else size,
            details={"retry_of": retry_of.pk} if retry_of else None,
        )
        transaction.on_commit(lambda: tasks.bulk_job_task.enqueue(job_id=job.pk))
    return job


def bulk_job_cancel(*, actor: User, job: BulkJob, ip: str | None = None) -> BulkJob:
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
            bulk_items_skip_pending(job)
    job.refresh_from_db()
    return job


def bulk_items_skip_pending(job: BulkJob, *, message: str = "") -> None:
    """The items never started, once the job has ended (no run sends any more): not attempted. Their
    ``seq`` follows every other change, so the live page's last poll shows them too."""
    base = job.items.aggregate(last=Max("seq"))["last"] or 0
    job.items.filter(state=BulkItem.State.PENDING).update(
        state=BulkItem.State.SKIPPED, message=message, finished_at=Now(), seq=base + 1 + F("position")
    )


def _audit_job(
    kind: str, *, actor: User, job: BulkJob, ip: str | None, message: str = "", details: dict[str, int] | None = None
) -> None:
    text = wording.bulk_job_event(job.pk, message)
    app_event_record(kind, actor=actor, app=job.app, ip=ip, message=text, details={"job": job.pk} | (details or {}))


def bulk_jobs_resume() -> int:
    """Queue a new run for each job whose run died: running under a lease that has passed, or queued
    for longer than a lease with no run to take it (its task was lost with its worker). Once per
    such state, whichever worker's janitor sees it first (by the database's clock). Returns how many."""
    from audienceadmin.bulk_runner import lease_seconds

    lease = timedelta(seconds=lease_seconds())
    now = dbclock.DbNow()
    orphaned = Q(state=BulkJob.State.RUNNING) & (Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    orphaned |= Q(state=BulkJob.State.QUEUED, created_at__lt=now - lease)
    not_queued_yet = (
        Q(resume_queued_at__isnull=True)
        | Q(resume_queued_at__lt=F("lease_until"))
        | Q(resume_queued_at__lt=now - lease)
    )
    count = 0
    for pk in BulkJob.objects.filter(orphaned & not_queued_yet).values_list("pk", flat=True):
        if BulkJob.objects.filter(orphaned & not_queued_yet, pk=pk).update(resume_queued_at=now):
            tasks.bulk_job_task.enqueue(job_id=pk)
            count += 1
    return count
