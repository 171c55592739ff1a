"""The golden path of issue #2 and its main detours, as a person in a browser sees them."""

from __future__ import annotations

import os
import re
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator, Page, expect

from audienceadmin import services
from audienceadmin.models import AuditEvent
from tests.e2e.conftest import REPO_ROOT, login
from tests.e2e.flows import ask_to_delete, confirm_deletion, delete_requests, main_nav

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
APP_NAME = "Shop iOS"


def take_screenshot(page: Page, name: str) -> None:
    """Refresh the README's screenshots, only when asked to (AUDIENCEADMIN_SCREENSHOTS=1)."""
    if os.environ.get("AUDIENCEADMIN_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(SCREENSHOTS, name), full_page=True)


def assert_no_keys(page: Page, *keys: str) -> None:
    html = page.content()
    for key in keys:
        assert key not in html, f"a key appears in the HTML of {page.url}"


def history_row(page: Page, audience: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("cell", name=audience, exact=True))


def test_golden_path(page, live_server, simulator, batch_url, keyadmin, operator, app_keys):
    simulator.add_app(app_keys.api_key, app_keys.rest_api_key, audiences=["spring-sale", "churned_q3", "beta"])
    keys = (app_keys.api_key, app_keys.rest_api_key)

    # A key administrator adds the app: afterwards only the hints are shown, never the keys.
    login(page, live_server, keyadmin)
    main_nav(page).get_by_role("link", name="Apps & keys").click()
    page.get_by_role("link", name="Add an app").click()
    page.get_by_label("Display name").fill(APP_NAME)
    page.get_by_label("Batch API key").fill(app_keys.api_key)
    page.get_by_label("REST API key").fill(app_keys.rest_api_key)
    page.get_by_role("button", name="Add app").click()

    expect(page.get_by_role("status")).to_contain_text(f"App “{APP_NAME}” was added.")
    expect(page.get_by_role("status")).to_contain_text("Connection test: The keys")  # tested as they are saved
    tested = simulator.requests
    assert [(r.method, r.path.endswith("/custom-audience"), r.status) for r in tested] == [("GET", True, 200)]
    simulator.clear_requests()
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=APP_NAME, exact=True))
    expect(row.get_by_role("cell", name=f"…{app_keys.api_key[-4:]}", exact=True)).to_be_visible()
    expect(row.get_by_role("cell", name=f"…{app_keys.rest_api_key[-4:]}", exact=True)).to_be_visible()
    assert_no_keys(page, *keys)
    row.get_by_role("link", name=f"Edit {APP_NAME}").click()
    expect(page.get_by_text(f"Stored key ends in …{app_keys.api_key[-4:]}")).to_be_visible()
    assert_no_keys(page, *keys)

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", level=1, name="Log in")).to_be_visible()

    # An operator deletes an audience of that app, confirming on a second page.
    login(page, live_server, operator)
    ask_to_delete(page, APP_NAME, "spring-sale")

    expect(page.get_by_role("heading", level=1, name="Delete audience spring-sale?")).to_be_visible()
    warning = page.get_by_text("This cannot be undone.").locator("..").locator("..")
    expect(warning).to_contain_text("This cannot be undone.")
    expect(warning).to_contain_text("Batch will treat it as an empty audience")
    expect(page.get_by_text(APP_NAME, exact=True)).to_be_visible()
    assert_no_keys(page, *keys)
    expect(page.get_by_text("IDs in it", exact=True)).to_be_visible()  # Batch's impact preview
    # the preview, in Custom Audience API 1.1 then 1.0; nothing deleted yet
    assert [(r.method, r.path.split("/")[1]) for r in simulator.requests] == [("GET", "1.1"), ("GET", "1.0")]
    take_screenshot(page, "confirm.png")

    confirm_deletion(page, "spring-sale")

    expect(page).to_have_url(re.compile(r"/history/$"))
    expect(page.get_by_role("status")).to_have_text(f"Audience “spring-sale” was deleted from app “{APP_NAME}”.")
    row = history_row(page, "spring-sale")
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell", name="Deleted", exact=True)).to_be_visible()
    expect(row.get_by_role("cell", name=operator.username, exact=True)).to_be_visible()
    expect(row.get_by_role("cell", name=APP_NAME, exact=True)).to_be_visible()
    assert_no_keys(page, *keys)
    take_screenshot(page, "history.png")

    [request] = [r for r in simulator.requests if r.method == "DELETE"]  # exactly one delete
    assert (request.method, request.path) == ("DELETE", f"/1.1/{app_keys.api_key}/custom-audience/spring-sale")
    assert request.headers["X-Authorization"] == app_keys.rest_api_key
    assert request.status == 200
    assert simulator.audience_names(app_keys.api_key) == ["beta", "churned_q3"]


def test_invalid_name_is_refused_next_to_the_field(page, live_server, simulator, batch_url, batch_app, operator):
    login(page, live_server, operator)
    ask_to_delete(page, batch_app.name, "spring sale!")

    expect(page.get_by_role("heading", level=1, name="Delete an audience")).to_be_visible()
    name_field = page.get_by_label("Audience name")
    expect(name_field).to_have_value("spring sale!")
    expect(name_field).to_have_attribute("aria-invalid", "true")
    expect(name_field).to_have_accessible_description(re.compile(r"“spring sale!” is not a valid audience name"))
    expect(page.get_by_role("button", name="Delete this audience")).to_have_count(0)
    assert simulator.requests == []


def test_mismatched_confirmation_keeps_the_operator_on_the_confirmation_page(
    page, live_server, simulator, batch_url, batch_app, operator, app_keys, browser_problems
):
    browser_problems.allow(r"status of 400 \(Bad Request\) \(http://localhost:\d+/delete/confirm/\)$")
    login(page, live_server, operator)
    ask_to_delete(page, batch_app.name, "spring-sale")
    confirm_deletion(page, "Spring-sale")

    expect(page).to_have_url(re.compile(r"/delete/confirm/$"))
    expect(page.get_by_role("heading", level=1, name="Delete audience spring-sale?")).to_be_visible()
    confirm_field = page.get_by_label("Type the audience name to confirm")
    expect(confirm_field).to_have_accessible_description(
        re.compile(r"The name you typed does not match the audience to delete")
    )
    expect(page.get_by_role("button", name="Delete this audience")).to_be_visible()
    assert [r.method for r in simulator.requests] == ["GET"] * len(simulator.requests)  # previews only
    assert "spring-sale" in simulator.audience_names(app_keys.api_key)


def test_batch_in_maintenance_is_reported_and_recorded_as_failed(
    page, live_server, simulator, batch_url, batch_app, operator, app_keys, settings
):
    settings.BATCH_API_MAX_TRIES = 2
    simulator.add_fault(action="error", error="MAINTENANCE_ERROR", audience="churned_q3")
    login(page, live_server, operator)
    ask_to_delete(page, batch_app.name, "churned_q3")
    confirm_deletion(page, "churned_q3")

    expect(page).to_have_url(re.compile(r"/history/$"))
    message = page.get_by_role("alert")
    expect(message).to_contain_text("Batch is in maintenance")
    expect(message).to_contain_text(f"audience “churned_q3” was not deleted from app “{batch_app.name}”")
    expect(message).not_to_contain_text("was deleted")
    row = history_row(page, "churned_q3")
    expect(row.get_by_role("cell", name="Failed", exact=True)).to_be_visible()
    expect(row).to_contain_text("HTTP 503 MAINTENANCE_ERROR")

    tries = delete_requests(simulator)
    assert [(r.path, r.status, r.fault) for r in tries] == [
        (f"/1.1/{app_keys.api_key}/custom-audience/churned_q3", 503, "error")
    ] * 2
    assert "churned_q3" in simulator.audience_names(app_keys.api_key)


def test_viewer_sees_history_but_may_not_delete(page, live_server, viewer, browser_problems):
    browser_problems.allow(r"status of 403 \(Forbidden\) \(http://localhost:\d+/delete/\)$")
    login(page, live_server, viewer)
    nav = main_nav(page)
    expect(nav.get_by_role("link", name="Delete an audience")).to_have_count(0)
    nav.get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", level=1, name="History")).to_be_visible()

    response = page.goto("/delete/")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="You may not do this")).to_be_visible()


@pytest.mark.browser_timezone("Asia/Tokyo")
def test_times_show_in_the_browsers_timezone_with_utc_on_hover(page, live_server, batch_app, operator, viewer):
    services.audience_delete(actor=operator, app=batch_app, name="beta", ip=None)
    at = AuditEvent.objects.get(kind=AuditEvent.Kind.DELETE_REQUESTED).at
    login(page, live_server, viewer)  # the login page has told the server the browser's zone
    main_nav(page).get_by_role("link", name="History").click()
    expect(page.get_by_text("Times are shown in Asia/Tokyo")).to_be_visible()
    shown = history_row(page, "beta").locator("time")
    expect(shown).to_have_text(at.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M:%S"))
    assert shown.get_attribute("title") == at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") + " UTC"
