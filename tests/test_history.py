"""Searching and reviewing the audit trail: filters in the URL, keyset pages, detail, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audienceadmin import audit, dbclock, services
from audienceadmin.models import AuditEvent, BulkJob

pytestmark = pytest.mark.django_db
Outcome = AuditEvent.Outcome


@pytest.fixture
def client(viewer):
    c = Client()
    c.force_login(viewer)
    return c


@pytest.fixture
def attempts(operator, batch_app, fast_client, simulator):
    """55 attempts: spring-sale deleted, 54 on names that never existed (rejected, 404)."""
    results = [services.audience_delete(actor=operator, app=batch_app, name="spring-sale", ip="10.0.0.1")]
    for i in range(54):
        results.append(services.audience_delete(actor=operator, app=batch_app, name=f"aud-{i:02d}", ip=None))
    return results


def audiences(response) -> list[str]:
    return [row.requested.audience for row in response.context["page"].rows]


def test_pages_are_newest_first_with_newer_and_older_links(client, attempts):
    first = client.get(reverse("history"))
    assert audiences(first)[:2] == ["aud-53", "aud-52"]
    assert len(audiences(first)) == 50
    page = first.context["page"]
    assert page.newer is None and page.older is not None
    second = client.get(reverse("history"), {"before": page.older})
    assert audiences(second) == ["aud-03", "aud-02", "aud-01", "aud-00", "spring-sale"]
    assert second.context["page"].older is None
    back = client.get(reverse("history"), {"after": second.context["page"].newer})
    assert audiences(back) == audiences(first)
    assert 'rel="next"' in first.content.decode() and "before=" in first.content.decode()


def test_each_row_joins_the_requested_and_completed_events(client, attempts):
    rows = client.get(reverse("history"), {"audience": "spring-sale"}).context["page"].rows
    [row] = rows
    assert row.requested.kind == "delete_requested" and row.completed.kind == "delete_completed"
    assert row.outcome == Outcome.DELETED and row.completed.http_status == 200


def test_filters_combine_and_live_in_the_url(client, attempts, batch_app):
    by_outcome = client.get(reverse("history"), {"outcome": "deleted", "app": batch_app.pk})
    assert audiences(by_outcome) == ["spring-sale"]
    prefix = client.get(reverse("history"), {"audience": "aud-1", "prefix": "on"})
    assert audiences(prefix) == [f"aud-1{i}" for i in range(9, -1, -1)]
    assert audiences(client.get(reverse("history"), {"audience": "AUD-1", "prefix": "on"})) == []  # case-sensitive
    assert audiences(client.get(reverse("history"), {"audience": "aud-1"})) == []  # exact
    assert len(audiences(client.get(reverse("history"), {"actor": "otto", "outcome": "rejected"}))) == 50
    assert audiences(client.get(reverse("history"), {"actor": "nobody"})) == []
    html = client.get(reverse("history"), {"outcome": "deleted"}).content.decode()
    assert 'value="deleted" selected' in html  # the form shows the filter it applies


def test_who_matches_the_start_of_a_name_whatever_its_case(client, attempts, keyadmin, batch_app):
    services.app_update(actor=keyadmin, app=batch_app, name=batch_app.name, rest_api_key="NEWKEY-0123456789", ip=None)
    for typed in ("otto", "OTTO", "Ot", "o"):
        assert len(audiences(client.get(reverse("history"), {"actor": typed}))) == 50, typed
    assert audiences(client.get(reverse("history"), {"actor": "tto"})) == []  # the start of a name, not inside it
    everything = client.get(reverse("history"), {"view": "all", "actor": "KI"}).context["page"].rows
    assert {e.actor_username for e in everything} == {"kim"}
    both = client.get(reverse("history"), {"view": "all", "actor": "", "before": 10**6}).context["page"].rows
    assert {"otto", "kim"} <= {e.actor_username for e in both}
    assert {e.actor_username for e in client.get(reverse("history"), {"view": "all", "actor": "%"}).context[
        "page"
    ].rows} == set()  # fmt: skip
    csv_rows = csv_event_ids(client.get(reverse("history_export"), {"view": "keys", "actor": "KIM"}))
    assert csv_rows == {e.id for e in AuditEvent.objects.filter(actor_username="kim", kind__startswith="app_")}


def test_who_merges_several_names_newest_first_across_pages_and_in_the_csv(client):
    names = ["Oscar", "olga", "OTTO", "Owen"]
    for i in range(90):
        services.security_event_record(kind=AuditEvent.Kind.LOGIN_FAILED, ip="10.0.0.9", username=names[i % 4])
    services.security_event_record(kind=AuditEvent.Kind.LOGIN_FAILED, ip="10.0.0.9", username="vera")
    expected = list(
        AuditEvent.objects.filter(kind="login_failed")
        .exclude(actor_username="vera")
        .order_by("-id")
        .values_list("id", flat=True)
    )
    first = client.get(reverse("history"), {"view": "security", "actor": "o"}).context["page"]
    second = client.get(reverse("history"), {"view": "security", "actor": "o", "before": first.older}).context["page"]
    assert [e.id for e in first.rows] + [e.id for e in second.rows] == expected and second.older is None
    back = client.get(reverse("history"), {"view": "security", "actor": "o", "after": second.newer}).context["page"]
    assert [e.id for e in back.rows] == expected[:50]
    exported = csv_event_ids(client.get(reverse("history_export"), {"view": "security", "actor": "O"}))
    assert exported == set(expected)


@pytest.mark.parametrize("typed", ["OTTO", "o"])
def test_who_is_served_by_the_lower_case_index(client, attempts, typed):
    index = "actor_lower"  # audit_kind_actor_lower, or audit_actor_lower on a table this small
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("history"), {"actor": typed})
    [page_sql] = [q["sql"] for q in ctx.captured_queries if "ORDER BY" in q["sql"] and "LIMIT 51" in q["sql"]]
    with connection.cursor() as cursor:
        explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
        cursor.execute(explain + page_sql)
        plan = " ".join(str(row) for row in cursor.fetchall())
    if connection.vendor == "postgresql" and index not in plan:
        with connection.cursor() as cursor:  # a table this small may be scanned: make sure the index can serve
            cursor.execute("SET enable_seqscan = off")
            cursor.execute(explain + page_sql)
            plan = " ".join(str(row) for row in cursor.fetchall())
            cursor.execute("SET enable_seqscan = on")
    assert index in plan, plan


def test_date_filters(client, attempts):
    today = timezone.localdate()
    assert len(audiences(client.get(reverse("history"), {"since": today, "until": today}))) == 50
    assert audiences(client.get(reverse("history"), {"since": today + timedelta(days=1)})) == []
    assert audiences(client.get(reverse("history"), {"until": today - timedelta(days=1)})) == []
    bad = client.get(reverse("history"), {"since": today, "until": today - timedelta(days=1)})
    assert "“To” is before “From”" in bad.content.decode()


def test_key_and_security_views(client, attempts, keyadmin, batch_app, viewer):
    services.app_update(actor=keyadmin, app=batch_app, name=batch_app.name, rest_api_key="NEWKEY-0123456789", ip=None)
    keys = client.get(reverse("history"), {"view": "keys"}).context["page"].rows
    assert [e.kind for e in keys] == ["app_keys_changed", "app_created"]
    client.get(reverse("app_list"))  # a viewer may not: audited
    security = client.get(reverse("history"), {"view": "security"}).context["page"].rows
    assert [(e.kind, e.actor_username) for e in security] == [("permission_denied", "vera")]


def test_queries_per_page_do_not_grow_with_the_table(client, operator, batch_app, fast_client):
    def count_queries(params):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("history"), params).status_code == 200
        return len(ctx)

    services.audience_delete(actor=operator, app=batch_app, name="one", ip=None)
    client.get(reverse("history"))  # the once-a-minute work (session refresh, sweep) out of the way
    small = [count_queries({}), count_queries({"outcome": "rejected", "app": batch_app.pk})]
    for i in range(60):
        services.audience_delete(actor=operator, app=batch_app, name=f"more-{i}", ip=None)
    assert [count_queries({}), count_queries({"outcome": "rejected", "app": batch_app.pk})] == small


def test_no_count_and_no_offset(client, attempts):
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("history"), {"before": 60, "outcome": "rejected"})
    sql = " ".join(q["sql"].upper() for q in ctx.captured_queries)
    assert "COUNT(" not in sql and "OFFSET" not in sql


def test_the_detail_page_shows_both_events_with_their_macs(client, attempts):
    requested = AuditEvent.objects.filter(kind="delete_requested", audience="spring-sale").get()
    html = client.get(reverse("history_event", args=[requested.pk])).content.decode()
    for event in AuditEvent.objects.filter(attempt=requested.attempt):
        assert event.mac in html
    assert "Delete requested" in html and "Delete completed" in html and "HTTP 200" in html
    assert client.get(reverse("history_event", args=[10**9])).status_code == 404


def test_everything_has_an_audience_column_and_each_view_its_own_title(client, attempts):
    html = client.get(reverse("history"), {"view": "all"}).content.decode()
    assert '<th scope="col">Audience</th>' in html
    assert '<td data-label="Audience"><code class="name">aud-53</code></td>' in html
    titles = {view: client.get(reverse("history"), {"view": view}).content.decode().split("<title>")[1].split("<")[0]
              for view in ("deletions", "keys", "security", "people", "all")}  # fmt: skip
    assert titles["all"].startswith("Everything · History") and titles["keys"].startswith("Key changes")
    assert len(set(titles.values())) == 5


def test_the_detail_page_links_the_bulk_job_and_shows_the_preview_as_a_table(client, operator, batch_app):
    services.audience_delete(
        actor=operator,
        app=batch_app,
        name="spring-sale",
        ip=None,
        details={"preview": {"exists": True, "nb_ids": 18250, "type": "custom", "updated": "2018-06-29T14:59:03"}},
    )
    job = BulkJob.objects.create(app=batch_app, created_by=operator, concurrency=1)
    services.app_event_record(AuditEvent.Kind.BULK_QUEUED, actor=operator, app=batch_app, ip=None,
                              message="", details={"job": job.pk})  # fmt: skip
    requested = AuditEvent.objects.get(kind="delete_requested")
    html = client.get(reverse("history_event", args=[requested.pk])).content.decode()
    assert "{" not in html.split("<main")[1] and "&#x27;" not in html  # never a Python dict
    assert '<th scope="row">IDs</th><td>18,250</td>' in html
    assert "2018-06-29 14:59</time> <span" in html and "(Batch time)" in html
    queued = AuditEvent.objects.get(kind="bulk_queued")
    html = client.get(reverse("history_event", args=[queued.pk])).content.decode()
    assert f'<a href="{reverse("bulk_job", args=[job.pk])}">Bulk job {job.pk}</a>' in html


def test_a_reversed_date_range_says_so_and_lists_nothing(client, attempts):
    bad = client.get(reverse("history"), {"since": "2030-03-02", "until": "2030-03-01"})
    assert bad.status_code == 400 and bad.context["page"].rows == []
    assert "“To” is before “From”" in bad.content.decode() and "<tbody>" not in bad.content.decode()


def test_csv_export_streams_the_filtered_events_with_their_macs(client, attempts):
    response = client.get(reverse("history_export"), {"audience": "aud-0", "prefix": "on"})
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 20  # 10 attempts, two events each
    assert {r["audience"] for r in rows} == {f"aud-0{i}" for i in range(10)}
    assert [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)  # chain order
    for row in rows:  # each exported MAC is the database's
        assert AuditEvent.objects.get(pk=row["id"]).mac == row["mac"]


def test_an_exported_file_can_be_checked_against_the_chain(client, attempts):
    """The export carries prev_mac and mac: consecutive whole-table rows link up."""
    response = client.get(reverse("history_export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    deletions = AuditEvent.objects.filter(kind__in=["delete_requested", "delete_completed"]).count()
    assert len(rows) == deletions
    assert rows[0]["prev_mac"] in (audit.GENESIS, AuditEvent.objects.get(pk=int(rows[0]["id"]) - 1).mac)


def test_the_admin_changelist_needs_no_full_count(django_user_model, attempts):
    admin = django_user_model.objects.create_superuser("root", "", "pw-0123456789")
    c = Client()
    c.force_login(admin)
    with CaptureQueriesContext(connection) as ctx:
        response = c.get("/admin/audienceadmin/auditevent/")
    assert response.status_code == 200
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper() and "auditevent" in q["sql"]]
    assert counts == []


def test_times_and_days_are_the_operators(client, monkeypatch):
    """The browser names its timezone (tz cookie): times show in it, UTC on hover, and the date
    filters mean the operator's days. A zone the server does not know falls back to TIME_ZONE (UTC)."""
    at = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)  # 2 March, 05:30 in Tokyo
    with monkeypatch.context() as m:
        m.setattr(dbclock, "db_now", lambda using="default", **_: at)  # events take the database's time
        services.security_event_record(kind=AuditEvent.Kind.LOGIN_FAILED, ip=None, username="mallory")
    url = reverse("history")

    def page(zone: str, since: str) -> str:
        client.cookies["tz"] = zone
        return client.get(url, {"view": "security", "since": since}).content.decode()

    tokyo = page("Asia/Tokyo", "2026-03-02")
    assert "mallory" in tokyo and ">2026-03-02 05:30:00</time>" in tokyo
    assert 'title="2026-03-01 20:30:00 UTC' in tokyo and "Times are shown in Asia/Tokyo" in tokyo
    assert "mallory" not in page("UTC", "2026-03-02")
    utc = page("UTC", "2026-03-01")
    assert ">2026-03-01 20:30:00</time>" in utc and "Times are shown in UTC" in utc
    bogus = page("Mars/Olympus_Mons", "2026-03-01")
    assert ">2026-03-01 20:30:00</time>" in bogus and "Times are shown in UTC" in bogus


# --- the same filters, the same rows and the same errors for the page and its CSV ------------------


def page_event_ids(response) -> set[int]:
    ids = set()
    for row in response.context["page"].rows:
        events = [row.requested, row.completed] if hasattr(row, "requested") else [row]
        ids.update(e.id for e in events if e is not None)
    return ids


def csv_event_ids(response) -> set[int]:
    assert response.status_code == 200 and response.streaming
    return {int(r["id"]) for r in csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))}


@pytest.fixture
def around_tokyo_midnights(operator, batch_app, fast_client, monkeypatch):
    """Deletions and failed logins on each side of two midnights in Tokyo (UTC+9), in the future:
    an event's time is never before the previous event's (the chain's times grow)."""
    clock = [datetime(2030, 3, 1, 14, 30, tzinfo=UTC)]
    monkeypatch.setattr(timezone, "now", lambda: clock[0])
    monkeypatch.setattr(dbclock, "db_now", lambda using="default", **_: clock[0])  # events take the database's time
    times = {  # UTC time -> the Tokyo day it belongs to
        datetime(2030, 3, 1, 14, 30, tzinfo=UTC): "2030-03-01",  # 23:30 in Tokyo
        datetime(2030, 3, 1, 15, 30, tzinfo=UTC): "2030-03-02",  # 00:30 the next day in Tokyo
        datetime(2030, 3, 2, 14, 59, tzinfo=UTC): "2030-03-02",  # 23:59
        datetime(2030, 3, 2, 15, 1, tzinfo=UTC): "2030-03-03",  # 00:01
    }
    for i, at in enumerate(times):
        clock[0] = at
        services.audience_delete(actor=operator, app=batch_app, name="spring-sale" if i == 1 else f"aud-{i}", ip=None)
        services.security_event_record(kind=AuditEvent.Kind.LOGIN_FAILED, ip="10.0.0.9", username=f"guess-{i}")
    monkeypatch.undo()
    return times


FILTER_SETS = [
    {},
    {"since": "2030-03-02"},
    {"until": "2030-03-02"},
    {"since": "2030-03-02", "until": "2030-03-02"},
    {"outcome": "rejected"},
    {"outcome": "deleted", "since": "2030-03-02"},
    {"outcome": "rejected", "until": "2030-03-01"},
    {"audience": "aud-", "prefix": "on", "since": "2030-03-03"},
    {"actor": "otto", "until": "2030-03-02"},
    {"view": "all", "since": "2030-03-02", "until": "2030-03-02"},
    {"view": "security", "until": "2030-03-01"},
    {"view": "security", "outcome": "deleted"},  # no outcome in this view: ignored by both
]


@pytest.mark.parametrize("filters", FILTER_SETS)
def test_the_page_and_its_csv_list_the_same_events_in_the_operators_timezone(client, around_tokyo_midnights, filters):
    client.cookies["tz"] = "Asia/Tokyo"
    page = client.get(reverse("history"), filters)
    assert page.status_code == 200
    assert page_event_ids(page) == csv_event_ids(client.get(reverse("history_export"), filters))


def test_the_date_filters_of_the_csv_mean_the_operators_days(client, around_tokyo_midnights):
    client.cookies["tz"] = "Asia/Tokyo"
    response = client.get(reverse("history_export"), {"view": "security", "since": "2030-03-02", "until": "2030-03-02"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["actor_username"] for r in rows] == ["guess-1", "guess-2"]  # 00:30 and 23:59 in Tokyo


@pytest.mark.parametrize(
    ("zone", "params", "field"),
    [
        ("Pacific/Kiritimati", {"until": "9999-12-31"}, "To (inclusive)"),
        ("Pacific/Kiritimati", {"since": "0001-01-01"}, "From"),
        ("Etc/GMT+12", {"until": "9999-12-31"}, "To (inclusive)"),
        ("UTC", {"since": "0001-01-01", "until": "9999-12-31"}, "From"),
    ],
)
def test_a_date_out_of_range_is_an_error_for_the_page_and_the_csv(client, attempts, zone, params, field):
    client.cookies["tz"] = zone
    page = client.get(reverse("history"), params)
    assert page.status_code == 400
    error = "Choose a date between 0001-01-02 and 9999-12-30."
    assert error in page.content.decode() and page.context["page"].rows == []
    refused = client.get(reverse("history_export"), params)
    assert refused.status_code == 400 and not refused.streaming
    assert f"{field}: {error}" in refused.content.decode()


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12"])
def test_the_first_and_last_days_accepted_work_in_every_zone(client, attempts, zone):
    client.cookies["tz"] = zone
    params = {"since": "0001-01-02", "until": "9999-12-30"}
    assert len(audiences(client.get(reverse("history"), params))) == 50
    assert len(csv_event_ids(client.get(reverse("history_export"), params))) == 110


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"since": "2030-03-02", "until": "2030-03-01", "app": "1"}, "To (inclusive): “To” is before “From”."),
        ({"app": "999999", "outcome": "deleted"}, "App: Select a valid choice."),
        ({"outcome": "vanished"}, "Outcome: Select a valid choice."),
        ({"since": "yesterday"}, "From: Enter a valid date."),
    ],
)
def test_an_invalid_filter_refuses_the_csv_with_the_pages_error(client, attempts, params, error):
    page = client.get(reverse("history"), params)
    assert page.status_code == 400 and page.context["page"].rows == []
    assert error.split(": ", 1)[1] in page.content.decode().replace("&ldquo;", "“").replace("&rdquo;", "”")
    refused = client.get(reverse("history_export"), params)
    assert (refused.status_code, refused["Content-Type"]) == (400, "text/plain; charset=utf-8")
    assert error in refused.content.decode()  # never a file of other rows
