"""Browsing audiences, Batch's impact preview, and bulk deletion in the background, as an operator sees them.

Bulk jobs run in a real ``django_tasks_db`` worker (a thread of this process). The worker is started only
once the job page is on screen: the page then shows the job queued at 0%, and everything it shows later
came from its own polling, never from a reload.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import connection
from django_tasks_db.management.commands.db_worker import Worker
from playwright.sync_api import Frame, Locator, Page, expect

from audienceadmin.batch.simulator import BatchSimulator
from audienceadmin.models import BulkJob
from tests.e2e.conftest import login
from tests.e2e.flows import ask_to_delete, confirm_deletion, delete_requests, main_nav

JOB_TIMEOUT = 15_000  # ms: a job of ~20 items takes a few seconds, the page polls once a second
NOT_ATTEMPTED = "Not attempted (cancelled)"


@pytest.fixture
def task_worker(simulator) -> Iterator[Callable[[], None]]:
    """Returns ``start``: runs the real task worker in a thread until the end of the test.

    Depends on ``simulator`` (and, through the autouse fixture, on the database) so that it stops
    before either goes away. A job still running then is cancelled, so that the worker stops promptly.
    """
    worker = Worker(
        queue_names=["default"],
        interval=0.1,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="e2e",
        excluded_queue_names=[],
    )

    def run() -> None:
        try:
            worker.run()
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="e2e-task-worker", daemon=True)
    yield thread.start
    worker.running = False
    if thread.ident is not None:
        BulkJob.objects.filter(state__in=[BulkJob.State.QUEUED, BulkJob.State.RUNNING]).update(cancel_requested=True)
        thread.join(timeout=10)
        assert not thread.is_alive(), "the task worker did not stop"


def facts(page: Page) -> dict[str, str]:
    """A description list (``<dl>``) as terms → definitions."""
    terms = page.get_by_role("term").all_inner_texts()
    definitions = page.get_by_role("definition").all_inner_texts()
    return dict(zip(terms, definitions, strict=True))


def rows_with(page: Page, cell: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=cell, exact=True))


def row_names(rows: Locator) -> set[str]:
    return {row.get_by_role("code").inner_text() for row in rows.all()}


def deleted_names(simulator: BatchSimulator) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in delete_requests(simulator)]


def add_audiences(simulator: BatchSimulator, api_key: str, count: int) -> list[str]:
    names = [f"old-{i:02d}" for i in range(count)]
    for name in names:
        simulator.add_audience(api_key, name, nb_ids=10)
    return names


def check_list(page: Page, app_name: str, names: list[str]) -> None:
    """Bulk delete, step 1: paste the names and ask for the report."""
    page.get_by_label("App", exact=True).select_option(label=app_name)
    page.get_by_label("Audience names").fill("\n".join(names))
    page.get_by_role("button", name="Check the list").click()


def start_job(page: Page, count: int) -> None:
    """Bulk delete, step 2: type the number, start; lands on the job page."""
    page.get_by_label("Type the number of audiences to delete").fill(str(count))
    page.get_by_role("button", name="Start deleting").click()
    expect(page.get_by_role("heading", level=1, name=re.compile(r"^Bulk job \d+: "))).to_be_visible()


def main_frame_navigations(page: Page) -> list[str]:
    navigations: list[str] = []

    def on_navigated(frame: Frame) -> None:
        if frame == page.main_frame:
            navigations.append(frame.url)

    page.on("framenavigated", on_navigated)
    return navigations


def test_browse_pick_preview_delete(page, live_server, simulator, batch_url, batch_app, operator, app_keys):
    simulator.add_audience(app_keys.api_key, "big-one", type="custom_ids", nb_ids=4242)
    login(page, live_server, operator)

    main_nav(page).get_by_role("link", name="Audiences").click()  # one app: straight to its audiences
    expect(page.get_by_role("heading", level=1, name=f"Audiences of “{batch_app.name}”")).to_be_visible()
    listed = page.get_by_role("row").filter(has=page.get_by_role("code"))
    expect(listed).to_have_count(4)
    assert row_names(listed) == {"big-one", "spring-sale", "churned_q3", "beta"}
    big = rows_with(page, "big-one")
    expect(big.get_by_role("cell", name="4,242", exact=True)).to_be_visible()
    big.get_by_role("link", name="Delete… big-one").click()

    expect(page.get_by_role("heading", level=1, name="Delete audience big-one?")).to_be_visible()
    preview = facts(page)
    assert preview["App"] == batch_app.name
    assert preview["Audience"] == "big-one"
    assert preview["IDs in it"] == "4,242"
    assert preview["Type"] == "custom_ids"
    assert preview["Indexing"] == "APPLIED"
    assert delete_requests(simulator) == []

    confirm_deletion(page, "big-one")

    expect(page).to_have_url(re.compile(r"/history/$"))
    expect(page.get_by_role("status")).to_have_text(f"Audience “big-one” was deleted from app “{batch_app.name}”.")
    [request] = delete_requests(simulator)
    assert request.path == f"/1.1/{app_keys.api_key}/custom-audience/big-one"
    assert request.status == 200
    assert sorted(simulator.audience_names(app_keys.api_key)) == ["beta", "churned_q3", "spring-sale"]


def test_preview_says_the_audience_does_not_exist(
    page, live_server, simulator, batch_url, batch_app, operator, app_keys
):
    login(page, live_server, operator)
    ask_to_delete(page, batch_app.name, "never-existed")

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(f"Batch says app “{batch_app.name}” has no audience named never-existed.")
    expect(alert).to_contain_text("There is nothing to delete.")
    expect(page.get_by_role("button", name="Delete this audience")).to_have_count(0)
    expect(page.get_by_label("Type the audience name to confirm")).to_have_count(0)
    expect(page.get_by_role("link", name=f"Browse the audiences of {batch_app.name}")).to_be_visible()
    assert [(r.method, r.path) for r in simulator.requests] == [  # looked up in 1.1, then 1.0
        ("GET", f"/1.1/{app_keys.api_key}/custom-audience/never-existed"),
        ("GET", f"/1.0/{app_keys.api_key}/custom-audience/never-existed"),
    ]
    assert sorted(simulator.audience_names(app_keys.api_key)) == ["beta", "churned_q3", "spring-sale"]


def test_bulk_delete_with_live_progress(
    page, live_server, simulator, batch_url, batch_app, operator, app_keys, task_worker
):
    names = add_audiences(simulator, app_keys.api_key, 20)
    simulator.add_fault(action="error", error="MAINTENANCE_ERROR", audience="old-03")
    wanted = [*names, "never-existed"]
    login(page, live_server, operator)
    main_nav(page).get_by_role("link", name="Bulk delete").click()
    expect(page.get_by_role("heading", level=1, name="Delete several audiences")).to_be_visible()

    # A list with an invalid name is refused next to the field, with the name and the reason, and kept.
    check_list(page, batch_app.name, ["old-01", "bad name!", *wanted])
    box = page.get_by_label("Audience names")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field.has-error .errors")).to_contain_text(
        "Fix or remove these names: Batch would refuse them.“bad name!”: has characters Batch does not allow."
    )
    expect(page.get_by_role("button", name="Start deleting")).to_have_count(0)
    expect(page.get_by_label("App", exact=True)).to_have_value(str(batch_app.pk))

    # Fixed in the box, without typing the list again: the report counts the valid names, drops the duplicate.
    assert box.input_value().splitlines() == ["old-01", "bad name!", *wanted]
    box.fill(box.input_value().replace("bad name!\n", ""))
    page.get_by_role("button", name="Check the list").click()
    # never-existed is not in Batch's list (read once, a hundred a call): listed, and left out.
    expect(page.get_by_role("heading", level=1, name=f"Delete 20 audiences from “{batch_app.name}”?")).to_be_visible()
    report = page.locator("#review-report")
    expect(report).to_contain_text("21 names in the list (1 duplicate removed: old-01).")
    expect(report).to_contain_text("20 exist in Batch and will be deleted: 200 IDs in all.")
    expect(report).to_contain_text("1 is not in Batch and will not be sent: never-existed.")
    expect(page.get_by_text("invalid name")).to_have_count(0)
    expect(page.get_by_label("Type the number of audiences to delete")).to_be_focused()
    # every name is on the page before the count is typed, and can be searched
    names_list = page.locator("#review-names li")
    expect(names_list).to_have_count(21)
    page.get_by_label("Find a name").fill("NEVER")
    expect(names_list.filter(visible=True)).to_have_count(1)
    expect(page.get_by_text("1 of 21 names match.")).to_be_visible()
    assert {r.method for r in simulator.requests} == {"GET"}  # nothing deleted before the confirmation
    # deleted by someone else in the meantime: Batch answers 404 on delete
    simulator.add_fault(action="error", error="ROUTE_NOT_FOUND", audience="old-05", method="DELETE")
    start_job(page, 20)

    expect(page.get_by_role("status")).to_contain_text(f"queued: 20 audiences of app “{batch_app.name}”.")
    progress = page.get_by_role("progressbar", name="Progress")
    expect(progress).to_have_attribute("value", "0")
    expect(page.get_by_text("State: Queued", exact=True)).to_be_visible()
    expect(rows_with(page, "Waiting")).to_have_count(20)
    page.evaluate("() => { window.e2eSamePage = true; }")
    navigations = main_frame_navigations(page)

    task_worker()

    expect(progress).to_have_attribute("value", "100", timeout=JOB_TIMEOUT)
    expect(page.get_by_text("State: Finished", exact=True)).to_be_visible()
    expect(rows_with(page, "Deleted")).to_have_count(18)
    expect(rows_with(page, "Failed")).to_have_count(1)
    expect(rows_with(page, "Rejected by Batch")).to_have_count(0)
    expect(rows_with(page, "Not found (already deleted?)")).to_have_count(1)
    expect(page.get_by_text("18 deleted · 1 not found · 1 failed", exact=True)).to_be_visible()
    expect(page.get_by_role("status")).to_have_count(0)  # "queued…" is stale once the job has ended
    failed = rows_with(page, "old-03")
    expect(failed.get_by_role("cell", name="Failed", exact=True)).to_be_visible()
    expect(failed).to_contain_text("HTTP 503 MAINTENANCE_ERROR")
    expect(rows_with(page, "old-05").get_by_role("cell", name="Not found (already deleted?)")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)  # removed once the job ended
    counts = facts(page)
    assert (counts["Deleted"], counts["Failed"], counts["Rejected"], counts["Remaining"]) == ("18", "1", "0", "0")
    assert counts["Not found (already deleted?)"] == "1"
    assert navigations == []
    assert page.evaluate("() => window.e2eSamePage") is True

    download = page.get_by_role("link", name="Download results (CSV)")
    response = page.request.get(download.get_attribute("href"))
    assert response.ok
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text())))
    assert [r["audience"] for r in rows] == list(dict.fromkeys(["old-01", *names]))  # as pasted, once each
    outcomes = {r["audience"]: (r["outcome"], r["result"]) for r in rows}
    assert outcomes.pop("old-03") == ("failed", "Failed")
    assert outcomes.pop("old-05") == ("rejected", "Not found (already deleted?)")  # the audit's word stays
    assert set(outcomes.values()) == {("deleted", "Deleted")}

    assert sorted(deleted_names(simulator)) == sorted(names)  # each sent once; never-existed never
    assert sorted(simulator.audience_names(app_keys.api_key)) == [
        "beta", "churned_q3", "old-03", "old-05", "spring-sale"
    ]  # fmt: skip


def test_cancel_mid_job(page, live_server, simulator, batch_url, batch_app, operator, app_keys, settings, task_worker):
    settings.BULK_CONCURRENCY = 1
    names = add_audiences(simulator, app_keys.api_key, 20)
    simulator.latency = 0.3
    login(page, live_server, operator)
    main_nav(page).get_by_role("link", name="Bulk delete").click()
    check_list(page, batch_app.name, names)
    start_job(page, 20)
    expect(page.get_by_text("1 deletion at a time.")).to_be_visible()

    task_worker()

    expect(rows_with(page, "Deleted").first).to_be_visible(timeout=JOB_TIMEOUT)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("status")).to_have_text("Cancelling: audiences not yet started will not be deleted.")
    cancelled_at = time.monotonic()

    expect(page.get_by_text(re.compile(r"^State: Cancelled"))).to_be_visible(timeout=JOB_TIMEOUT)
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    expect(rows_with(page, "In progress")).to_have_count(0)
    expect(rows_with(page, "Waiting")).to_have_count(0)
    deleted = row_names(rows_with(page, "Deleted"))
    skipped = row_names(rows_with(page, NOT_ATTEMPTED))
    # the bar shows what was done, not a full bar; the stale "Cancelling…" message is gone
    bar = page.get_by_role("progressbar", name="Progress")
    expect(bar).to_have_attribute("value", str(round(100 * len(deleted) / 20)))
    expect(bar).to_have_class("state-cancelled")
    expect(page.get_by_role("status")).to_have_count(0)
    assert skipped, "the cancel came too late: every item was attempted"
    assert len(deleted) + len(skipped) == 20
    counts = facts(page)
    assert (counts["Deleted"], counts["Not attempted"]) == (str(len(deleted)), str(len(skipped)))

    sent = deleted_names(simulator)
    assert sorted(sent) == sorted(deleted)  # one DELETE per deleted row, none for the others
    assert not skipped & set(sent)
    late = [r.path.rsplit("/", 1)[-1] for r in delete_requests(simulator) if r.received_at > cancelled_at]
    assert len(late) <= 1 and set(late) <= deleted  # at most the one in flight when the cancel was recorded
    assert set(simulator.audience_names(app_keys.api_key)) == {"beta", "churned_q3", "spring-sale", *skipped}
