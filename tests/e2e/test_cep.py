"""A CEP project in a browser: a key administrator adds it, an operator deletes one of its audiences,
and the page later says Batch applied the removal."""

from __future__ import annotations

import json
import time

from django.core.management import call_command
from playwright.sync_api import expect

from audienceadmin import services
from audienceadmin.models import AuditEvent
from tests.e2e.conftest import login
from tests.e2e.flows import ask_to_delete, confirm_deletion, main_nav

PROJECT = "Shop CEP"
PROJECT_KEY = "project_0664hxvwffvbpn278gxdyhsadddqgna6"
PROJECT_REST = "RESTKEY-e2e-cep-0123456789abcdef"


def run_worker() -> None:
    """The background worker, until nothing is queued (as `manage.py worker` runs the tasks)."""
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay")


def test_adding_a_cep_project_and_deleting_one_of_its_audiences(
    page, live_server, simulator, batch_url, keyadmin, operator, settings
):
    settings.BATCH_PROJECT_RATE = 0
    simulator.add_project(PROJECT_KEY, PROJECT_REST, audiences=["winback-2025", "keep-me"], indexing_delay=1.5)

    login(page, live_server, keyadmin)
    main_nav(page).get_by_role("link", name="Apps & keys").click()
    page.get_by_role("link", name="Add an app").click()
    page.get_by_label("Display name").fill(PROJECT)
    page.get_by_role("radio", name="CEP project").check()
    expect(page.get_by_text("starts with “project_”")).to_be_visible()  # where to find the project key
    page.get_by_label("Batch API key").fill(PROJECT_KEY)
    page.get_by_label("REST API key").fill(PROJECT_REST)
    page.get_by_role("button", name="Add app").click()
    expect(page.get_by_role("status")).to_contain_text(f"App “{PROJECT}” was added.")
    expect(page.get_by_role("status")).to_contain_text("Connection test: The keys")
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=PROJECT, exact=True))
    expect(row.get_by_role("cell", name="CEP project", exact=True)).to_be_visible()
    assert PROJECT_KEY not in page.content()
    simulator.clear_requests()

    page.context.clear_cookies()
    login(page, live_server, operator)
    ask_to_delete(page, PROJECT, "winback-2025")
    expect(page.get_by_text("Audience API 2.11")).to_be_visible()
    confirm_deletion(page, "winback-2025")
    expect(page.get_by_role("status")).to_contain_text("Batch accepted the removal")

    removes = [r for r in simulator.requests if r.path.endswith("/audiences/remove")]
    assert len(removes) == 1
    [sent] = removes
    assert (sent.method, sent.path) == ("POST", "/2.11/audiences/remove")
    assert sent.headers["Authorization"] == f"Bearer {PROJECT_REST}"
    assert sent.headers["X-Batch-Project"] == PROJECT_KEY
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == {"name": "winback-2025"}
    completed = AuditEvent.objects.get(kind=AuditEvent.Kind.DELETE_COMPLETED)
    assert completed.outcome == "deleted" and completed.details["indexing_token"]

    run_worker()  # the first check: Batch is still indexing
    page.reload()
    expect(page.get_by_text("removal not confirmed yet")).to_be_visible()

    time.sleep(1.6)
    services.removal_checks_queue()  # the worker's janitor: the next check is due
    run_worker()
    page.reload()
    expect(page.get_by_text("removal applied at")).to_be_visible()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REMOVAL_APPLIED).count() == 1
    assert PROJECT_KEY not in page.content() and PROJECT_REST not in page.content()
