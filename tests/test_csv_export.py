"""CSV downloads: cells a spreadsheet would run as formulas are neutralised, in every export, and
the README's recovery rule gives the exact values back (so a row's MAC can be recomputed)."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from audienceadmin import audit, csv_export, selectors, services
from audienceadmin.models import AuditEvent

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://x","Click me")'
# Values a spreadsheet would run, values that already start with the mark, and plain ones.
TRICKY = [HYPERLINK, "+1", "-A1", "@SUM(A1:A9)", "\tTAB", "\rCR", "'=1+1", "'quoted", "plain", "", "-"]


def download(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_cells_that_would_run_are_marked_and_the_rest_left_alone():
    assert [csv_export.neutralised(v) for v in TRICKY] == [
        "'" + HYPERLINK, "'+1", "'-A1", "'@SUM(A1:A9)", "'\tTAB", "'\rCR", "''=1+1", "''quoted", "plain", "", "'-",
    ]  # fmt: skip
    assert [csv_export.neutralised(v) for v in (None, 0, 404, 1.5)] == [None, 0, 404, 1.5]


@given(st.text())
def test_the_recovery_rule_gives_every_value_back(value):
    cell = csv_export.neutralised(value)
    assert csv_export.original(cell) == value
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))  # nothing a spreadsheet would run


@given(st.lists(st.one_of(st.text(), st.integers(), st.none(), st.floats(allow_nan=False), st.uuids())))
def test_a_row_is_written_as_each_of_its_values_would_be(row):
    assert csv_export.cells(row) == [csv_export.neutralised(v) for v in row]


@pytest.fixture
def viewer_client(viewer):
    client = Client()
    client.force_login(viewer)
    return client


def test_a_failed_login_with_a_formula_exports_as_text(viewer_client):
    Client().post(reverse("account_login"), {"login": HYPERLINK, "password": "wrong-password-0123"})
    assert AuditEvent.objects.get(kind=AuditEvent.Kind.LOGIN_FAILED).actor_username == HYPERLINK

    [row] = download(viewer_client.get(reverse("history_export"), {"view": "security"}))
    assert row["actor_username"] == "'" + HYPERLINK
    assert csv_export.original(row["actor_username"]) == HYPERLINK


def test_an_audience_name_starting_with_a_dash_exports_as_text(viewer_client, operator, batch_app, fast_client):
    services.audience_delete(actor=operator, app=batch_app, name="-A1", ip=None)  # Batch has none: rejected
    rows = download(viewer_client.get(reverse("history_export")))
    assert [r["audience"] for r in rows] == ["'-A1", "'-A1"]  # requested and completed


def test_the_bulk_results_neutralise_cells_too(operator, batch_app):
    job = services.bulk_job_create(actor=operator, app=batch_app, names=["-A1", "plain"])
    client = Client()
    client.force_login(operator)
    rows = download(client.get(reverse("bulk_job_results", args=[job.pk])))
    assert [r["audience"] for r in rows] == ["'-A1", "plain"]


def test_header_and_columns_of_the_history_export():
    """The file's format: a verifier reads these columns, in this order."""
    assert selectors.EXPORT_FIELDS == (
        "id", "at", "kind", "attempt", "source", "actor_username", "app_name", "ip", "audience", "outcome",
        "http_status", "error_name", "error_code", "message", "tries", "duration_ms", "key_id", "prev_mac", "mac",
    )  # fmt: skip


INT_FIELDS = {"http_status", "tries", "duration_ms"}
NULLABLE_TEXT = {"attempt", "ip"}


def sealed_items_from_export(row: dict[str, str], event: AuditEvent) -> list:
    """The sealed values of an exported row, recovered by the README's rule. The export leaves out
    the row ids (actor_id, app_id) and the JSON details: those come from the event itself."""
    values = {}
    for field in audit.SEALED_FIELDS:
        if field in selectors.history.NOT_EXPORTED:
            values[field] = getattr(event, field)
            continue
        cell = csv_export.original(row[field])
        if field in INT_FIELDS:
            values[field] = int(cell) if cell else None
        elif field in NULLABLE_TEXT:
            values[field] = cell or None
        else:
            values[field] = cell
    return list(values.values())


def test_a_rows_mac_can_be_recomputed_from_the_export(viewer_client, operator, batch_app, fast_client):
    Client().post(reverse("account_login"), {"login": HYPERLINK, "password": "wrong-password-0123"})
    for name in ("-A1", "spring-sale"):
        services.audience_delete(actor=operator, app=batch_app, name=name, ip="10.0.0.7")
    for username in TRICKY:
        services.security_event_record(kind=AuditEvent.Kind.LOGIN_FAILED, ip=None, username=username)

    rows = download(viewer_client.get(reverse("history_export"), {"view": "all"}))
    assert len(rows) == AuditEvent.objects.count()
    keys = dict(audit.keys())
    for row in rows:
        event = AuditEvent.objects.get(pk=int(row["id"]))
        items = sealed_items_from_export(row, event)
        assert audit.seal(keys[row["key_id"]], row["prev_mac"], items) == row["mac"] == event.mac, row["id"]
    usernames = [csv_export.original(r["actor_username"]) for r in rows if r["kind"] == "login_failed"]
    assert usernames == [HYPERLINK, *TRICKY]
