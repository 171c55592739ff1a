"""The audience browser as an operator uses it: search across the app, select the whole page, the
bar at the top counts the selection, and the selection goes to the bulk review."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import login
from tests.e2e.flows import main_nav


def test_search_select_the_page_and_review(page, live_server, simulator, batch_url, batch_app, operator, app_keys):
    for i in range(120):
        simulator.add_audience(app_keys.api_key, f"{'Promo' if i % 4 == 0 else 'aud'}-{i:03d}", nb_ids=1000 * i)
    login(page, live_server, operator)
    main_nav(page).get_by_role("link", name="Audiences").click()

    page.get_by_role("searchbox", name="Search by name").fill("promo")
    page.get_by_label("Per page").select_option("25")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.get_by_text("30 audiences whose name contains “promo”, across the whole app")).to_be_visible()
    boxes = page.get_by_role("checkbox", name=re.compile(r"^Select Promo-"))
    expect(boxes).to_have_count(25)

    bar = page.locator("#bulk-bar")
    delete = bar.get_by_role("button", name="Delete the selected audiences…")
    expect(delete).to_be_disabled()
    page.get_by_role("checkbox", name="Select every audience on this page").check()
    expect(bar).to_contain_text("25 selected")
    boxes.first.uncheck()
    expect(bar).to_contain_text("24 selected")
    expect(page.get_by_role("checkbox", name="Select every audience on this page")).not_to_be_checked()

    page.mouse.wheel(0, 3000)  # the bar stays on screen while the list scrolls
    expect(delete).to_be_in_viewport()
    delete.click()
    expect(page.get_by_role("heading", level=1, name=f"Delete 24 audiences from “{batch_app.name}”?")).to_be_visible()
