"""`make demo`: faults that show on the delete (its retries too), restarts that bring nothing deleted
back, and a dashboard that runs as in production: styled error pages, collected static files, a
terminal people can read."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from audienceadmin import selectors, services
from audienceadmin.batch.simulator import BatchSimulator
from audienceadmin.management.commands import demo
from audienceadmin.models import AuditEvent

ROOT = Path(__file__).resolve().parent.parent
Outcome = AuditEvent.Outcome


@pytest.fixture
def demo_apps(django_user_model, role_groups, simulator, fast_client):
    django_user_model.objects.create_superuser("admin", "", None)
    demo.Command()._apps(simulator)
    return selectors.app_by_name(demo.DEMO_APP)


@pytest.mark.django_db
@pytest.mark.parametrize(("audience", "tries"), [("demo-rate-limited", 2), ("demo-flaky", 3)])
def test_a_fault_answers_the_delete_so_that_its_retries_show(demo_apps, django_user_model, audience, tries):
    preview = services.audience_preview(app=demo_apps, name=audience)
    assert preview.exists is True and not preview.warning  # the preview's GET is not the fault's
    operator = django_user_model.objects.get(username="admin")
    result = services.audience_delete(actor=operator, app=demo_apps, name=audience, ip=None)
    completed = AuditEvent.objects.get(kind="delete_completed", audience=audience)
    assert (result.outcome, completed.tries) == (Outcome.DELETED, tries)


@pytest.mark.django_db
def test_a_restart_brings_back_nothing_the_history_says_was_deleted(demo_apps, django_user_model, fast_client):
    admin = django_user_model.objects.get(username="admin")
    services.audience_delete(actor=admin, app=demo_apps, name="spring-sale-2025", ip=None)
    services.audience_delete(actor=admin, app=demo_apps, name="demo-forbidden", ip=None)  # refused: still there
    with BatchSimulator() as restarted:
        _, kept_deleted = demo.Command()._apps(restarted)
        names = set(restarted.audience_names(services.app_credentials(demo_apps).api_key.reveal()))
    assert kept_deleted == ["spring-sale-2025"]
    assert "spring-sale-2025" not in names and {"demo-forbidden", "beta-testers"} <= names


def test_the_demo_runs_without_debug_over_plain_http():
    env = demo.demo_environment("http://127.0.0.1:1")
    assert env["DJANGO_DEBUG"] == "false" and env["DJANGO_SECURE_SSL_REDIRECT"] == "false"
    assert env["DJANGO_LOG_FORMAT"] == "plain"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, data: bytes | None = None, headers: dict[str, str] | None = None):
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers


def test_the_demo_shows_styled_pages_and_a_readable_terminal(tmp_path):
    """The real `manage.py demo`: a 404 is the dashboard's page (no URL list), static files are
    served, and the terminal has one short line per request, a refusal included."""
    port, sim_port = _free_port(), _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "DJANGO_DEBUG": "true",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "AUDIT_HMAC_KEYS": secrets.token_urlsafe(32),
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, timeout=120)
    log = tmp_path / "demo.log"
    proc = subprocess.Popen(
        [*manage, "demo", "--addr", f"127.0.0.1:{port}", "--simulator-port", str(sim_port)],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.2)
        status, html, _ = _get(f"{url}/no-such-page/")
        assert status == 404 and "<h1>Not found</h1>" in html and "URLconf" not in html and "Audience Admin" in html
        css = re.search(r'href="(/static/audienceadmin/app\.[0-9a-f]+\.css)"', html)
        assert css is not None, "hashed static files, as in production"
        assert _get(url + css.group(1))[0] == 200
        viewer_password = re.search(r"^  viewer\s+(\S+)$", log.read_text(), re.M).group(1)
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        login_page = opener.open(f"{url}/accounts/login/", timeout=10).read().decode()  # noqa: S310
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        body = f"csrfmiddlewaretoken={token}&login=viewer&password={viewer_password}".encode()
        signed_in = urllib.request.Request(f"{url}/accounts/login/", data=body, headers={"Referer": url})  # noqa: S310
        opener.open(signed_in, timeout=10)  # noqa: S310 - loopback
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(f"{url}/apps/", timeout=10)  # noqa: S310 - a viewer may not: 403
        assert refused.value.code == 403 and "You may not do this" in refused.value.read().decode()
        time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    lines = log.read_text().splitlines()
    [refusal] = [line for line in lines if "/apps/" in line]  # one line for the 403
    assert re.search(r" INFO audienceadmin\.requests \[\w+\] GET /apps/ 403 [0-9.]+ ms$", refusal), refusal
    assert not [line for line in lines if "Traceback" in line or line.startswith("  | ")], "a 403 is one line"
    assert max(len(line) for line in lines) < 200, max(lines, key=len)


@pytest.mark.django_db
def test_the_demo_has_all_three_kinds_of_audience(demo_apps, django_user_model, monkeypatch):
    admin = django_user_model.objects.get(username="admin")
    assert services.audience_preview(app=demo_apps, name="crm-loyalty-members").version == "1.0"
    assert services.audience_preview(app=demo_apps, name="beta-testers").choose_version  # in 1.1 and 1.0
    result = services.audience_delete(actor=admin, app=demo_apps, name="gaid-lookalikes", ip=None, api_version="1.0")
    assert result.deleted and result.api_label == "Custom Audience API 1.0"

    project = selectors.app_by_name(demo.DEMO_PROJECT)
    assert project.kind == "cep"
    removed = services.audience_delete(actor=admin, app=project, name="cep-winback-2025", ip=None)
    assert removed.deleted and "accepted the removal" in removed.message
    from audienceadmin.models import RemovalFollowUp

    follow_up = RemovalFollowUp.objects.get(attempt=removed.attempt)
    assert services.removal_check(follow_up.pk) == "pending"  # Batch applies it a few seconds later
    failing = services.audience_delete(actor=admin, app=project, name="demo-forbidden", ip=None)
    assert failing.outcome == Outcome.REJECTED and failing.http_status == 403


def test_the_demo_has_an_app_under_the_two_person_rule_with_a_request_waiting(role_groups, simulator, fast_client):
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from audienceadmin.models import DeletionRequest

    demo.Command()._users()
    demo.Command()._approval_app(simulator)
    demo.Command()._approval_app(simulator)  # a restart asks no second time
    asked = DeletionRequest.objects.get()
    assert (asked.app.name, asked.requested_by.username, asked.state) == (
        demo.APPROVAL_APP,
        demo.APPROVAL_REQUESTER,
        DeletionRequest.State.PENDING,
    )
    operator = Client()
    operator.force_login(get_user_model().objects.get(username="operator"))
    assert demo.APPROVAL_AUDIENCE in operator.get(reverse("home")).content.decode()
    operator.post(reverse("request_approve", args=[asked.pk]))
    asked.refresh_from_db()
    assert asked.outcome == Outcome.DELETED
    api_key = services.app_credentials(asked.app).api_key.reveal()
    assert demo.APPROVAL_AUDIENCE not in simulator.audience_names(api_key)
