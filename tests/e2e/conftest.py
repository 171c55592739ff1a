"""Browser tests: Playwright's sync API driving the system Chromium against pytest-django's live server.

Every test here is marked ``e2e`` and runs with ``transactional_db`` (the live server thread must see
the test's data). The ``page`` fixture fails a test whose pages logged a console error, threw an
uncaught exception or violated the Content Security Policy; a test that provokes one on purpose
(a 403 page) says so with ``browser_problems.allow(...)``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import override_settings
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Playwright, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from tests.conftest import PASSWORD

# Playwright's sync API runs an event loop in the test thread; Django would otherwise refuse ORM
# calls made from it (fixtures, assertions on the database).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parents[1]
RESULTS_DIR = REPO_ROOT / "test-results"
VIEWPORT = {"width": 1280, "height": 900}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CSP_MARKERS = ("Content Security Policy", "Refused to")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.fixture(autouse=True)
def _e2e_database(transactional_db) -> None:
    """The live server runs in another thread: data must be committed for it to see."""


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest, django_db_setup) -> Iterator[LiveServer]:
    """pytest-django's live server, started over plain HTTP.

    Django's SecurityMiddleware reads SECURE_SSL_REDIRECT once, when the server builds its handler:
    the per-test ``settings`` fixtures come too late for this session-wide server, which would
    otherwise redirect every request to https://.
    """
    addr = request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    server = LiveServer(addr, start=False)
    with override_settings(SECURE_SSL_REDIRECT=False):
        server.start()
    yield server
    server.stop()


def chromium_path() -> str | None:
    candidates = [os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("AUDIENCEADMIN_REQUIRE_BROWSER"):  # CI installs Chromium: never skip there
            pytest.fail("No Chromium found, and AUDIENCEADMIN_REQUIRE_BROWSER is set")
        pytest.skip("No Chromium found (set CHROMIUM_PATH, or install /usr/bin/chromium)")
    browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class BrowserProblems:
    """Console errors, uncaught page errors and CSP violations seen during one test."""

    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    required: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str, *, required: bool = True) -> None:
        """Expect (and ignore) console errors matching ``pattern``; keep it as narrow as possible.

        A required problem that never shows up fails the test too, so allowances cannot go stale;
        ``required=False`` is for what the browser does on its own schedule (a favicon request).
        """
        self.allowed.append(re.compile(pattern))
        if required:
            self.required.append(self.allowed[-1])

    def on_console(self, message: ConsoleMessage) -> None:
        text = message.text
        if message.type == "error" or any(marker in text for marker in CSP_MARKERS):
            where = message.location.get("url", "")
            self.problems.append(f"console.{message.type}: {text} ({where})")

    def on_pageerror(self, error: Error) -> None:
        self.problems.append(f"pageerror: {error.message}")

    def unexpected(self) -> list[str]:
        found = [p for p in self.problems if not any(a.search(p) for a in self.allowed)]
        found += [f"expected but not seen: {a.pattern}" for a in self.required if not any(map(a.search, self.problems))]
        return found


@pytest.fixture
def browser_problems() -> BrowserProblems:
    return BrowserProblems()


@pytest.fixture
def page(
    request: pytest.FixtureRequest, browser: Browser, live_server, browser_problems: BrowserProblems
) -> Iterator[Page]:
    zone = request.node.get_closest_marker("browser_timezone")
    context = browser.new_context(
        base_url=live_server.url, viewport=VIEWPORT, timezone_id=zone.args[0] if zone else None
    )
    context.set_default_timeout(5_000)
    page = context.new_page()
    page.on("console", browser_problems.on_console)
    page.on("pageerror", browser_problems.on_pageerror)
    yield page
    reports = request.node.stash.get(_REPORTS, {})
    if browser_problems.unexpected() or any(r.failed for r in reports.values()):
        RESULTS_DIR.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        try:
            page.screenshot(path=RESULTS_DIR / f"{name}.png", full_page=True)
        except Error as exc:  # a crashed page must not hide the test's own failure
            print(f"Could not save a failure screenshot: {exc}")
    context.close()
    problems = browser_problems.unexpected()
    assert not problems, "The browser reported problems:\n" + "\n".join(problems)


def login(page: Page, live_server, user: AbstractBaseUser) -> None:
    """Log ``user`` in through the login form and wait for the home page."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name=f"Hello, {user.get_username()}")).to_be_visible()
