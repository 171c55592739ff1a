"""What a person using a keyboard, a screen reader or a phone gets, checked in Chromium: the current
page marked in the navigation, a visible focus ring and input borders of at least 3:1 against what
surrounds them (WCAG 1.4.11), a navigation that collapses on a phone, tables whose stacked rows keep
their column labels, and audience names and dates that never break inside."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from audienceadmin import services
from tests.e2e.conftest import login
from tests.e2e.flows import main_nav

CONTRAST = """([a, b]) => {
  const rgb = (c) => c.match(/[0-9.]+/g).slice(0, 3).map(Number);
  const linear = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = (c) => { const [r, g, bl] = rgb(c).map(linear); return 0.2126 * r + 0.7152 * g + 0.0722 * bl; };
  const [l1, l2] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (l1 + 0.05) / (l2 + 0.05);
}"""


def contrast(page: Page, a: str, b: str) -> float:
    return page.evaluate(CONTRAST, [a, b])


def background_behind(page: Page, selector: str) -> str:
    """The first opaque background colour among the element's ancestors (what its ring sits on)."""
    return page.evaluate(
        """(sel) => { let el = document.querySelector(sel).parentElement;
             while (el) { const c = getComputedStyle(el).backgroundColor;
               if (c && !c.endsWith(", 0)") && c !== "transparent") return c; el = el.parentElement; }
             return "rgb(255, 255, 255)"; }""",
        selector,
    )


@pytest.fixture
def operator_page(page, live_server, operator, batch_app, batch_url):
    services.audience_delete(actor=operator, app=batch_app, name="churned_q3", ip=None)
    login(page, live_server, operator)
    return page


def test_the_navigation_marks_the_current_page(operator_page):
    page = operator_page
    page.goto("/history/")
    current = main_nav(page).locator('[aria-current="page"]')
    expect(current).to_have_count(1)
    expect(current).to_have_text("History")
    page.locator("tbody a").first.click()  # an event's page belongs to History too
    expect(main_nav(page).locator('[aria-current="page"]')).to_have_text("History")
    page.goto("/bulk/")
    expect(main_nav(page).locator('[aria-current="page"]')).to_have_text("Bulk delete")


@pytest.mark.parametrize("where", ["main", "topbar"])
def test_the_focus_ring_is_visible_at_3_to_1(operator_page, where):
    page = operator_page
    page.goto("/history/")
    target = "#f-actor" if where == "main" else ".topbar nav a"
    page.locator(target).first.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focused from the keyboard: :focus-visible
    ring = page.evaluate(
        """(sel) => { const s = getComputedStyle(document.querySelector(sel));
                      return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }""",
        target,
    )
    assert ring[0] == "solid" and float(ring[1].rstrip("px")) >= 2, ring
    assert contrast(page, ring[2], background_behind(page, target)) >= 3, (ring, background_behind(page, target))


def test_input_borders_stand_out_at_3_to_1(operator_page):
    page = operator_page
    page.goto("/history/")
    for selector in ("#f-actor", "#f-app", "#f-since"):
        border = page.evaluate("(s) => getComputedStyle(document.querySelector(s)).borderTopColor", selector)
        assert contrast(page, border, "rgb(255, 255, 255)") >= 3, (selector, border)


def test_on_a_phone_the_navigation_collapses_and_tables_keep_their_labels(operator_page):
    page = operator_page
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/history/")
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(main_nav(page)).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(main_nav(page).get_by_role("link", name="History")).to_be_visible()
    page.keyboard.press("Escape")
    expect(main_nav(page)).to_be_hidden()
    label = page.evaluate(
        """() => getComputedStyle(document.querySelector('tbody td[data-label="Audience"]'), '::before').content"""
    )
    assert label == '"Audience"'
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_names_and_dates_do_not_break_inside_on_a_desktop(operator_page):
    page = operator_page
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto("/history/")
    for selector in ("tbody td[data-label='Audience'] code", "tbody time"):
        box = page.locator(selector).first.bounding_box()
        line = float(
            page.evaluate("(s) => parseFloat(getComputedStyle(document.querySelector(s)).lineHeight) || 20", selector)
        )
        assert box is not None and box["height"] < 1.6 * line, (selector, box)
