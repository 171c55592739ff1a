"""The confirmation page as an operator uses it: focus where the name is typed, errors that take focus
and are announced, a delete that cannot be sent twice and says it is under way, and no delete offered
when Batch has already refused the app's keys."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import login
from tests.e2e.flows import ask_to_delete, delete_requests, open_delete_form

# What a page shows while Batch takes its time, noted where the next page can read it (sessionStorage);
# and whether a second submit in that time (a double click, Enter again) was stopped.
NOTE_BUSY = """() => document.querySelector("form[data-busy]").addEventListener("submit", (event) => {
    const form = event.target, button = form.querySelector("button[type=submit]");
    setTimeout(() => {
        const again = new Event("submit", {cancelable: true});
        form.dispatchEvent(again);
        sessionStorage.setItem("busy", JSON.stringify([button.textContent, button.disabled,
            form.getAttribute("aria-busy"), again.defaultPrevented]));
    }, 50);
})"""


def test_focus_errors_and_a_single_delete_that_says_it_is_under_way(
    page, live_server, simulator, batch_url, batch_app, operator, app_keys, browser_problems
):
    browser_problems.allow(r"status of 400 \(Bad Request\) \(http://localhost:\d+/delete/confirm/\)$")
    login(page, live_server, operator)
    # A slow preview: the form the operator left says what is happening, not a dead page.
    simulator.add_fault(action="delay", method="GET", latency=1.0, times=1)
    open_delete_form(page)
    page.get_by_label("App", exact=True).select_option(label=batch_app.name)
    page.get_by_label("Audience name").fill("spring-sale")
    page.evaluate(NOTE_BUSY)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1, name="Delete audience spring-sale?")).to_be_visible()
    assert page.evaluate("() => JSON.parse(sessionStorage.getItem('busy'))") == [
        "Asking Batch about the audience…",
        True,
        "true",
        True,
    ]
    field = page.get_by_label("Type the audience name to confirm")
    expect(field).to_be_focused()  # the operator types at once

    field.fill("Spring-sale")
    page.get_by_role("button", name="Delete this audience").click()
    field = page.get_by_label("Type the audience name to confirm")
    expect(field).to_be_focused()  # the error takes focus...
    expect(page.get_by_role("alert")).to_contain_text("does not match")  # ...and is announced

    simulator.add_fault(action="delay", method="DELETE", latency=1.5)
    field.fill("spring-sale")
    button = page.get_by_role("button", name="Delete this audience")
    page.evaluate(NOTE_BUSY)
    button.click()
    expect(page).to_have_url(re.compile(r"/history/$"), timeout=10_000)
    assert page.evaluate("() => JSON.parse(sessionStorage.getItem('busy'))") == ["Deleting…", True, "true", True]
    assert len(delete_requests(simulator)) == 1


def test_a_preview_refused_for_the_keys_offers_no_delete(
    page, live_server, simulator, batch_url, batch_app, operator, keyadmin, app_keys
):
    simulator.add_fault(action="error", error="AUTHENTICATION_INVALID", method="GET")
    login(page, live_server, operator)
    ask_to_delete(page, batch_app.name, "spring-sale")
    expect(page.get_by_role("alert")).to_contain_text("No delete is offered: it cannot work with these keys.")
    expect(page.get_by_role("alert")).to_contain_text("Ask a key administrator")
    expect(page.get_by_role("button", name="Delete this audience")).to_have_count(0)
    expect(page.get_by_label("Type the audience name to confirm")).to_have_count(0)
    expect(page.get_by_role("link", name=f"Check the keys of {batch_app.name}")).to_have_count(0)

    simulator.clear_faults()  # the keys work again: the delete is offered again
    page.reload()
    expect(page.get_by_role("button", name="Delete this audience")).to_be_visible()
    assert delete_requests(simulator) == []
