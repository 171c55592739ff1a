"""A hostile Batch seen from the dashboard: every failure ends in a page a person understands and an
audit record that tells the truth (served by the simulator's fault injection over a real socket)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from audienceadmin import bulk_runner, services, wording
from audienceadmin.models import AuditEvent, BulkItem
from tests.batch.test_redaction import shows
from tests.conftest import delete_through_pages

pytestmark = pytest.mark.django_db
Kind, Outcome = AuditEvent.Kind, AuditEvent.Outcome


@pytest.fixture
def real_time_batch(settings, batch_url):
    """The process client on real time with a short deadline: the watchdog is under test."""
    settings.BATCH_API_TIMEOUT, settings.BATCH_API_CONNECT_TIMEOUT = 1.0, 1.0
    settings.BATCH_API_DEADLINE, settings.BATCH_API_MAX_TRIES = 1.5, 2
    return settings


def confirm(user, app, name: str) -> tuple[int, str]:
    client = Client()
    client.force_login(user)
    response = delete_through_pages(client, app, name, follow=True)
    return response.status_code, response.content.decode()


def completed(name: str) -> AuditEvent:
    return AuditEvent.objects.get(kind=Kind.DELETE_COMPLETED, audience=name)


def test_a_200_whose_body_is_cut_short_is_recorded_deleted(operator, batch_app, real_time_batch, simulator):
    simulator.add_fault(action="truncate", audience="beta", method="DELETE", length=1000, send=7)
    status, page = confirm(operator, batch_app, "beta")
    assert status == 200 and "was deleted" in page
    event = completed("beta")
    assert (event.outcome, event.http_status) == (Outcome.DELETED, 200)
    assert "cut short" in event.message


def test_a_preview_whose_body_stalls_still_shows_the_confirmation(operator, batch_app, real_time_batch, simulator):
    simulator.add_fault(action="stall_body", audience="beta", method="GET", latency=10)
    client = Client()
    client.force_login(operator)
    started = time.monotonic()
    response = client.post(reverse("audience_delete"), {"app": batch_app.pk, "name": "beta"})
    assert response.status_code == 200 and "Type the audience name to confirm" in response.content.decode()
    assert time.monotonic() - started < 3


def test_the_audience_list_survives_a_truncated_body(operator, batch_app, real_time_batch, simulator):
    simulator.add_fault(action="truncate", method="GET", length=5000, send=20)
    client = Client()
    client.force_login(operator)
    response = client.get(reverse("audience_browse", args=[batch_app.pk]))
    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_dripping_batch_ends_at_the_deadline_and_the_sweep_waits_for_it(
    operator, batch_app, real_time_batch, simulator, settings
):
    """The sweep's age comes from the hard bound: it never closes an attempt still in flight."""
    settings.AUDIT_SWEEP_GRACE = 0.2
    simulator.add_fault(action="delay", audience="beta", latency=30)  # no status line: the call waits it out
    settings.BATCH_API_TIMEOUT = 10.0  # the read timeout alone would wait 10 s
    result: list = []

    def delete() -> None:
        try:
            result.append(services.audience_delete(actor=operator, app=batch_app, name="beta", ip=None))
        finally:
            connection.close()

    call = threading.Thread(target=delete)
    started = time.monotonic()
    call.start()
    swept = 0
    while call.is_alive():
        swept += services.attempts_sweep()  # as often as it likes: nothing is old enough
        time.sleep(0.05)
    assert swept == 0
    assert time.monotonic() - started < 1.5 + 1.0
    [outcome] = result
    assert (outcome.outcome, outcome.reason) == (Outcome.UNKNOWN, "deadline")
    assert completed("beta").message == wording.REASONS["deadline"]  # the call's own answer, not the sweep's


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_is_described_as_a_redirect(operator, batch_app, real_time_batch, simulator, status):
    simulator.add_fault(action="redirect", status=status, audience="beta", location="https://elsewhere.invalid/")
    _status, page = confirm(operator, batch_app, "beta")
    assert f"Batch answered with a redirect (HTTP {status})" in page
    assert "kept answering with a server error" not in page
    event = completed("beta")
    assert (event.outcome, event.http_status) == (Outcome.FAILED, status)


@pytest.mark.parametrize(
    "body",
    [
        '{{"error_code": "{api_key}", "message": "Invalid key {api_key_lower}"}}',
        '{{"code": "{api_key_upper}", "error_message": "REST key {rest_api_key_upper} refused"}}',
        '{{"error": "{api_key_zw}", "message": "see {api_key_pct}"}}',
        '{{"name": "{api_key_split}", "message": "{rest_api_key}"}}',
    ],
)
def test_keys_echoed_by_batch_reach_no_page_and_no_audit_row(operator, viewer, batch_app, app_keys, fast_client,
                                                             simulator, body):  # fmt: skip
    simulator.add_fault(action="raw", status=401, headers=[["Content-Type", "application/json"]], body=body)
    _status, page = confirm(operator, batch_app, "beta")
    history = Client()
    history.force_login(viewer)
    pages = [page, history.get(reverse("history")).content.decode()]
    pages.append(history.get(reverse("history_export") + "?view=all").getvalue().decode())
    event = completed("beta")
    assert (event.outcome, event.http_status, event.error_name) == (Outcome.REJECTED, 401, "AUTHENTICATION_INVALID")
    stored = [getattr(e, f) for e in AuditEvent.objects.all() for f in ("error_name", "error_code", "message")]
    for key in (app_keys.api_key, app_keys.rest_api_key):
        for text in [*pages, *map(str, stored)]:
            assert not shows(key, text)


@pytest.mark.django_db(transaction=True)
def test_a_long_retry_after_in_a_bulk_job_sends_nothing_with_an_exhausted_deadline(
    operator, batch_app, app_keys, real_time_batch, simulator, settings
):
    """A 429 asking for longer than the deadline: queued items wait at the gate before they start
    (then get their whole deadline), and nothing is sent with a sliver of it left."""
    settings.BULK_CONCURRENCY, settings.BATCH_API_DEADLINE = 4, 2.0
    names = [f"bulk-{i:02d}" for i in range(12)]
    for name in names:
        simulator.add_audience(app_keys.api_key, name)
    simulator.latency = 0.05
    simulator.add_fault(action="error", error="TOO_MANY_REQUESTS", retry_after="3", times=1)
    job = services.bulk_job_create(actor=operator, app=batch_app, names=names)
    assert bulk_runner.bulk_job_run(job.pk) == "done"
    items = list(BulkItem.objects.filter(job=job))
    outcomes = [i.outcome for i in items]
    assert set(outcomes) <= {Outcome.DELETED, Outcome.FAILED, Outcome.NOT_SENT}  # never "unknown"
    assert outcomes.count(Outcome.FAILED) <= 1 and outcomes.count(Outcome.DELETED) >= len(names) - 4
    for item in items:  # every item equals its audit
        event = AuditEvent.objects.get(kind=Kind.DELETE_COMPLETED, attempt=item.attempt)
        assert event.outcome == item.outcome and event.duration_ms <= 2000 + 1000
    sent = [r.path.rsplit("/", 1)[1] for r in simulator.requests if r.method == "DELETE"]
    assert len(sent) == len(set(sent))  # no audience got two DELETEs (the 429 asked for more than the deadline)
    assert not {i.audience for i in items if i.outcome == Outcome.NOT_SENT} & set(sent)
