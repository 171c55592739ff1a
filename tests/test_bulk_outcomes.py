"""A bulk job's outcomes as people read them: a 404 is "Not found (already deleted?)" (neutral, and
still a rejection in the audit), a cancelled job's bar shows what was done, the jobs list counts per
outcome, and an ended job can be retried (a new job linked to it, through the same review)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from audienceadmin import selectors, services
from audienceadmin.models import AuditEvent, BulkItem, BulkJob

pytestmark = pytest.mark.django_db
Outcome = AuditEvent.Outcome


@pytest.fixture
def web(operator, batch_url):
    client = Client()
    client.force_login(operator)
    return client


def _csv(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def _end(job: BulkJob, outcomes: dict[str, tuple[str, int | None]], state: str = BulkJob.State.DONE) -> None:
    """What a run leaves: each named item with its outcome and status, the others not attempted."""
    for name, (outcome, status) in outcomes.items():
        job.items.filter(audience=name).update(state=BulkItem.State.DONE, outcome=outcome, http_status=status)
    job.items.filter(state=BulkItem.State.PENDING).update(state=BulkItem.State.SKIPPED)
    BulkJob.objects.filter(pk=job.pk).update(state=state)
    job.refresh_from_db()


@pytest.mark.django_db(transaction=True)
def test_a_404_reads_not_found_in_a_neutral_colour_and_stays_a_rejection_in_the_audit(
    web, operator, batch_app, fast_client
):
    job = services.bulk_job_create(actor=operator, app=batch_app, names=["beta", "gone-already"])
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay")

    completed = AuditEvent.objects.get(kind="delete_completed", audience="gone-already")
    assert (completed.outcome, completed.http_status) == (Outcome.REJECTED, 404)  # truthful: not "deleted"

    page = web.get(reverse("bulk_job", args=[job.pk])).content.decode()
    row = re.search(r"<code>gone-already</code>.*?</tr>", page, re.S).group(0)
    assert '<span class="outcome outcome-not_found">Not found (already deleted?)</span>' in row
    assert "outcome-rejected" not in row
    assert "1 deleted · 1 not found" in page

    data = web.get(reverse("bulk_job_progress", args=[job.pk])).json()
    assert (data["not_found"], data["rejected"]) == (1, 0)
    badges = {i["position"]: i["badge"] for i in data["items"]}
    assert "outcome-not_found" in badges[1]

    results = {r["audience"]: r for r in _csv(web.get(reverse("bulk_job_results", args=[job.pk])))}
    assert results["gone-already"]["outcome"] == "rejected" and results["gone-already"]["http_status"] == "404"
    assert results["gone-already"]["result"] == "Not found (already deleted?)"
    assert results["beta"]["result"] == "Deleted"

    history = web.get(reverse("history")).content.decode()
    assert "Not found (already deleted?)" in history and "outcome-not_found" in history
    exported = _csv(web.get(reverse("history_export")))
    done = [r for r in exported if r["audience"] == "gone-already" and r["kind"] == "delete_completed"]
    assert [(r["outcome"], r["result"]) == ("rejected", "Not found (already deleted?)") for r in done] == [True]


def test_the_jobs_list_counts_outcomes_and_a_cancelled_bar_shows_what_was_done(web, operator, batch_app, many):
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many)
    done = dict.fromkeys(many[:5], (Outcome.DELETED, 200)) | {many[5]: (Outcome.REJECTED, 404)}
    _end(job, done | {many[6]: (Outcome.FAILED, 503)}, state=BulkJob.State.CANCELLED)

    listing = web.get(reverse("bulk_new")).content.decode()
    assert "5 deleted · 1 not found · 1 failed · 13 not attempted" in listing

    progress = selectors.bulk_job_progress(job)
    assert progress.percent == 35  # 7 of 20 done, not 100 %
    page = web.get(reverse("bulk_job", args=[job.pk])).content.decode()
    assert 'class="state-cancelled" max="100" value="35"' in page and "35% done" in page
    assert "Cancel</button>" not in page  # no Cancel once the job has ended
    assert '<p id="job-summary" aria-live="polite">5 deleted · 1 not found · 1 failed · 13 not attempted</p>' in page


def test_retry_takes_failed_and_not_attempted_items_but_unknown_ones_only_when_ticked(
    web, operator, batch_app, many, simulator
):
    first = services.bulk_job_create(actor=operator, app=batch_app, names=many[:8])
    _end(
        first,
        {
            many[0]: (Outcome.DELETED, 200),
            many[1]: (Outcome.REJECTED, 404),
            many[2]: (Outcome.FAILED, 503),
            many[3]: (Outcome.UNKNOWN, None),
            many[4]: (Outcome.REJECTED, 401),
            many[5]: (Outcome.REJECTED, 400),
        },
        state=BulkJob.State.CANCELLED,
    )  # many[6], many[7]: not attempted
    page = web.get(reverse("bulk_job", args=[first.pk])).content.decode()
    assert "Retry the failed and not-attempted items" in page
    assert f'<input type="checkbox" name="unknown" value="{many[3]}">' in page  # offered, not ticked

    review = web.get(reverse("bulk_job_retry", args=[first.pk])).content.decode()
    sent = re.search(r'name="names" value="([^"]*)"', review).group(1).split("\n")
    assert sent == [many[2], many[4], many[6], many[7]]
    assert f'A retry of <a href="{reverse("bulk_job", args=[first.pk])}">bulk job {first.pk}</a>' in review
    assert f'name="retry_of" value="{first.pk}"' in review

    ticked = web.get(reverse("bulk_job_retry", args=[first.pk]), {"unknown": [many[3], "not-an-item"]})
    sent = re.search(r'name="names" value="([^"]*)"', ticked.content.decode()).group(1).split("\n")
    assert sent == [many[2], many[4], many[6], many[7], many[3]]

    response = web.post(
        reverse("bulk_confirm"),
        {"app": batch_app.pk, "names": "\n".join(sent), "count": 5, "retry_of": first.pk},
    )
    second = BulkJob.objects.exclude(pk=first.pk).get()
    assert response.url == reverse("bulk_job", args=[second.pk])
    assert second.retry_of == first and second.items.count() == 5
    queued = AuditEvent.objects.filter(kind="bulk_queued").latest("id")
    assert queued.details == {"job": second.pk, "retry_of": first.pk}
    assert f"a retry of bulk job {first.pk}" in queued.message
    assert f'Retried as <a href="{reverse("bulk_job", args=[second.pk])}">bulk job {second.pk}</a>' in (
        web.get(reverse("bulk_job", args=[first.pk])).content.decode()
    )
    assert f'A retry of <a href="{reverse("bulk_job", args=[first.pk])}">bulk job {first.pk}</a>' in (
        web.get(reverse("bulk_job", args=[second.pk])).content.decode()
    )


def test_a_running_job_offers_no_retry_and_nothing_left_says_so(web, operator, batch_app, many):
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many[:2])
    assert "Retry the failed" not in web.get(reverse("bulk_job", args=[job.pk])).content.decode()
    assert web.get(reverse("bulk_job_retry", args=[job.pk])).url == reverse("bulk_job", args=[job.pk])
    _end(job, {many[0]: (Outcome.DELETED, 200), many[1]: (Outcome.REJECTED, 404)})
    page = web.get(reverse("bulk_job_retry", args=[job.pk]), follow=True).content.decode()
    assert "Nothing to retry" in page and BulkJob.objects.count() == 1
