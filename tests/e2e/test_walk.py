"""Walk every page as each role, on a desktop and a phone: no server error, no console error, no CSP
violation, no serious or critical accessibility violation (axe-core), nothing wider than the screen.

The pages come from the URLconf (every GET-able route), so a new page is walked without being listed.
A role that may not see a page gets the 403 page; that refusal is the only console error allowed.

axe-core comes inside the ``axe-playwright-python`` package (its ``axe.min.js``): nothing is
downloaded. ``ACCEPTED`` lists the rules let through, each with its reason (none today).
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import URLPattern, get_resolver, reverse
from playwright.sync_api import Page

from audienceadmin import roles, services
from audienceadmin.models import AuditEvent, BulkJob
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import login
from tests.test_security import CLOSED

# login: every walk; probes: not pages; closed: allauth pages not offered (404 for everyone, in
# test_security); SSO re-authentication: only for people who sign in through SSO (tests/e2e/test_sso.py)
SKIP = {"login", "healthz", "readyz", "reauthenticate_sso", *CLOSED}
# allauth's pages for one's own account (under accounts/, an include the loop below does not enter).
ACCOUNT_PAGES = [
    "mfa_index",
    "mfa_activate_totp",
    "mfa_add_webauthn",
    "mfa_list_webauthn",
    "account_change_password",
    "account_reauthenticate",
    "account_logout",
]


AXE = Axe()
BLOCKING = ("serious", "critical")
# axe rule id -> why a violation of it is accepted. Keep it short, and empty when possible.
ACCEPTED: dict[str, str] = {}
WIDTHS = {"desktop": 1366, "phone": 390}


def accessibility_problems(page: Page) -> list[str]:
    """The serious and critical axe-core violations on the page, but for the accepted rules."""
    violations = AXE.run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:4]}"
        for v in violations
        if v["impact"] in BLOCKING and v["id"] not in ACCEPTED
    ]


def overflow(page: Page) -> list[str]:
    """What is wider than the screen, or than its card (a table may scroll inside its own box)."""
    return page.evaluate(
        """() => {
          const found = [];
          if (document.documentElement.scrollWidth > window.innerWidth + 1)
            found.push("page " + document.documentElement.scrollWidth + "px");
          for (const card of document.querySelectorAll(".card, .filters, .alert, .message"))
            if (card.scrollWidth > card.clientWidth + 1)
              found.push((card.className || card.tagName) + " " + card.scrollWidth);
          return found;
        }"""
    )


def walkable_urls(ids: dict[str, int]) -> list[str]:
    urls = []
    for entry in get_resolver().url_patterns:
        if not isinstance(entry, URLPattern) or not entry.name or entry.name in SKIP or "(?P" in str(entry.pattern):
            continue
        route = str(entry.pattern)
        if route.endswith(".csv") or route.endswith(".json"):
            continue  # downloads, not pages (their permissions are in the matrix test)
        if "<int:pk>" in route:
            prefixes = {"bulk/": "job", "history/": "event", "people/": "person", "requests/": "request"}
            kind = next((k for p, k in prefixes.items() if route.startswith(p)), "app")
            urls.append(reverse(entry.name, args=[ids[kind]]))
        else:
            urls.append(reverse(entry.name))
    return urls + [reverse(name) for name in ACCOUNT_PAGES]


@pytest.mark.parametrize("screen", WIDTHS)
@pytest.mark.parametrize("role", ["viewer", "operator", "keyadmin", "useradmin", "superuser"])
def test_every_page_as_every_role(
    role, screen, page, live_server, request, batch_app, batch_url, django_user_model, role_groups, browser_problems
):
    user = (
        django_user_model.objects.create_superuser("root", "", PASSWORD)
        if role == "superuser"
        else request.getfixturevalue(role)
    )
    operator = request.getfixturevalue("operator") if role != "operator" else user
    services.audience_delete(actor=operator, app=batch_app, name="beta", ip=None)
    job = BulkJob.objects.create(app=batch_app, created_by=operator, concurrency=1)
    event = AuditEvent.objects.order_by("-id").first().pk
    services.app_update(actor=None, app=batch_app, name=batch_app.name, ip=None, approval_policy="second_person")
    other = make_user(django_user_model, "bea", role_groups[roles.OPERATORS])
    asked = services.deletion_request_create(
        actor=other, app=batch_app, audiences=["spring-sale"], reason="A reason long enough to wrap " * 4, ip=None
    )  # a pending request: its page shows the decision forms to whoever may decide
    ids = {"app": batch_app.pk, "event": event, "job": job.pk, "person": operator.pk, "request": asked.pk}
    browser_problems.allow(r"status of 403 \(Forbidden\)", required=False)
    page.set_viewport_size({"width": WIDTHS[screen], "height": 900})
    login(page, live_server, user)
    walked, problems = [], {}
    for url in walkable_urls(ids):
        if page.request.get(url, max_redirects=0).status == 405:  # a POST-only route: nothing to see
            continue
        response = page.goto(url)
        assert response is not None and response.status < 500, (url, response and response.status)
        assert response.status in (200, 403), (url, response.status)
        assert page.get_by_role("heading", level=1).count() >= 1, url  # a real page, with a title
        walked.append((url, response.status))
        if found := accessibility_problems(page) + overflow(page):
            problems[url] = found
    assert not problems, problems
    assert len(walked) >= 10
    if role == "superuser":
        assert all(status == 200 for _, status in walked), walked
