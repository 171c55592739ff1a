"""Structured logs: the request id, JSON lines, the deletion line, and no key in any of it."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from audienceadmin import logs
from tests.conftest import delete_through_pages

pytestmark = pytest.mark.django_db
ROOT = Path(django_settings.BASE_DIR)


@pytest.fixture
def json_lines():
    """Every log record, through the production formatter and filter, as parsed JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestContextFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def read() -> list[dict]:
        text = stream.getvalue()
        return [json.loads(line) for line in text.splitlines()]

    read.raw = stream.getvalue
    yield read
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.mark.parametrize("value", ["abc", "A.b_c-9", "x" * 64, "6f1c2d1e-6f1c-4d1e-8f1c-2d1e6f1c2d1e"])
def test_a_well_formed_incoming_request_id_is_kept(value):
    assert logs.request_id_from(value) == value


@pytest.mark.parametrize("value", [None, "", "x" * 65, "has space", "new\nline", "trailing\n", "é", "a/b", "<script>"])
def test_a_missing_or_malformed_request_id_is_replaced(value):
    generated = logs.request_id_from(value)
    assert generated != value and logs.REQUEST_ID_RE.fullmatch(generated) and len(generated) == 32
    assert logs.request_id_from(value) != generated  # a new one each time


def test_the_response_carries_the_request_id():
    client = Client()
    assert client.get("/healthz", headers={"X-Request-ID": "lb-probe.1"})["X-Request-ID"] == "lb-probe.1"
    echoed = client.get("/healthz", headers={"X-Request-ID": "evil\r\nSet-Cookie: x=1"})["X-Request-ID"]
    assert logs.REQUEST_ID_RE.fullmatch(echoed) and "evil" not in echoed
    assert client.get(reverse("account_login"))["X-Request-ID"] != client.get(reverse("account_login"))["X-Request-ID"]


def test_a_request_logs_one_json_line_with_its_request_id(json_lines, operator):
    client = Client()
    client.force_login(operator)
    response = client.get(reverse("home"), headers={"X-Request-ID": "req-123"})
    assert response.status_code == 200 and response["X-Request-ID"] == "req-123"
    finished = [line for line in json_lines() if line["message"] == "request finished"]
    assert len(finished) == 1
    line = finished[0]
    assert {k: line[k] for k in ("level", "logger", "request_id", "user", "path", "method", "status")} == {
        "level": "INFO",
        "logger": "audienceadmin.requests",
        "request_id": "req-123",
        "user": "otto",
        "path": "/",
        "method": "GET",
        "status": 200,
    }
    assert isinstance(line["duration_ms"], float) and line["time"].endswith("+00:00")
    assert logs.current_request_id() is None  # the context ends with the request


def test_an_anonymous_request_has_no_user_and_logging_runs_no_query(json_lines, django_assert_num_queries):
    with django_assert_num_queries(0):
        Client().get(reverse("account_login"))
    (line,) = [line for line in json_lines() if line["message"] == "request finished"]
    assert "user" not in line and line["status"] == 200


def test_a_request_that_escapes_every_error_page_is_still_logged(json_lines, operator, settings, monkeypatch):
    from audienceadmin import selectors

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "recent_attempts", broken)
    settings.DEBUG_PROPAGATE_EXCEPTIONS = True  # what happens when even the 500 page fails
    client = Client()
    client.force_login(operator)
    with pytest.raises(RuntimeError):
        client.get(reverse("home"), headers={"X-Request-ID": "crash-1"})
    (line,) = [line for line in json_lines() if line["message"] == "request finished"]
    assert (line["request_id"], line["status"], line["level"]) == ("crash-1", 500, "INFO")
    assert logs.current_request_id() is None


def test_successful_health_probes_are_logged_at_debug_only(json_lines, monkeypatch):
    from audienceadmin import health

    Client().get("/healthz")
    monkeypatch.setattr(health, "database_writable", lambda: False)
    Client().get("/readyz")
    finished = [line for line in json_lines() if line["message"] == "request finished"]
    # (another test may have set the loggers to DEBUG: the level says it, not the absence)
    assert [(line["path"], line["level"]) for line in finished if line["level"] != "DEBUG"] == [("/readyz", "INFO")]


def test_a_delete_logs_its_outcome_with_the_request_id_and_no_key(
    json_lines, operator, batch_app, app_keys, fast_client, simulator
):
    client = Client()
    client.force_login(operator)
    simulator.add_fault(action="error", error="ROUTE_NOT_FOUND", audience="beta", method="DELETE")  # gone meanwhile
    for name in ("spring-sale", "beta"):
        response = delete_through_pages(client, batch_app, name, headers={"X-Request-ID": f"delete-{name}"})
        assert response.status_code == 302
    lines = json_lines()
    deletions = [line for line in lines if line.get("outcome")]
    assert [(d["request_id"], d["app"], d["audience"], d["outcome"], d["user"]) for d in deletions] == [
        ("delete-spring-sale", "Shop iOS", "spring-sale", "deleted", "otto"),
        ("delete-beta", "Shop iOS", "beta", "rejected", "otto"),
    ]
    assert all(d["level"] == "INFO" and d["logger"] == "audienceadmin.services" for d in deletions)
    assert all(len(d["attempt"]) == 36 for d in deletions)
    raw = json_lines.raw()
    assert app_keys.api_key not in raw and app_keys.rest_api_key not in raw


def test_only_known_extras_are_written(json_lines):
    logging.getLogger("audienceadmin.test").info(
        "hello", extra={"audience": "a", "outcome": "deleted", "rest_api_key": "SECRET-VALUE", "password": "pw"}
    )
    (line,) = json_lines()
    assert line["audience"] == "a" and line["outcome"] == "deleted"
    assert "SECRET-VALUE" not in json.dumps(line) and "password" not in line
    assert "request_id" not in line  # outside a request


def test_a_line_stays_one_line_and_exceptions_are_included(json_lines):
    log = logging.getLogger("audienceadmin.test")
    log.warning("two\nlines")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    raw = json_lines.raw()
    assert raw.count("\n") == 2
    first, second = json_lines()
    assert first["message"] == "two\nlines" and first["level"] == "WARNING"
    assert second["exc_type"] == "ValueError" and "boom" in second["exc"] and second["level"] == "ERROR"


def test_the_plain_format_shows_the_request_id():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    logs.RequestContextFilter().filter(record)
    assert logs.PlainFormatter().format(record).endswith(" INFO x hello")
    record.request_id = "abc"
    assert logs.PlainFormatter().format(record).endswith(" INFO x [abc] hello")


def test_the_plain_request_line_says_method_path_status_and_duration():
    record = logging.LogRecord(logs.request_logger.name, logging.INFO, __file__, 1, "request finished", None, None)
    record.__dict__.update(status=403, duration_ms=4.2, method="GET", path="/apps/", request_id="abc")
    assert logs.PlainFormatter().format(record).endswith(" INFO audienceadmin.requests [abc] GET /apps/ 403 4.2 ms")


@pytest.mark.parametrize(("status", "kept"), [(403, False), (404, False), (400, False), (500, True)])
def test_a_refused_request_is_left_to_the_request_line_and_a_server_error_keeps_its_traceback(status, kept):
    try:
        raise PermissionError("refused")
    except PermissionError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Forbidden: /apps/", None, exc_info)
    record.status_code = status
    assert logs.ClientErrorFilter().filter(record) is kept
    assert "Traceback" in logs.PlainFormatter().format(record)  # what a server error shows


def _log_format(**env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    base |= {"DJANGO_SETTINGS_MODULE": "audienceadmin.settings", "DJANGO_SECRET_KEY": "x" * 50, **env}
    code = "from django.conf import settings; print(settings.LOGGING['handlers']['console']['formatter'])"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True, timeout=30)


def test_production_defaults_to_json_and_debug_to_plain(settings):
    assert settings.MIDDLEWARE[0] == "audienceadmin.logs.RequestIdMiddleware"
    assert _log_format(DJANGO_DEBUG="false").stdout.strip() == "json"
    assert _log_format(DJANGO_DEBUG="true").stdout.strip() == "plain"
    assert _log_format(DJANGO_DEBUG="false", DJANGO_LOG_FORMAT="plain").stdout.strip() == "plain"
    refused = _log_format(DJANGO_LOG_FORMAT="xml")
    assert refused.returncode != 0 and "DJANGO_LOG_FORMAT must be json or plain" in refused.stderr


# Every character that ends a line for some reader (str.splitlines, a terminal, a log shipper) or
# hides text: a value logged with one must not start what looks like a record of its own.
LINE_BREAKERS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1b[2K", "\x85", "\u2028", "\u2029"]
FORGED = "2026-01-01 00:00:00,000 CRITICAL audienceadmin.services audience x deleted by admin"


def _record(message: str, *args, exc_info=None, **extra) -> logging.LogRecord:
    record = logging.LogRecord("audienceadmin.services", logging.INFO, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    logs.RequestContextFilter().filter(record)
    return record


@pytest.mark.parametrize("breaker", LINE_BREAKERS + ["\u202e", "\x00", "\x7f", "\t"])
def test_a_value_cannot_forge_a_plain_log_line(breaker):
    app_name = f"Shop{breaker}{FORGED}"
    line = logs.PlainFormatter().format(_record("audience %s in app %s: %s", "beta", app_name, "rejected"))
    assert len(line.splitlines()) == 1 and breaker not in line
    assert line.endswith(f"audience beta in app Shop{logs.one_line(breaker)}{FORGED}: rejected")


@pytest.mark.parametrize("breaker", LINE_BREAKERS + ["\u202e", "\x7f"])
def test_a_value_cannot_forge_a_json_log_line(breaker):
    app_name = f"Shop{breaker}{FORGED}"
    record = _record("audience %s in app %s", "beta", app_name, app=app_name, audience="beta", path=f"/x{breaker}y")
    line = logs.JsonFormatter().format(record)
    assert len(line.splitlines()) == 1 and breaker not in line
    entry = json.loads(line)  # still valid JSON, holding the exact values
    expected = (f"audience beta in app {app_name}", app_name, f"/x{breaker}y")
    assert (entry["message"], entry["app"], entry["path"]) == expected


def test_a_traceback_in_the_plain_format_cannot_forge_a_line_either():
    try:
        raise ValueError(f"bad app Shop\n{FORGED}\u2028{FORGED}")
    except ValueError:
        record = _record("failed", exc_info=sys.exc_info())
    lines = logs.PlainFormatter().format(record).split("\n")
    assert lines[0].endswith(" INFO audienceadmin.services failed")
    assert len(lines) > 3 and all(line.startswith("  | ") for line in lines[1:])
    assert any("ValueError: bad app Shop" in line for line in lines) and "\u2028" not in "".join(lines)
