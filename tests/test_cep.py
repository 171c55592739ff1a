"""CEP projects (Audience API 2.x) end to end: the delete through the web and the CLI, its fault
matrix, what the audit records, and a bulk job in a project."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from audienceadmin import services
from audienceadmin.models import AuditEvent, BatchApp
from tests.conftest import delete_through_pages

pytestmark = pytest.mark.django_db
Kind, Outcome = AuditEvent.Kind, AuditEvent.Outcome
AUDIENCE = "spring-sale"
PROJECT_KEY = "project_0664hxvwffvbpn278gxdyhsadddqgna6"
PROJECT_REST = "RESTKEY-project-" + "7f3a9c" * 4


@pytest.fixture
def project(db, keyadmin, simulator, settings) -> BatchApp:
    simulator.add_project(PROJECT_KEY, PROJECT_REST, audiences=[AUDIENCE, "churned_q3", "beta"])
    return services.app_create(
        actor=keyadmin, name="Shop CEP", kind="cep", api_key=PROJECT_KEY, rest_api_key=PROJECT_REST, ip=None
    )


def removes(simulator) -> list:
    return [r for r in simulator.requests if r.path.endswith("/audiences/remove")]


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
def test_a_cep_delete_sends_one_remove_and_records_the_token(channel, operator, project, fast_client, simulator):
    shown = (run_web if channel == "web" else run_cli)(operator, project)

    assert "Batch accepted the removal" in shown and "Audience API 2.11" in shown
    [sent] = removes(simulator)
    assert (sent.method, sent.path) == ("POST", "/2.11/audiences/remove")
    assert sent.headers["Authorization"] == f"Bearer {PROJECT_REST}"
    assert sent.headers["X-Batch-Project"] == PROJECT_KEY
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == {"name": AUDIENCE}
    requested, completed = AuditEvent.objects.filter(audience=AUDIENCE).order_by("id")
    assert completed.outcome == Outcome.DELETED and completed.http_status == 202
    assert completed.message == "Batch accepted the removal"
    assert completed.details["indexing_token"]
    assert (completed.details["api"], completed.details["version"]) == ("cep", "2.11")
    assert (requested.details["api"], requested.details["version"]) == ("cep", "2.11")
    for text in (shown, completed.message, json.dumps(requested.details), json.dumps(completed.details)):
        assert PROJECT_KEY not in text and PROJECT_REST not in text


def test_the_web_preview_of_a_project_asks_audiences_view(operator, project, fast_client, simulator):
    client = Client()
    client.force_login(operator)
    page = client.get("/delete/", {"app": project.pk, "name": AUDIENCE}).content.decode()
    assert "Audience API 2.11" in page and "<dd>CEP project</dd>" in page  # the confirmation names the kind
    [view] = [r for r in simulator.requests if not r.path.startswith("/_sim")]
    assert (view.path, view.query) == ("/2.11/audiences/view", f"name={AUDIENCE}")
    assert PROJECT_KEY not in page


# fault, outcome, HTTP status, error name, tries, words shown
MATRIX = {
    "500 always": (
        {"action": "error", "error": "SERVER_ERROR"},
        Outcome.FAILED,
        500,
        "SERVER_ERROR",
        4,
        "server error",
    ),
    "503 always": (
        {"action": "error", "error": "MAINTENANCE_ERROR"},
        Outcome.FAILED,
        503,
        "MAINTENANCE_ERROR",
        4,
        "maintenance",
    ),
    "429 once, then fine": (
        {"action": "error", "error": "TOO_MANY_REQUESTS", "retry_after": "3", "times": 1},
        Outcome.DELETED,
        202,
        "",
        2,
        "accepted the removal",
    ),
    "500 twice, then fine": (
        {"action": "error", "error": "SERVER_ERROR", "times": 2},
        Outcome.DELETED,
        202,
        "",
        3,
        "accepted the removal",
    ),
    "timeout": ({"action": "timeout"}, Outcome.UNKNOWN, None, "", 1, "may or may not have deleted"),
    "dropped connection": ({"action": "drop"}, Outcome.UNKNOWN, None, "", 1, "connection lost"),
    "HTML 502 from a proxy": ({"action": "html"}, Outcome.FAILED, 502, "", 4, "server error"),
    "504 from a proxy": ({"action": "html", "status": 504}, Outcome.UNKNOWN, 504, "", 1, "may or may not"),
    "401 wrong key": (
        {"action": "error", "error": "AUTHENTICATION_INVALID"},
        Outcome.REJECTED,
        401,
        "AUTHENTICATION_INVALID",
        1,
        "key administrator should check",
    ),
    "400": (
        {"action": "error", "error": "MALFORMED_PARAMETER"},
        Outcome.REJECTED,
        400,
        "MALFORMED_PARAMETER",
        1,
        "as invalid",
    ),
}


@pytest.mark.parametrize("channel", ["web", "cli"])
@pytest.mark.parametrize("case", MATRIX)
def test_cep_fault_matrix(case, channel, operator, project, fast_client, simulator):
    fault, outcome, status, error_name, tries, words = MATRIX[case]
    simulator.add_fault(audience=AUDIENCE, method="POST", **fault)  # the remove, not the preview

    shown = (run_web if channel == "web" else run_cli)(operator, project)

    assert words in shown
    requested, completed = AuditEvent.objects.filter(audience=AUDIENCE).order_by("id")
    assert requested.source == channel and requested.details["api"] == "cep"
    assert (completed.outcome, completed.http_status, completed.error_name, completed.tries) == (
        outcome,
        status,
        error_name,
        tries,
    )
    assert len(removes(simulator)) == tries
    if outcome != Outcome.DELETED:  # nothing removed (the simulator applies a removal at once)
        assert AUDIENCE in simulator.cep_audience_names(PROJECT_KEY)
    for text in (shown, completed.message):
        assert PROJECT_KEY not in text and PROJECT_REST not in text


def test_a_remove_of_an_unknown_audience_is_rejected_with_batchs_words(operator, project, fast_client, simulator):
    client = Client()
    client.force_login(operator)
    response = delete_through_pages(client, project, "no-such-audience", follow=True)
    completed = AuditEvent.objects.get(kind=Kind.DELETE_COMPLETED)
    assert (completed.outcome, completed.http_status, completed.error_name) == (Outcome.REJECTED, 404, "NOT_FOUND")
    assert completed.message == "Not found"
    assert response.status_code == 200


def test_the_cli_refuses_an_api_version_for_a_project(project, simulator):
    with pytest.raises(CommandError) as excinfo:
        call_command("delete_audience", "--app", project.name, "--api-version", "1.0", AUDIENCE)
    assert excinfo.value.returncode == 2
    assert simulator.requests == []


@pytest.mark.django_db(transaction=True)
def test_a_bulk_job_in_a_project_removes_each_audience_once_and_follows_each_removal(
    operator, project, fast_client, simulator
):
    from audienceadmin import bulk_runner
    from audienceadmin.models import BulkJob, RemovalFollowUp

    names = [f"old-{i:02d}" for i in range(6)]
    for name in names:
        simulator.add_cep_audience(PROJECT_KEY, name)
    job = services.bulk_job_create(actor=operator, app=project, names=names)

    bulk_runner.bulk_job_run(job.pk)

    job.refresh_from_db()
    assert job.state == BulkJob.State.DONE
    assert sorted(json.loads(r.body)["name"] for r in removes(simulator)) == names
    assert {r.path for r in removes(simulator)} == {"/2.11/audiences/remove"}
    completed = AuditEvent.objects.filter(kind=Kind.DELETE_COMPLETED)
    assert [e.outcome for e in completed] == [Outcome.DELETED] * 6
    assert all(e.details["indexing_token"] and e.details["api"] == "cep" for e in completed)
    follow_ups = RemovalFollowUp.objects.all()
    assert follow_ups.count() == 6
    client = Client()
    client.force_login(operator)
    assert client.get(f"/bulk/{job.pk}/").content.decode().count("removal not confirmed yet") == 6
    for row in follow_ups:
        services.removal_check(row.pk)
    assert client.get(f"/bulk/{job.pk}/").content.decode().count("removal applied at") == 6


def test_the_browser_follows_a_projects_cursor_and_shows_its_count(
    operator, project, fast_client, simulator, monkeypatch
):
    from django.urls import reverse

    for i in range(3):
        simulator.add_cep_audience(PROJECT_KEY, f"extra-{i}")
    monkeypatch.setattr(services, "AUDIENCE_PAGE_SIZE", 4)
    client = Client()
    client.force_login(operator)
    url = reverse("audience_browse", args=[project.pk])

    first = client.get(url)

    listing = first.context["listing"]
    assert listing.count == 6 and len(listing.audiences) == 4 and listing.next_cursor
    html = first.content.decode()
    assert "<strong>6</strong> audiences in this project" in html and "Older →" in html
    second = client.get(url, {"from": listing.next_cursor}).context["listing"]
    names = {a["name"] for a in listing.audiences} | {a["name"] for a in second.audiences}
    assert len(second.audiences) == 2 and len(names) == 6 and not second.has_next
    lists = [r for r in simulator.requests if r.path == "/2.11/audiences/list"]
    assert lists[0].query == "limit=4" and f"from={listing.next_cursor}" in lists[1].query


def test_a_projects_whole_list_follows_the_cursor_for_search_and_the_bulk_review(
    operator, project, fast_client, simulator
):
    from django.urls import reverse

    for i in range(120):
        simulator.add_cep_audience(PROJECT_KEY, f"promo-{i:03d}")
    client = Client()
    client.force_login(operator)
    simulator.clear_requests()

    found = client.get(reverse("audience_browse", args=[project.pk]), {"q": "PROMO-11"}).context["listing"]

    assert sorted(a["name"] for a in found.audiences) == [f"promo-11{i}" for i in range(10)]
    lists = [r for r in simulator.requests if r.path == "/2.11/audiences/list"]
    assert len(lists) == 2 and "from=" not in lists[0].query and "from=" in lists[1].query  # 123 audiences
    review = client.post(reverse("bulk_new"), {"app": project.pk, "names": "promo-005\nbeta\ngone"})
    html = review.content.decode()
    assert "<strong>2</strong> exist in Batch" in html and "<code>gone</code>" in html
    assert removes(simulator) == []


def test_the_history_csv_says_each_apps_kind(operator, viewer, project, batch_app, fast_client, simulator):
    import csv
    import io

    from django.urls import reverse

    services.audience_delete(actor=operator, app=project, name=AUDIENCE, ip=None)
    services.audience_delete(actor=operator, app=batch_app, name="beta", ip=None)

    client = Client()
    client.force_login(viewer)
    response = client.get(reverse("history_export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    kinds = {(r["app_name"], r["app_kind"]) for r in rows if r["audience"]}
    assert kinds == {("Shop CEP", "CEP project"), (batch_app.name, "MEP app")}


def test_a_paced_projects_whole_list_is_read_ten_pages_at_most(project, fast_client, simulator, settings):
    """At Batch's 1/s, a page waiting on 20,000 audiences would wait minutes: it reads 1,000 and says so."""
    settings.BATCH_PROJECT_RATE = 10.0  # paced (fast enough for a test)
    for i in range(1050):
        simulator.add_cep_audience(PROJECT_KEY, f"bulk-{i:04d}")
    simulator.clear_requests()

    listing = services.all_audiences(app=project)

    assert not listing.complete and listing.calls == 10 and len(listing.audiences) == 1000
    assert "more than 1,000 audiences" in listing.error and "one call a second" in listing.error
    settings.BATCH_PROJECT_RATE = 0  # not paced: read whole
    assert services.all_audiences(app=project).complete
