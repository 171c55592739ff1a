"""An instance whose clock is wrong, and a database that fails between an attempt's two events."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from audienceadmin import bulk_runner, dbclock, services, wording
from audienceadmin.models import AuditEvent, BulkItem, BulkJob
from audienceadmin.services import late_records

Kind, Outcome = AuditEvent.Kind, AuditEvent.Outcome
pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]


def in_thread(target) -> threading.Thread:
    def run() -> None:
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_an_instance_whose_clock_is_ahead_closes_no_live_attempt_and_stamps_no_future(
    operator, batch_app, batch_url, simulator, settings, monkeypatch
):
    """150 s ahead: its sweep must not close an attempt still waiting for Batch, and its events must
    not be stamped in the future (nor pull every later event's time forward)."""
    settings.BATCH_API_TIMEOUT = settings.BATCH_API_DEADLINE = 3.0
    settings.AUDIT_SWEEP_GRACE = 0.5
    simulator.latency = 2.0
    result = []
    call = in_thread(lambda: result.append(
        services.audience_delete(actor=operator, app=batch_app, name="beta", ip=None)))  # fmt: skip
    deadline = time.monotonic() + 10
    while not any(r.method == "DELETE" for r in simulator.requests):
        assert time.monotonic() < deadline
        time.sleep(0.02)

    real_now = timezone.now
    with monkeypatch.context() as skewed:  # this instance's clock, 150 s ahead
        skewed.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=150))
        assert services.attempts_sweep() == 0  # the attempt is 0 s old by the database's clock
        event = services.security_event_record(kind=Kind.LOGIN_FAILED, ip=None, username="skewed")
    call.join(timeout=30)

    assert result[0].outcome == Outcome.DELETED  # the call's own answer, not "interrupted"
    assert abs((event.at - dbclock.db_now()).total_seconds()) < 5  # the database's time, not +150 s
    later = services.security_event_record(kind=Kind.LOGIN_FAILED, ip=None, username="on time")
    assert timedelta(0) <= later.at - event.at < timedelta(seconds=5)  # monotonic, not dragged forward
    assert services.audit_log_verify().ok


def test_a_skewed_instance_does_not_take_over_a_live_bulk_job(
    operator, batch_app, many, batch_url, simulator, settings, monkeypatch
):
    settings.BULK_CONCURRENCY = 1
    settings.BULK_LEASE_SECONDS = 6
    simulator.latency = 0.3
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many[:10])
    runner = in_thread(lambda: bulk_runner.bulk_job_run(job.pk))
    deadline = time.monotonic() + 10
    while not BulkItem.objects.filter(job=job, state=BulkItem.State.DONE).exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    real_now = timezone.now
    with monkeypatch.context() as skewed:  # another instance, its clock 150 s ahead
        skewed.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=150))
        assert services.bulk_jobs_resume() == 0
        assert bulk_runner.bulk_job_run(job.pk) == bulk_runner.NOT_CLAIMED
    runner.join(timeout=60)
    job.refresh_from_db()
    assert (job.state, job.runs) == (BulkJob.State.DONE, 1)
    sent = [r.path for r in simulator.requests if r.method == "DELETE"]
    assert len(sent) == len(set(sent)) == 10


@pytest.fixture
def database_down(monkeypatch):
    """The database refuses the *completed* events (as during a restart) until the test says so."""
    down = threading.Event()
    save = AuditEvent.save

    def save_unless_down(event, *args, **kwargs):
        if down.is_set() and event.kind == Kind.DELETE_COMPLETED:
            raise OperationalError("the database system is shutting down")
        return save(event, *args, **kwargs)

    monkeypatch.setattr(AuditEvent, "save", save_unless_down)
    return down


def test_a_database_failure_between_the_two_events_is_recorded_when_it_returns(
    operator, batch_app, fast_client, simulator, database_down
):
    """Batch answered 200; the database failed just then. The operator is told so; once the database
    is back, the audit says what Batch said (not "interrupted", not "unknown")."""
    database_down.set()
    result = services.audience_delete(actor=operator, app=batch_app, name="beta", ip=None)
    assert (result.outcome, result.recorded) == (Outcome.DELETED, False)
    assert "written as soon as the database is back" in result.message
    assert not AuditEvent.objects.filter(kind=Kind.DELETE_COMPLETED).exists()
    time.sleep(1.5)  # still down: retried, not given up
    database_down.clear()
    deadline = time.monotonic() + 15
    while not AuditEvent.objects.filter(kind=Kind.DELETE_COMPLETED, attempt=result.attempt).exists():
        assert time.monotonic() < deadline, "the outcome was never recorded"
        time.sleep(0.1)
    completed = AuditEvent.objects.get(kind=Kind.DELETE_COMPLETED, attempt=result.attempt)
    assert (completed.outcome, completed.http_status) == (Outcome.DELETED, 200)
    assert services.attempts_sweep() == 0 and late_records.outstanding() == 0
    assert services.audit_log_verify().ok


def test_a_bulk_item_recorded_late_still_equals_its_audit(
    operator, batch_app, many, fast_client, simulator, database_down, settings
):
    settings.BULK_CONCURRENCY = 1
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many[:3])
    database_down.set()
    in_thread(lambda: time.sleep(1.0) or database_down.clear())  # back a second later
    bulk_runner.bulk_job_run(job.pk, client=fast_client)
    deadline = time.monotonic() + 15
    while late_records.outstanding():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    for item in BulkItem.objects.filter(job=job):
        completed = AuditEvent.objects.get(kind=Kind.DELETE_COMPLETED, attempt=item.attempt)
        assert (item.state, item.outcome) == (BulkItem.State.DONE, completed.outcome)
    sent = [r.path for r in simulator.requests if r.method == "DELETE"]
    assert len(sent) == len(set(sent)) == 3


def test_a_request_recorded_despite_an_error_is_closed_as_not_sent(operator, batch_app, many):
    """The database took the *requested* event but its answer was lost (the connection died at the
    commit): nothing was sent. Once the database answers, the attempt says so, and its bulk item goes
    back to waiting (safe: nothing reached Batch)."""
    job = services.bulk_job_create(actor=operator, app=batch_app, names=many[:1])
    BulkJob.objects.filter(pk=job.pk).update(state=BulkJob.State.RUNNING, runner="run-1")
    item = job.items.get()
    common = {"attempt": uuid.uuid4(), "source": "bulk", "app": batch_app, "app_name": batch_app.name, "ip": None,
              "audience": item.audience, "actor": operator, "actor_username": operator.username}  # fmt: skip
    AuditEvent.objects.create(kind=Kind.DELETE_REQUESTED, **common)
    BulkItem.objects.filter(pk=item.pk).update(state=BulkItem.State.RUNNING, attempt=common["attempt"])

    late_records.settle_unsent(common, services.BulkItemRef(item_id=item.pk, runner="run-1"))
    deadline = time.monotonic() + 15
    while late_records.outstanding():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    completed = AuditEvent.objects.get(kind=Kind.DELETE_COMPLETED, attempt=common["attempt"])
    assert (completed.outcome, completed.message) == (Outcome.NOT_SENT, wording.NOT_SENT_DATABASE)
    item.refresh_from_db()
    assert (item.state, item.attempt) == (BulkItem.State.PENDING, None)
