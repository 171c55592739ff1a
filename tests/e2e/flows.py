"""Steps of the user flows, shared by the browser tests."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from audienceadmin.batch.simulator import BatchSimulator


def main_nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main")


def open_delete_form(page: Page) -> None:
    main_nav(page).get_by_role("link", name="Delete an audience").click()
    expect(page.get_by_role("heading", level=1, name="Delete an audience")).to_be_visible()


def ask_to_delete(page: Page, app_name: str, audience: str) -> None:
    """Step 1: pick the app, type the name, continue to the confirmation page."""
    open_delete_form(page)
    page.get_by_label("App", exact=True).select_option(label=app_name)
    page.get_by_label("Audience name").fill(audience)
    page.get_by_role("button", name="Continue").click()


def confirm_deletion(page: Page, typed: str) -> None:
    page.get_by_label("Type the audience name to confirm").fill(typed)
    page.get_by_role("button", name="Delete this audience").click()


def delete_requests(simulator: BatchSimulator) -> list:
    return [r for r in simulator.requests if r.method == "DELETE"]
