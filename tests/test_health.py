"""Health checks (/healthz, /readyz) and serving with gunicorn for real."""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import django
import pytest
import requests
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.db import OperationalError, connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from audienceadmin import health

pytestmark = pytest.mark.django_db
ROOT = Path(django_settings.BASE_DIR)


@pytest.fixture(autouse=True)
def _forget_the_migration_answer(monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)


def assert_no_version_leak(response) -> None:
    text = response.content.decode() + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    assert django.get_version() not in text
    assert "Server" not in response.headers and "X-Powered-By" not in response.headers
    assert not any(word in text.lower() for word in ("django", "python", "secret", "postgres", "sqlite"))


def test_healthz_answers_ok_without_login_and_touches_no_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok")
    assert response["Content-Type"].startswith("text/plain")
    assert "no-store" in response["Cache-Control"]
    assert "Set-Cookie" not in response.headers
    assert_no_version_leak(response)


def test_readyz_is_ready_when_the_database_answers_and_every_migration_is_applied(django_assert_num_queries):
    response = Client().get("/readyz")
    assert (response.status_code, response.content) == (200, b"ready")
    assert "no-store" in response["Cache-Control"]
    assert_no_version_leak(response)
    with django_assert_num_queries(3):  # the migration answer is kept: one small UPDATE (in a savepoint)
        assert Client().get("/readyz").status_code == 200


def test_readyz_says_migrations_pending_until_they_are_applied(monkeypatch):
    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("0099_next", False)])
    response = Client().get("/readyz")
    assert (response.status_code, response.content) == (503, b"migrations pending")
    assert_no_version_leak(response)
    monkeypatch.undo()
    monkeypatch.setattr(health, "_migrations_applied", False)
    assert Client().get("/readyz").status_code == 200


def test_the_migration_answer_is_cached_once_true(monkeypatch):
    assert Client().get("/readyz").status_code == 200

    def explode(*args, **kwargs):
        raise AssertionError("the migration state was read again")

    monkeypatch.setattr(MigrationExecutor, "__init__", explode)
    assert Client().get("/readyz").status_code == 200


def test_readyz_says_database_unavailable_when_the_database_fails(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "db.internal" (10.0.0.5), port 5432 failed: refused')

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", refuse)
        response = Client().get("/readyz")
    assert response.status_code == 503 and response.content in (b"database unavailable", b"database takes no writes")
    assert b"db.internal" not in response.content and b"5432" not in response.content
    assert_no_version_leak(response)


def test_readyz_says_database_unavailable_when_the_migration_table_cannot_be_read(monkeypatch):
    def refuse(self, targets):
        raise OperationalError("no such table: django_migrations")

    monkeypatch.setattr(MigrationExecutor, "migration_plan", refuse)
    response = Client().get("/readyz")
    assert (response.status_code, response.content) == (503, b"database unavailable")


@pytest.mark.parametrize("url", ["/healthz", "/readyz"])
def test_head_works_and_other_methods_are_refused(url):
    client = Client()
    head = client.head(url)
    assert head.status_code == 200 and head.content == b""
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)(url).status_code == 405, method


def test_health_checks_are_not_redirected_to_https(settings):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    assert client.get("/login/").status_code == 301  # everything else is
    for url in ("/healthz", "/readyz"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP: no HSTS
    assert client.get("/healthz/extra").status_code != 200  # exact paths only


def test_a_logged_in_browser_gets_the_same_answer(operator):
    client = Client()
    client.force_login(operator)
    assert client.get("/healthz").content == b"ok"
    assert client.get("/readyz").content == b"ready"


# --- gunicorn, for real -----------------------------------------------------------------------------


def _production_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "GUNICORN_"))}
    env.update(
        {
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "AUDIT_HMAC_KEYS": secrets.token_urlsafe(32),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
            "GUNICORN_BIND": "127.0.0.1:0",
            "GUNICORN_WORKERS": "1",
            "GUNICORN_THREADS": "2",
        }
    )
    return env


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line)


def test_gunicorn_serves_health_checks_pages_and_hashed_static_files(tmp_path):
    env = _production_env(tmp_path)
    for command in (["migrate", "--no-input", "-v0"], ["collectstatic", "--no-input", "-v0"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
    hashed_css = manifest["paths"]["audienceadmin/app.css"]
    assert re.fullmatch(r"audienceadmin/app\.[0-9a-f]{12}\.css", hashed_css)

    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "audienceadmin/gunicorn.conf.py", "audienceadmin.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(server.stderr, lines), daemon=True).start()
    seen: list[str] = []
    try:
        base = None
        deadline = time.monotonic() + 10
        while base is None and time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=0.2))
            except queue.Empty:
                assert server.poll() is None, "".join(seen)
                continue
            if found := re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", seen[-1]):
                base = found.group(1)
        assert base, "".join(seen)
        while True:  # the worker boots after the master listens
            try:
                health_response = requests.get(f"{base}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "".join(seen)
                time.sleep(0.05)

        # health checks over plain HTTP (SECURE_SSL_REDIRECT is on: everything else is redirected)
        assert (health_response.status_code, health_response.text) == (200, "ok")
        ready = requests.get(f"{base}/readyz", timeout=5)
        assert (ready.status_code, ready.text) == (200, "ready")
        assert requests.head(f"{base}/readyz", timeout=5).status_code == 200
        plain = requests.get(f"{base}/accounts/login/", allow_redirects=False, timeout=5)
        assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
        assert health_response.headers["Server"] == "gunicorn"  # no version

        # behind a TLS proxy on loopback (gunicorn trusts X-Forwarded-Proto from forwarded_allow_ips)
        proxied = {"X-Forwarded-Proto": "https"}
        static = requests.get(f"{base}/static/{hashed_css}", headers=proxied, timeout=5)
        assert static.status_code == 200 and static.headers["Content-Type"].startswith("text/css")
        assert "max-age=315360000" in static.headers["Cache-Control"]
        assert "immutable" in static.headers["Cache-Control"]
        login = requests.get(f"{base}/accounts/login/", headers={**proxied, "X-Request-ID": "probe-42"}, timeout=5)
        assert login.status_code == 200 and "Strict-Transport-Security" in login.headers
        assert login.headers["X-Request-ID"] == "probe-42"
        assert f"/static/{hashed_css}" in login.text
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    time.sleep(0.1)
    while not lines.empty():
        seen.append(lines.get())
    assert server.returncode == 0, "".join(seen)
    records = [json.loads(line) for line in seen if line.startswith("{")]
    assert len(records) == len([line for line in seen if line.strip()]), "every log line is JSON"
    finished = [r for r in records if r["message"] == "request finished" and r.get("request_id") == "probe-42"]
    assert len(finished) == 1
    assert not [r for r in records if r["logger"] == "gunicorn.access"]  # off by default: the app logs requests
    expected = {
        "level": "INFO",
        "logger": "audienceadmin.requests",
        "path": "/accounts/login/",
        "method": "GET",
        "status": 200,
    }
    assert expected.items() <= finished[0].items()


@pytest.mark.django_db(transaction=True)  # outside a test transaction, as a probe runs
def test_readyz_says_not_ready_when_the_database_takes_no_write():
    """A full disk or a read-only database after a failover: reads work, every delete would fail
    (truthfully, with a 503); the balancer must take the instance out. Here the real database refuses
    writes on this connection (SQLite's query_only, PostgreSQL's read-only transactions)."""
    assert Client().get("/readyz").status_code == 200
    read_only = {
        "sqlite": ("PRAGMA query_only = ON", "PRAGMA query_only = OFF"),
        "postgresql": ("SET default_transaction_read_only = on", "SET default_transaction_read_only = off"),
    }
    on, off = read_only[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(on)
    try:
        response = Client().get("/readyz")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(off)
    assert (response.status_code, response.content) == (503, b"database takes no writes")
