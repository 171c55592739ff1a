"""Bulk deletion: the list check, the job, its audit, cancelling, recovery after a crash; the browser and preview."""

from __future__ import annotations

import csv
import io
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import OperationalError
from django.db.backends.signals import connection_created
from django.test import Client
from django.urls import reverse

from audienceadmin import bulk_runner, names, roles, selectors, services, wording
from audienceadmin.models import AuditEvent, BulkItem, BulkJob
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
Outcome = AuditEvent.Outcome


@pytest.fixture
def web(operator):
    client = Client()
    client.force_login(operator)
    return client


def test_the_list_check_reports_invalid_names_and_duplicates():
    report = names.bulk_names_check("a\nb, c\n\n b \nbad name\n" + "x" * 256 + '\na;d\n"e"')
    assert report.valid == ["a", "b", "c", "d", "e"]
    assert report.duplicates == ["b", "a"]
    assert [why for _, why in report.invalid] == ["has characters Batch does not allow", "longer than 255 characters"]
    assert names.bulk_names_check("a\nb\nc", limit=2).too_many


@pytest.mark.django_db(transaction=True)
def test_paste_review_confirm_run(web, operator, batch_app, many, fast_client, simulator, app_keys):
    simulator.add_fault(action="error", error="MAINTENANCE_ERROR", audience="old-03")
    text = "\n".join(many) + "\nold-01\nnever-existed"
    review = web.post(reverse("bulk_new"), {"app": batch_app.pk, "names": text})
    html = review.content.decode()
    # never-existed is not in Batch's list: it is listed and left out of the job
    assert "Delete 20 audiences" in html and "1</strong> duplicate removed" in html
    assert "<code>never-existed</code>" in html and "1</strong> is not in Batch" in html
    assert [r.method for r in simulator.requests] == ["GET", "GET"]  # each version's list, once; nothing deleted

    wrong = web.post(
        reverse("bulk_confirm"), {"app": batch_app.pk, "names": "\n".join([*many, "never-existed"]), "count": 20}
    )
    assert wrong.status_code == 400 and "not the number of audiences in the list (21)" in wrong.content.decode()
    done = web.post(
        reverse("bulk_confirm"), {"app": batch_app.pk, "names": "\n".join([*many, "never-existed"]), "count": 21}
    )
    job = BulkJob.objects.get()
    assert done.url == reverse("bulk_job", args=[job.pk])
    assert job.state == BulkJob.State.QUEUED and job.items.count() == 21

    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay")  # the real worker, until idle

    job.refresh_from_db()
    assert job.state == BulkJob.State.DONE
    progress = selectors.bulk_job_progress(job)
    # never-existed: a 404, counted as "not found" (not among the rejections)
    assert (progress.deleted, progress.failed, progress.rejected, progress.not_found) == (19, 1, 0, 1)
    assert (progress.remaining, progress.percent) == (0, 100)
    assert sorted(simulator.audience_names(app_keys.api_key)) == ["beta", "churned_q3", "old-03", "spring-sale"]
    # every item audited exactly like a single delete, plus the job id
    requested = AuditEvent.objects.filter(kind="delete_requested")
    expected = {"job": job.pk, "api": "mep", "version": "1.1"}
    assert requested.count() == 21 and all(e.details == expected for e in requested)
    assert set(requested.values_list("source", flat=True)) == {"bulk"}
    completed = AuditEvent.objects.filter(kind="delete_completed")
    assert completed.count() == 21
    assert set(completed.values_list("outcome", flat=True)) == {"deleted", "failed", "rejected"}
    assert AuditEvent.objects.filter(kind="delete_completed", outcome="deleted").count() == 19

    page = web.get(reverse("bulk_job", args=[job.pk])).content.decode()
    assert "Finished" in page and "bulk.js" in page
    data = web.get(reverse("bulk_job_progress", args=[job.pk])).json()
    assert (data["percent"], data["deleted"], data["state"]) == (100, 19, "done")
    assert len(data["items"]) == 21
    rows = list(
        csv.DictReader(
            io.StringIO(b"".join(web.get(reverse("bulk_job_results", args=[job.pk])).streaming_content).decode())
        )
    )
    assert [r["audience"] for r in rows] == [*many, "never-existed"]
    assert {r["outcome"] for r in rows} == {"deleted", "failed", "rejected"}


def test_a_file_can_be_uploaded(web, batch_app):
    upload = SimpleUploadedFile("names.txt", b"beta\r\nspring-sale,churned_q3\r\n", content_type="text/plain")
    html = web.post(reverse("bulk_new"), {"app": batch_app.pk, "names": "", "file": upload}).content.decode()
    assert "Delete 3 audiences" in html
    bad = SimpleUploadedFile("names.pdf", b"%PDF", content_type="application/pdf")
    assert (
        "Upload a .txt or .csv file"
        in web.post(reverse("bulk_new"), {"app": batch_app.pk, "file": bad}).content.decode()
    )


def test_invalid_names_block_the_job_and_the_list_is_kept_to_fix(web, batch_app, settings):
    html = web.post(reverse("bulk_new"), {"app": batch_app.pk, "names": "good\nbad name\nother"}).content.decode()
    assert "Start deleting" not in html
    assert "Fix or remove these names: Batch would refuse them." in html
    assert "“bad name”: has characters Batch does not allow." in html
    assert "good\nbad name\nother</textarea>" in html  # nothing to type again

    upload = SimpleUploadedFile("names.txt", b"first\nsec ond\n", content_type="text/plain")
    html = web.post(reverse("bulk_new"), {"app": batch_app.pk, "names": "typed", "file": upload}).content.decode()
    assert "“sec ond”" in html and "typed\nfirst\nsec ond\n</textarea>" in html  # the file's names, in the box

    settings.BULK_MAX_ITEMS = 2
    html = web.post(reverse("bulk_new"), {"app": batch_app.pk, "names": "a\nb\nc"}).content.decode()
    assert "3 names: at most 2 per job. Split the list." in html and "Start deleting" not in html


@pytest.mark.django_db(transaction=True)
def test_a_429_pauses_every_thread_of_the_job(operator, batch_app, many, fast_client, fake_time, simulator, settings):
    settings.BULK_CONCURRENCY = 4
    simulator.add_fault(action="error", error="TOO_MANY_REQUESTS", retry_after="9", times=1)
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many)
    bulk_runner.bulk_job_run(job.pk)
    # The client honoured Retry-After (9 s waited at the job's gate, in slices that a cancel can interrupt).
    assert sum(fake_time.sleeps) >= 9.0 and max(fake_time.sleeps) <= 0.25
    assert selectors.bulk_job_progress(BulkJob.objects.get()).deleted == 20


@pytest.mark.django_db(transaction=True)
def test_bounded_concurrency(operator, batch_app, many, batch_url, simulator, settings):
    settings.BULK_CONCURRENCY = 3
    simulator.latency = 0.1
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many[:9])
    bulk_runner.bulk_job_run(job.pk)
    times = sorted(r.received_at for r in simulator.requests if r.method == "DELETE")
    in_flight = max(sum(1 for t in times if s <= t < s + 0.09) for s in times)  # received while one is in flight
    assert 2 <= in_flight <= 3  # several at once (not one at a time), never more than the job's concurrency


@pytest.mark.django_db(transaction=True)
def test_an_item_refused_by_a_stopping_run_waits_for_the_next_run(operator, batch_app, many, batch_url, simulator,
                                                                   monkeypatch):  # fmt: skip
    """A SIGTERM after an item's *requested* event, before its call: nothing is sent, the attempt says
    "not sent", and the item is pending again, so the run that takes the job over deletes it."""
    from audienceadmin import batch
    from audienceadmin.batch import transport
    from audienceadmin.services import deletion

    call_batch, stopped = deletion._call_batch, []

    def sigterm_first(name, client, credentials):
        if not stopped:
            stopped.append(name)
            batch.refuse_new_calls()  # what the worker's SIGTERM handler does
            bulk_runner.stop_runs()
        return call_batch(name, client, credentials)

    monkeypatch.setattr(deletion, "_call_batch", sigterm_first)
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many[:3])
    BulkJob.objects.filter(pk=job.pk).update(concurrency=1)
    try:
        assert bulk_runner.bulk_job_run(job.pk) == bulk_runner.RELEASED
    finally:
        transport.accept_calls_again()
        bulk_runner._shutting_down.clear()
    [refused] = stopped
    item = BulkItem.objects.get(job=job, audience=refused)
    assert (item.state, item.attempt) == (BulkItem.State.PENDING, None)
    completed = AuditEvent.objects.get(kind=AuditEvent.Kind.DELETE_COMPLETED, audience=refused)
    assert completed.outcome == AuditEvent.Outcome.NOT_SENT
    assert not [r for r in simulator.requests if r.method == "DELETE"]

    BulkJob.objects.filter(pk=job.pk).update(lease_until=None)
    bulk_runner.bulk_job_run(job.pk)  # the next run

    item.refresh_from_db()
    assert (item.state, item.outcome) == (BulkItem.State.DONE, AuditEvent.Outcome.DELETED)
    deletes = [r.path.rsplit("/", 1)[-1] for r in simulator.requests if r.method == "DELETE"]
    assert sorted(deletes) == sorted(many[:3])  # each once


def test_cancel_before_start_attempts_nothing(operator, batch_app, many, simulator):
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many)
    services.bulk_job_cancel(actor=operator, job=job)
    assert bulk_runner.bulk_job_run(job.pk).startswith("not claimed")
    job.refresh_from_db()
    assert job.state == BulkJob.State.CANCELLED
    assert selectors.bulk_job_progress(job).skipped == 20
    assert simulator.requests == []


@pytest.mark.django_db(transaction=True)
def test_cancel_mid_job_leaves_the_rest_unattempted(
    operator, batch_app, many, batch_url, simulator, settings, app_keys
):
    settings.BULK_CONCURRENCY = 1
    simulator.latency = 0.15
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many)
    runner = threading.Thread(target=bulk_runner.bulk_job_run, args=(job.pk,))
    runner.start()
    while BulkItem.objects.filter(job=job, state=BulkItem.State.DONE).count() < 2:
        time.sleep(0.02)
    services.bulk_job_cancel(actor=operator, job=job)
    runner.join(timeout=30)
    job.refresh_from_db()
    progress = selectors.bulk_job_progress(job)
    assert job.state == BulkJob.State.CANCELLED
    assert progress.skipped > 10 and progress.deleted + progress.skipped == 20
    deletes = [r for r in simulator.requests if r.method == "DELETE"]
    assert len(deletes) == progress.deleted  # nothing sent for the skipped ones
    assert AuditEvent.objects.filter(kind="delete_requested").count() == progress.deleted


@pytest.mark.django_db(transaction=True)
def test_a_crashed_run_is_resumed_and_in_flight_items_become_unknown(operator, batch_app, many, fast_client, simulator):
    from datetime import timedelta

    from django.utils import timezone

    job = services.bulk_job_create(actor=operator, app=batch_app, names=many[:5])
    # what a worker killed while deleting the second item leaves behind
    first, second = job.items.order_by("position")[:2]
    services.audience_delete(actor=operator, app=batch_app, name=first.audience, ip=None, details={"job": job.pk})
    BulkItem.objects.filter(pk=first.pk).update(state=BulkItem.State.DONE, outcome=Outcome.DELETED)
    in_flight = uuid.uuid4()
    AuditEvent.objects.create(
        kind="delete_requested",
        attempt=in_flight,
        actor=operator,
        actor_username="otto",
        app=batch_app,
        app_name=batch_app.name,
        audience=second.audience,
        details={"job": job.pk},
    )
    BulkItem.objects.filter(pk=second.pk).update(state=BulkItem.State.RUNNING, attempt=in_flight)
    BulkJob.objects.filter(pk=job.pk).update(
        state=BulkJob.State.RUNNING, runner="dead-run", lease_until=timezone.now() + timedelta(seconds=60)
    )
    assert bulk_runner.bulk_job_run(job.pk).startswith("not claimed")  # its lease holds: it may be alive
    assert services.bulk_jobs_resume() == 0

    BulkJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert services.bulk_jobs_resume() == 1
    bulk_runner.bulk_job_run(job.pk)
    second.refresh_from_db()
    assert (second.state, second.outcome) == (BulkItem.State.DONE, Outcome.UNKNOWN)
    assert second.message == "Interrupted: no answer recorded. " + wording.CHECK_UNKNOWN
    sent = [r.path.rsplit("/", 1)[1] for r in simulator.requests if r.method == "DELETE"]
    assert second.audience not in sent and sorted(sent) == [first.audience, *many[2:5]]
    closed = AuditEvent.objects.get(kind="delete_completed", attempt=second.attempt)
    assert closed.outcome == Outcome.UNKNOWN
    assert selectors.bulk_job_progress(BulkJob.objects.get()).deleted == 4


# --- the audience browser and the impact preview ------------------------------------------------------


def test_the_browser_lists_what_batch_has_newest_first(web, batch_app, many, fast_client):
    html = web.get(reverse("audience_browse", args=[batch_app.pk])).content.decode()
    assert html.index("old-19") < html.index("old-00")
    assert f"{reverse('audience_delete')}?app={batch_app.pk}&amp;name=old-19" in html
    older = web.get(reverse("audience_browse", args=[batch_app.pk]), {"from": 20}).content.decode()
    assert "spring-sale" in older and "old-19" not in older


def test_the_browser_shows_batchs_answer_on_failure(web, batch_app, simulator, fast_client):
    simulator.add_fault(action="error", error="AUTHENTICATION_INVALID")
    html = web.get(reverse("audience_browse", args=[batch_app.pk])).content.decode()
    assert "Could not list the audiences" in html and "AUTHENTICATION_INVALID" in html


def test_picking_in_the_browser_leads_to_the_bulk_review(web, batch_app, many, fast_client):
    html = web.post(reverse("bulk_new"), {"app": batch_app.pk, "picked": ["old-01", "old-02"]}).content.decode()
    assert "Delete 2 audiences" in html


def test_the_confirmation_shows_the_preview_and_the_audit_keeps_it(web, batch_app, simulator, app_keys, fast_client):
    simulator.add_audience(app_keys.api_key, "big-one", nb_ids=4242, type="custom_ids")
    page = web.get(reverse("audience_delete"), {"app": batch_app.pk, "name": "big-one"})
    html = page.content.decode()
    assert "<dd>4,242</dd>" in html and "custom_ids" in html and "APPLIED" in html
    updated = page.context["preview"].updated  # e.g. 2026-11-28T10:13:05: Batch gives no zone, shown as sent
    assert f'title="As Batch sent it ({updated});' in html and f">{updated[:16].replace('T', ' ')}</time>" in html
    assert 'Last updated <span class="muted small">(Batch time)</span>' in html
    web.post(
        reverse("audience_delete_confirm"),
        {"app": batch_app.pk, "name": "big-one", "confirm_name": "big-one", "ticket": page.context["ticket"]},
    )
    requested = AuditEvent.objects.get(kind="delete_requested", audience="big-one")
    assert requested.details["preview"]["nb_ids"] == 4242 and requested.details["preview"]["exists"] is True


def test_a_missing_audience_offers_no_delete_button(web, batch_app, fast_client):
    html = web.get(reverse("audience_delete"), {"app": batch_app.pk, "name": "nope"}).content.decode()
    assert "has no audience named" in html and "Delete this audience" not in html


def test_a_failed_preview_warns_and_still_allows_the_delete(web, batch_app, simulator, fast_client):
    simulator.add_fault(action="error", error="SERVER_ERROR", method="GET")
    html = web.get(reverse("audience_delete"), {"app": batch_app.pk, "name": "beta"}).content.decode()
    assert "Could not check the audience first" in html and "Delete this audience" in html


def test_a_tampered_confirmation_deletes_nothing(web, batch_app, fast_client, simulator):
    response = web.post(
        reverse("audience_delete_confirm"),
        {"app": batch_app.pk, "name": "beta", "confirm_name": "beta", "ticket": "forged"},
        follow=True,
    )
    assert "nothing was deleted" in response.content.decode()
    assert not AuditEvent.objects.filter(kind="delete_requested").exists()
    assert [r for r in simulator.requests if r.method == "DELETE"] == []


@pytest.mark.django_db(transaction=True)
def test_a_job_stops_when_the_app_is_archived(operator, keyadmin, batch_app, many, fast_client, simulator):
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many[:3])
    services.app_archive(actor=keyadmin, app=batch_app, ip=None)
    bulk_runner.bulk_job_run(job.pk)
    items = list(BulkItem.objects.filter(job=job).values_list("state", "message"))
    assert {state for state, _ in items} == {BulkItem.State.SKIPPED}
    assert all("was archived" in message for _, message in items)
    assert [r for r in simulator.requests if r.method == "DELETE"] == []


def test_jobs_of_an_app_restricted_to_others_are_not_found(
    web, operator, keyadmin, batch_app, many, django_user_model, role_groups
):
    """Following, downloading or cancelling someone else's job needs access to its app."""
    other = make_user(django_user_model, "olga", role_groups[roles.OPERATORS])
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many[:3])
    assert web.get(reverse("bulk_job", args=[job.pk])).status_code == 200
    services.app_update(
        actor=keyadmin, app=batch_app, ip=None, name=batch_app.name, api_key="", rest_api_key="",
        allowed_operators=[other],
    )  # fmt: skip
    for name, method in [
        ("bulk_job", web.get), ("bulk_job_progress", web.get), ("bulk_job_results", web.get),
        ("bulk_job_cancel", web.post),
    ]:  # fmt: skip
        assert method(reverse(name, args=[job.pk])).status_code == 404, name
    assert f"Bulk job {job.pk}" not in web.get(reverse("bulk_new")).content.decode()
    job.refresh_from_db()
    assert not job.cancel_requested


def test_queueing_and_cancelling_are_audited_once(operator, batch_app, many):
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many[:5], ip="192.0.2.7")
    services.bulk_job_cancel(actor=operator, job=job, ip="192.0.2.7")
    services.bulk_job_cancel(actor=operator, job=job, ip="192.0.2.7")  # a second click changes nothing
    events = AuditEvent.objects.filter(kind__in=["bulk_queued", "bulk_cancelled"]).order_by("id")
    assert [(e.kind, e.actor_username, e.app_name, e.ip, e.details) for e in events] == [
        ("bulk_queued", "otto", batch_app.name, "192.0.2.7", {"job": job.pk}),
        ("bulk_cancelled", "otto", batch_app.name, "192.0.2.7", {"job": job.pk}),
    ]
    assert events[0].message == f"Bulk job {job.pk}: 5 audiences"
    job.refresh_from_db()
    assert job.cancelled_by == operator


@pytest.mark.django_db(transaction=True)
def test_the_jobs_threads_close_their_database_connections(operator, batch_app, many, fast_client, settings):
    """Left open, each run would leak one connection per thread (and PostgreSQL has a limit)."""
    settings.BULK_CONCURRENCY = 4
    opened = []

    def record(sender, connection, **kwargs):
        if threading.current_thread().name.startswith("bulk-"):
            opened.append(connection)

    connection_created.connect(record)
    try:
        job = services.bulk_job_create(actor=operator, app=batch_app, names=many)
        bulk_runner.bulk_job_run(job.pk, client=fast_client)
    finally:
        connection_created.disconnect(record)
    assert selectors.bulk_job_progress(job).deleted == 20
    assert len(opened) == 4
    assert all(c.connection is None for c in opened)


@pytest.mark.django_db(transaction=True)
def test_an_item_whose_request_cannot_be_recorded_is_not_sent(
    operator, batch_app, many, fast_client, simulator, app_keys
):
    """The database refuses one item's *requested* event: that audience is not deleted, the item
    says why, and the rest of the job goes on."""
    save = AuditEvent.save

    def failing_save(event, *args, **kwargs):
        if event.audience == "old-03" and event.kind == "delete_requested":
            raise OperationalError("database is locked")
        return save(event, *args, **kwargs)

    job = services.bulk_job_create(actor=operator, app=batch_app, names=many[:6])
    with pytest.MonkeyPatch.context() as m:
        m.setattr(AuditEvent, "save", failing_save)
        assert bulk_runner.bulk_job_run(job.pk, client=fast_client) == "done"
    item = job.items.get(audience="old-03")
    assert (item.state, item.outcome, item.message) == (BulkItem.State.SKIPPED, "", wording.NOT_RECORDED)
    sent = {r.path.rsplit("/", 1)[1] for r in simulator.requests if r.method == "DELETE"}
    assert sent == set(many[:6]) - {"old-03"}
    assert "old-03" in simulator.audience_names(app_keys.api_key)
    assert not AuditEvent.objects.filter(audience="old-03").exists()
    assert selectors.bulk_job_progress(job).deleted == 5


@pytest.mark.django_db(transaction=True)
def test_an_unknown_outcome_tells_the_operator_to_check(operator, batch_app, many, fast_client, simulator):
    simulator.add_fault(action="drop", audience="old-01")  # the connection drops after the request was sent
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many[:3])
    bulk_runner.bulk_job_run(job.pk, client=fast_client)
    item = job.items.get(audience="old-01")
    assert item.outcome == Outcome.UNKNOWN
    assert item.message == "Connection lost after the request was sent. " + wording.CHECK_UNKNOWN
    assert selectors.bulk_job_progress(job).deleted == 2


@pytest.mark.django_db(transaction=True)
def test_the_lease_is_renewed_while_every_slot_waits_for_batch(
    operator, batch_app, many, batch_url, simulator, settings
):
    """Otherwise a slow Batch would let the lease pass, and another worker would take a live job over."""
    settings.BULK_CONCURRENCY = 1
    simulator.latency = 2.5
    settings.BULK_LEASE_SECONDS = 6  # renewed every 0.5 s
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many[:2])
    bulk_runner.bulk_job_run(job.pk)
    job.refresh_from_db()
    assert selectors.bulk_job_progress(job).deleted == 2
    lease = timedelta(seconds=bulk_runner.lease_seconds())
    assert job.lease_until - job.started_at >= lease + timedelta(seconds=4)  # renewed during both slow calls


@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_bug_in_a_worker_thread_neither_hangs_the_job_nor_hides_what_was_not_sent(
    operator, batch_app, many, fast_client, simulator, settings, concurrency, monkeypatch
):
    """A thread that dies on an unexpected error: the others go on; with none left the job ends, and
    the items never started say so (nothing sent), instead of waiting forever for a free slot."""
    settings.BULK_CONCURRENCY = concurrency
    real = services.audience_delete_prechecked

    def buggy(**kwargs):
        if kwargs["name"] in ("old-02", "old-05", "old-08"):
            raise RuntimeError("bug")
        return real(**kwargs)

    monkeypatch.setattr(services, "audience_delete_prechecked", buggy)
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many[:10])
    runner = threading.Thread(target=bulk_runner.bulk_job_run, args=(job.pk,), kwargs={"client": fast_client})
    runner.start()
    runner.join(timeout=30)
    assert not runner.is_alive(), "the job hung"
    job.refresh_from_db()
    progress = selectors.bulk_job_progress(job)
    sent = {r.path.rsplit("/", 1)[1] for r in simulator.requests if r.method == "DELETE"}
    assert job.state == BulkJob.State.DONE and progress.remaining == 0
    assert progress.deleted == len(sent) and not sent & {"old-02", "old-05", "old-08"}
    skipped = job.items.filter(state=BulkItem.State.SKIPPED)
    assert {i.audience for i in skipped} == {i.audience for i in job.items.all()} - sent
    assert all(i.message == wording.NOT_STARTED for i in skipped)
    if concurrency == 1:
        assert sent == {"old-00", "old-01"}  # the only thread died on old-02


def test_a_big_jobs_page_and_polls_cost_what_changed_not_the_whole_job(web, operator, batch_app):
    """5,000 items: the page shows one page of items, and a poll sends only the items changed since
    its cursor (the page's own, then the previous answer's) — a few KB, not the whole job."""
    job = BulkJob.objects.create(app=batch_app, created_by=operator, concurrency=4, state=BulkJob.State.RUNNING)
    BulkItem.objects.bulk_create(
        BulkItem(job=job, position=i, audience=f"aud-{i:05d}", state=BulkItem.State.DONE, outcome="deleted", seq=i + 1)
        for i in range(5000)
    )
    page = web.get(reverse("bulk_job", args=[job.pk]))
    assert page.context["cursor"] == 5000 and len(page.context["page"].object_list) == 100
    assert len(page.content) < 100_000 and "Items 1–100 of 5000" in page.content.decode()

    progress = reverse("bulk_job_progress", args=[job.pk])
    assert web.get(progress, {"since": 5000}).json()["items"] == []  # nothing changed since the page
    BulkItem.objects.filter(job=job, position__in=[10, 4000]).update(state=BulkItem.State.DONE, seq=5001)
    changed = web.get(progress, {"since": 5000})
    assert [i["position"] for i in changed.json()["items"]] == [10, 4000] and changed.json()["cursor"] == 5001
    assert len(changed.content) < 5_000
    everything = web.get(progress, {"since": 0}).json()  # a client that lost track: 500 at a time
    assert len(everything["items"]) == 500 and everything["more"] is True and everything["cursor"] == 501
