"""When Batch misbehaves: every fault, through the web form and the CLI, ends in the truth."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from audienceadmin import roles, services, wording
from audienceadmin.models import AuditEvent
from audienceadmin.services import attempts
from tests.conftest import confirmation_form, delete_through_pages

pytestmark = pytest.mark.django_db
Kind, Outcome = AuditEvent.Kind, AuditEvent.Outcome
AUDIENCE = "spring-sale"


# fault, expected outcome, HTTP status, error name, tries, waits (None: just count them), words shown
MATRIX = {
    "500 always": (
        [{"action": "error", "error": "SERVER_ERROR"}],
        Outcome.FAILED,
        500,
        "SERVER_ERROR",
        4,
        None,
        "server error",
    ),
    "503 always": (
        [{"action": "error", "error": "MAINTENANCE_ERROR"}],
        Outcome.FAILED,
        503,
        "MAINTENANCE_ERROR",
        4,
        None,
        "maintenance",
    ),
    "503 with Retry-After": (
        [{"action": "error", "error": "MAINTENANCE_ERROR", "retry_after": "2"}],
        Outcome.FAILED,
        503,
        "MAINTENANCE_ERROR",
        4,
        [2.0, 2.0, 2.0],
        "maintenance",
    ),
    "429 with Retry-After, always": (
        [{"action": "error", "error": "TOO_MANY_REQUESTS", "retry_after": "6"}],
        Outcome.FAILED,
        429,
        "TOO_MANY_REQUESTS",
        4,
        [6.0, 6.0, 6.0],
        "rate-limiting",
    ),
    "429 once, then fine": (
        [{"action": "error", "error": "TOO_MANY_REQUESTS", "retry_after": "3", "times": 1}],
        Outcome.DELETED,
        200,
        "",
        2,
        [3.0],
        "was deleted",
    ),
    "429 without Retry-After once": (
        [{"action": "error", "error": "TOO_MANY_REQUESTS", "times": 1}],
        Outcome.DELETED,
        200,
        "",
        2,
        "at least 5",
        "was deleted",
    ),
    "500 twice, then fine": (
        [{"action": "error", "error": "SERVER_ERROR", "times": 2}],
        Outcome.DELETED,
        200,
        "",
        3,
        None,
        "was deleted",
    ),
    "timeout": ([{"action": "timeout"}], Outcome.UNKNOWN, None, "", 1, [], "may or may not have deleted"),
    "dropped connection": (
        [{"action": "drop"}],
        Outcome.UNKNOWN,
        None,
        "",
        1,
        [],
        "connection lost after the request was sent",
    ),
    "malformed JSON 500": (
        [{"action": "malformed", "status": 500}],
        Outcome.FAILED,
        500,
        "SERVER_ERROR",
        4,
        None,
        "server error",
    ),
    "HTML 502 from a proxy": ([{"action": "html"}], Outcome.FAILED, 502, "", 4, None, "server error"),
    "empty 503": ([{"action": "empty"}], Outcome.FAILED, 503, "MAINTENANCE_ERROR", 4, None, "maintenance"),
    "huge 500": ([{"action": "huge"}], Outcome.FAILED, 500, "SERVER_ERROR", 4, None, "server error"),
    "504 from a proxy": ([{"action": "html", "status": 504}], Outcome.UNKNOWN, 504, "", 1, [], "may or may not"),
    "401 wrong key": (
        [{"action": "error", "error": "AUTHENTICATION_INVALID"}],
        Outcome.REJECTED,
        401,
        "AUTHENTICATION_INVALID",
        1,
        [],
        "key administrator should check",
    ),
    "403": ([{"action": "error", "error": "API_MISUSE"}], Outcome.REJECTED, 403, "API_MISUSE", 1, [], "not allowed"),
    "404": (
        [{"action": "error", "error": "ROUTE_NOT_FOUND"}],
        Outcome.REJECTED,
        404,
        "ROUTE_NOT_FOUND",
        1,
        [],
        "has no audience",
    ),
    "400": (
        [{"action": "error", "error": "MALFORMED_PARAMETER"}],
        Outcome.REJECTED,
        400,
        "MALFORMED_PARAMETER",
        1,
        [],
        "as invalid",
    ),
}


def run_web(operator, app) -> str:
    client = Client()
    client.force_login(operator)
    response = delete_through_pages(client, app, AUDIENCE, follow=True)
    assert response.status_code == 200
    return " ".join(str(m) for m in response.context["messages"])


def run_cli(operator, app) -> str:
    out = StringIO()
    try:
        call_command("delete_audience", "--app", app.name, "--actor", operator.username, AUDIENCE, stdout=out)
    except CommandError as exc:
        assert exc.returncode == 1
        return str(exc)
    return out.getvalue()


@pytest.mark.parametrize("channel", ["web", "cli"])
@pytest.mark.parametrize("case", MATRIX)
def test_fault_matrix(case, channel, operator, batch_app, fast_client, fake_time, simulator, app_keys):
    faults, outcome, status, error_name, tries, waits, words = MATRIX[case]
    for fault in faults:  # on the DELETE: the web's preview (a GET) must not use them up
        simulator.add_fault(audience=AUDIENCE, method="DELETE", **fault)

    shown = (run_web if channel == "web" else run_cli)(operator, batch_app)

    assert words in shown
    requested, completed = AuditEvent.objects.filter(audience=AUDIENCE).order_by("id")
    assert requested.attempt == completed.attempt
    assert (requested.kind, completed.kind) == (Kind.DELETE_REQUESTED, Kind.DELETE_COMPLETED)
    assert requested.source == channel
    assert (completed.outcome, completed.http_status, completed.error_name, completed.tries) == (
        outcome,
        status,
        error_name,
        tries,
    )
    received = [r for r in simulator.requests if r.method == "DELETE"]
    assert len(received) == tries
    assert all(r.path == f"/1.1/{app_keys.api_key}/custom-audience/{AUDIENCE}" for r in received)
    assert len(fake_time.sleeps) == tries - 1
    if waits == "at least 5":
        assert fake_time.sleeps[0] >= 5.0
    elif waits is not None:
        assert fake_time.sleeps == waits
    else:  # capped exponential backoff with jitter: each wait within [ceiling/2, ceiling]
        for n, wait in enumerate(fake_time.sleeps, start=1):
            ceiling = min(8.0, 0.5 * 2 ** (n - 1))
            assert ceiling / 2 <= wait <= ceiling
    assert (AUDIENCE in simulator.audience_names(app_keys.api_key)) == (outcome != Outcome.DELETED)
    for text in (shown, completed.message):
        assert app_keys.api_key not in text and app_keys.rest_api_key not in text


def test_an_unreachable_batch_fails_without_sending(operator, batch_app, fake_time, settings, monkeypatch):
    from audienceadmin import batch

    settings.BATCH_API_URL, settings.BATCH_API_MAX_TRIES = "http://127.0.0.1:9", 4  # nothing listens there
    monkeypatch.setattr(
        batch,
        "get_client",
        lambda: batch.MepClient(
            batch.Transport(batch.config_from_settings(), sleep=fake_time.sleep, clock=fake_time.clock)
        ),
    )
    shown = run_web(operator, batch_app)
    assert "Could not reach Batch" in shown and "Nothing was sent" in shown
    completed = AuditEvent.objects.get(kind=Kind.DELETE_COMPLETED)
    assert (completed.outcome, completed.tries, completed.http_status) == (Outcome.FAILED, 4, None)


def test_a_double_submitted_or_replayed_form_sends_one_delete(operator, batch_app, fast_client, simulator):
    client = Client()
    client.force_login(operator)
    form = confirmation_form(client, batch_app, AUDIENCE)
    first = client.post(reverse("audience_delete_confirm"), form, follow=True)
    again = client.post(reverse("audience_delete_confirm"), form, follow=True)  # a double click, a replay
    assert "was deleted" in first.content.decode()
    page = again.content.decode()
    assert "already submitted (outcome: Deleted): nothing more was sent" in page
    assert AUDIENCE in page  # the first attempt's own page
    assert [r.method for r in simulator.requests].count("DELETE") == 1
    assert AuditEvent.objects.filter(kind=Kind.DELETE_REQUESTED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submits_of_one_confirmation_send_one_delete(operator, batch_app, batch_url, simulator):
    """The unique (attempt, kind) constraint decides, not a check-then-act: on both databases."""
    simulator.add_fault(action="delay", latency=0.3, audience=AUDIENCE, method="DELETE")
    client = Client()
    client.force_login(operator)
    form = confirmation_form(client, batch_app, AUDIENCE)
    answers: list[int] = []

    def submit() -> None:
        try:
            answers.append(client.post(reverse("audience_delete_confirm"), form).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert answers == [302, 302]
    assert [r.method for r in simulator.requests].count("DELETE") == 1
    assert AuditEvent.objects.filter(kind=Kind.DELETE_REQUESTED).count() == 1
    assert AuditEvent.objects.filter(kind=Kind.DELETE_COMPLETED).count() == 1


def test_a_confirmation_is_bound_to_its_audience_user_and_time(operator, django_user_model, role_groups, batch_app,
                                                               fast_client, simulator, settings):  # fmt: skip
    """A small audience's confirmation cannot be used to delete a big one, nor by someone else, nor late."""
    from tests.conftest import make_user

    simulator.add_audience(services.app_credentials(batch_app).api_key.reveal(), "newsletter_optin")
    client = Client()
    client.force_login(operator)
    small = confirmation_form(client, batch_app, AUDIENCE)
    swapped = {**small, "name": "newsletter_optin", "confirm_name": "newsletter_optin"}
    assert (
        "nothing was deleted" in client.post(reverse("audience_delete_confirm"), swapped, follow=True).content.decode()
    )
    other = Client()
    other.force_login(make_user(django_user_model, "olga", role_groups[roles.OPERATORS]))
    assert "nothing was deleted" in other.post(reverse("audience_delete_confirm"), small, follow=True).content.decode()
    settings.CONFIRMATION_MAX_AGE = -1  # every ticket is too old
    late = client.post(reverse("audience_delete_confirm"), small)
    assert late.status_code == 400 and "open for too long" in late.content.decode()
    assert "Type the audience name to confirm" in late.content.decode()  # a fresh confirmation, nothing lost
    assert not AuditEvent.objects.filter(kind=Kind.DELETE_REQUESTED).exists()
    assert [r.method for r in simulator.requests].count("DELETE") == 0


@pytest.mark.django_db(transaction=True)
def test_two_operators_deleting_at_once_are_both_audited(
    operator, django_user_model, role_groups, batch_app, batch_url, simulator
):
    from tests.conftest import make_user

    other = make_user(django_user_model, "olga", role_groups[roles.OPERATORS])
    simulator.add_fault(action="delay", latency=0.3, audience=AUDIENCE)
    results = {}

    def delete(user):
        results[user.username] = services.audience_delete(actor=user, app=batch_app, name=AUDIENCE, ip=None)
        connection.close()

    threads = [threading.Thread(target=delete, args=(u,)) for u in (operator, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(r.outcome for r in results.values()) == [Outcome.DELETED, Outcome.REJECTED]
    assert AuditEvent.objects.filter(kind=Kind.DELETE_COMPLETED).count() == 2
    assert AuditEvent.objects.filter(kind=Kind.DELETE_REQUESTED).count() == 2


def test_database_down_before_the_request_means_nothing_is_sent(operator, batch_app, fast_client, simulator):
    def refuse_audit_inserts(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT") and "audienceadmin_auditevent" in sql:
            from django.db import OperationalError

            raise OperationalError("database is unavailable")
        return execute(sql, params, many, context)

    client = Client()
    client.force_login(operator)
    with connection.execute_wrapper(refuse_audit_inserts):
        response = delete_through_pages(client, batch_app, AUDIENCE)
        with pytest.raises(CommandError, match="nothing was sent") as excinfo:
            call_command("delete_audience", "--app", batch_app.name, AUDIENCE)
    assert response.status_code == 503
    assert "Nothing was deleted" in response.content.decode()
    assert "no request was sent to Batch" in response.content.decode()
    assert excinfo.value.returncode == 1
    assert {r.method for r in simulator.requests} == {"GET"}  # the preview; nothing deleted
    assert not AuditEvent.objects.filter(kind=Kind.DELETE_REQUESTED).exists()


def test_database_down_after_batch_answered_still_tells_the_truth(operator, batch_app, fast_client, simulator):
    def refuse_completion(execute, sql, params, many, context):
        if "INSERT" in sql.upper() and "audienceadmin_auditevent" in sql and "deleted" in map(str, params):
            from django.db import OperationalError

            raise OperationalError("database is unavailable")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse_completion):
        result = services.audience_delete(actor=operator, app=batch_app, name=AUDIENCE, ip=None)
    assert result.deleted and not result.recorded
    assert "was deleted" in result.message and "written as soon as the database is back" in result.message


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    answers=st.lists(
        st.sampled_from(
            [
                "SERVER_ERROR",
                "MAINTENANCE_ERROR",
                "TOO_MANY_REQUESTS",
                "ROUTE_NOT_FOUND",
                "AUTHENTICATION_INVALID",
                "drop",
                "html",
                "empty",
                "malformed",
            ]
        ),
        max_size=5,
    ),
    exists=st.booleans(),
)
def test_nothing_is_deleted_unless_batch_answered_200(
    answers, exists, operator, batch_app, fast_client, simulator, app_keys
):
    simulator.clear_faults()
    simulator.clear_requests()
    if exists:
        simulator.add_audience(app_keys.api_key, "prop-test")
    for answer in answers:
        if answer in ("drop", "html", "empty", "malformed"):
            simulator.add_fault(action=answer, audience="prop-test", times=1)
        else:
            simulator.add_fault(action="error", error=answer, audience="prop-test", times=1)

    result = services.audience_delete(actor=operator, app=batch_app, name="prop-test", ip=None)

    answered_200 = [r.status for r in simulator.requests].count(200)
    assert result.deleted == (answered_200 == 1)
    completed = AuditEvent.objects.get(attempt=result.attempt, kind=Kind.DELETE_COMPLETED)
    assert (completed.outcome == Outcome.DELETED) == (answered_200 == 1)
    if "prop-test" in simulator.audience_names(app_keys.api_key):
        assert not result.deleted


def test_a_process_killed_mid_call_is_closed_as_unknown_by_the_sweep(tmp_path: Path, simulator):
    """A real `delete_audience` process, SIGKILLed while Batch has not answered yet."""
    api_key, rest_key = "APIKEY-kill-0123456789", "RESTKEY-kill-0123456789"
    simulator.add_app(api_key, rest_key, audiences=[AUDIENCE])
    simulator.add_fault(action="timeout", audience=AUDIENCE)
    db = tmp_path / "kill.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "kill-test-secret-key",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{db}",
        "BATCH_API_URL": simulator.url,
        "BATCH_API_TIMEOUT": "60",
        "BATCH_API_DEADLINE": "60",
    }
    manage = [sys.executable, str(Path(django_settings.BASE_DIR) / "manage.py")]

    def run(*args, **extra_env):
        return subprocess.run([*manage, *args], env={**env, **extra_env}, capture_output=True, text=True, timeout=120)

    assert run("migrate", "-v0").returncode == 0
    create = (
        "from audienceadmin import services; "
        f"services.app_create(actor=None, name='Kill app', api_key='{api_key}', rest_api_key='{rest_key}', ip=None)"
    )
    assert run("shell", "-c", create).returncode == 0

    command = [*manage, "delete_audience", "--app", "Kill app", "--api-version", "1.1", AUDIENCE]
    proc = subprocess.Popen(command, env=env)
    try:
        for _ in range(300):
            if any(r.method == "DELETE" for r in simulator.requests):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the CLI never called Batch")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)

    def events():
        with sqlite3.connect(db) as conn:
            return conn.execute(
                "SELECT kind, outcome, message FROM audienceadmin_auditevent WHERE audience = ? ORDER BY id",
                [AUDIENCE],
            ).fetchall()

    assert events() == [("delete_requested", "", "")]
    # Within the deadline, the attempt may still be waiting for Batch: the sweep leaves it alone.
    assert "Closed 0" in run("sweep_attempts").stdout
    time.sleep(1.2)  # past the hard bound of a 0.1 s deadline (0.1 s + the watchdog's 1 s slack)
    swept = run("sweep_attempts", BATCH_API_DEADLINE="0.1", BATCH_API_CONNECT_TIMEOUT="0.1", AUDIT_SWEEP_GRACE="0")
    assert "Closed 1" in swept.stdout, swept.stderr
    assert events() == [("delete_requested", "", ""), ("delete_completed", "unknown", wording.INTERRUPTED)]
    assert "Closed 0" in run("sweep_attempts", AUDIT_SWEEP_GRACE="0", BATCH_API_DEADLINE="0.1").stdout


def test_the_history_page_sweeps_interrupted_attempts(viewer, operator, batch_app, settings, monkeypatch):
    services.sweep_throttle_reset()  # the page sweeps at most once a minute
    monkeypatch.setattr(attempts, "stale_attempt_age", lambda: timedelta(0))  # any open attempt is stale

    class DyingClient:
        api, version, label = "mep", "1.1", "Custom Audience API 1.1"

        def delete_audience(self, credentials, name):
            raise KeyboardInterrupt  # the process stops mid-call: no completed event

    with pytest.raises(KeyboardInterrupt):
        services.audience_delete(actor=operator, app=batch_app, name=AUDIENCE, ip=None, client=DyingClient())
    client = Client()
    client.force_login(viewer)
    html = client.get(reverse("history")).content.decode()
    assert "interrupted: no answer recorded" in html
    assert AuditEvent.objects.get(kind=Kind.DELETE_COMPLETED).outcome == Outcome.UNKNOWN
