"""Apps & keys: the table (aligned actions, last connection test), restoring an archived app, and the
connection test that follows new keys."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from audienceadmin import services
from audienceadmin.models import AuditEvent, BatchApp

pytestmark = pytest.mark.django_db
Kind = AuditEvent.Kind


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def said(response) -> list[tuple[str, str]]:
    """The message this response added (the client's follow-less redirects keep the earlier ones)."""
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)][-1:]


def test_every_row_has_its_actions_in_a_cell_and_an_archived_row_offers_restore(keyadmin, batch_app, fast_client):
    other = services.app_create(actor=keyadmin, name="Old shop", api_key="A" * 16, rest_api_key="B" * 16, ip=None)
    services.app_archive(actor=keyadmin, app=other, ip=None)
    services.app_test_connection(actor=keyadmin, app=batch_app, ip=None)
    html = logged_in(keyadmin).get(reverse("app_list")).content.decode()
    assert 'td class="row-actions"' not in html  # a flex <td> leaves its table row: the misaligned cells
    rows = re.findall(r"<tr[ >].*?</tr>", html, re.S)[1:]
    assert len(rows) == 2 and all(row.count("<td") == 9 for row in rows)  # as many cells as headers
    active, archived = rows
    assert "Test connection" in active and "Restore" not in active
    assert "Restore" in archived and "Test connection" not in archived and "Edit" not in archived
    assert "OK" in active and "Never tested" in archived  # the last connection test, on each row


def test_an_archived_app_is_restored_and_that_is_audited(keyadmin, operator, batch_app):
    services.app_archive(actor=keyadmin, app=batch_app, ip=None)
    assert logged_in(operator).post(reverse("app_restore", args=[batch_app.pk])).status_code == 403
    response = logged_in(keyadmin).post(reverse("app_restore", args=[batch_app.pk]))
    assert response.status_code == 302 and BatchApp.objects.get(pk=batch_app.pk).archived_at is None
    assert "was restored" in said(response)[0][1]
    event = AuditEvent.objects.filter(kind=Kind.APP_RESTORED).get()
    assert (event.app_id, event.actor_username) == (batch_app.pk, keyadmin.username)
    again = logged_in(keyadmin).post(reverse("app_restore", args=[batch_app.pk]))  # a second tab
    assert "nothing to restore" in said(again)[0][1] and AuditEvent.objects.filter(kind=Kind.APP_RESTORED).count() == 1
    history = logged_in(keyadmin).get(reverse("history"), {"view": "keys"}).context["page"].rows
    assert history[0].kind == Kind.APP_RESTORED


def test_new_keys_are_tested_as_they_are_saved(keyadmin, simulator, fast_client, app_keys):
    simulator.add_app(app_keys.api_key, app_keys.rest_api_key, audiences=[])
    client = logged_in(keyadmin)
    good = {"name": "Shop Android", "api_key": app_keys.api_key, "rest_api_key": app_keys.rest_api_key}
    [(level, text)] = said(client.post(reverse("app_create"), good))
    assert level == "success" and "was added" in text and "Connection test: The keys" in text and "work" in text
    app = BatchApp.objects.get(name="Shop Android")

    wrong = {"name": app.name, "rest_api_key": "revoked-0123456789abcdef"}
    [(level, text)] = said(client.post(reverse("app_edit", args=[app.pk]), wrong))
    assert level == "warning" and "was saved" in text and "connection test failed" in text  # saved anyway
    assert BatchApp.objects.get(pk=app.pk).rest_api_key_hint.endswith("cdef")
    row = client.get(reverse("app_list")).content.decode()
    assert "AUTHENTICATION_INVALID (401)" in row  # the warning stays on the app...

    client.post(reverse("app_edit", args=[app.pk]), {"name": app.name, "rest_api_key": app_keys.rest_api_key})
    assert "AUTHENTICATION_INVALID" not in client.get(reverse("app_list")).content.decode()  # ...until one passes
    tests = AuditEvent.objects.filter(kind=Kind.CONNECTION_TESTED, app=app).order_by("id")
    assert [e.http_status for e in tests] == [200, 401, 200]


def test_a_rename_alone_runs_no_test(keyadmin, batch_app):
    client = logged_in(keyadmin)
    [(level, _)] = said(client.post(reverse("app_edit", args=[batch_app.pk]), {"name": "Shop iOS (EU)"}))
    assert level == "success" and not AuditEvent.objects.filter(kind=Kind.CONNECTION_TESTED).exists()


def test_keys_changed_after_the_last_test_say_so(keyadmin, batch_app, fast_client):
    services.app_test_connection(actor=keyadmin, app=batch_app, ip=None)
    services.app_update(actor=keyadmin, app=batch_app, name=batch_app.name, rest_api_key="X" * 20, ip=None)
    assert "Keys changed since: not tested yet" in logged_in(keyadmin).get(reverse("app_list")).content.decode()


PROJECT_KEY = "project_0664hxvwffvbpn278gxdyhsadddqgna6"
PROJECT_REST = "RESTKEY-project-0123456789abcdef"


def test_a_cep_project_is_added_with_its_kind_and_its_keys_tested_the_cep_way(keyadmin, simulator, fast_client):
    simulator.add_project(PROJECT_KEY, PROJECT_REST, audiences=["spring-sale"])
    client = logged_in(keyadmin)
    form = {"name": "Shop CEP", "kind": "cep", "api_key": PROJECT_KEY, "rest_api_key": PROJECT_REST}
    [(level, text)] = said(client.post(reverse("app_create"), form))

    assert level == "success" and "work" in text
    app = BatchApp.objects.get(name="Shop CEP")
    assert app.kind == BatchApp.Kind.CEP and app.api_key_hint == "…gna6"
    [sent] = [r for r in simulator.requests if not r.path.startswith("/_sim")]
    assert (sent.method, sent.path, sent.query) == ("GET", "/2.11/audiences/list", "limit=1")
    assert sent.headers["Authorization"] == f"Bearer {PROJECT_REST}"
    assert sent.headers["X-Batch-Project"] == PROJECT_KEY
    page = client.get(reverse("app_list")).content.decode()
    assert "CEP project" in page and PROJECT_KEY not in page
    edit = client.get(reverse("app_edit", args=[app.pk])).content.decode()
    assert "Project key" in edit and PROJECT_KEY not in edit


def test_the_kind_of_an_app_cannot_change(keyadmin, batch_app, fast_client):
    client = logged_in(keyadmin)
    client.post(reverse("app_edit", args=[batch_app.pk]), {"name": batch_app.name, "kind": "cep"})
    assert BatchApp.objects.get(pk=batch_app.pk).kind == BatchApp.Kind.MEP


def test_pickers_name_each_app_with_its_kind(operator, batch_app, keyadmin, simulator, fast_client):
    simulator.add_project(PROJECT_KEY, PROJECT_REST)
    services.app_create(
        actor=keyadmin, name="Shop CEP", kind="cep", api_key=PROJECT_KEY, rest_api_key=PROJECT_REST, ip=None
    )
    page = logged_in(operator).get(reverse("audience_delete")).content.decode()
    assert '<optgroup label="MEP apps">' in page and '<optgroup label="CEP projects">' in page
    assert page.index("Shop iOS") < page.index("CEP projects") < page.index("Shop CEP")
