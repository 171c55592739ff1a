"""The two-person rule in a browser: operator A asks, operator B decides, both see the outcome."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from audienceadmin import services
from audienceadmin.models import BatchApp, DeletionRequest
from tests.conftest import make_user
from tests.e2e.conftest import login
from tests.e2e.flows import ask_to_delete, delete_requests, main_nav

AUDIENCE = "spring-sale"


@pytest.fixture
def policy_app(batch_app, keyadmin, batch_url):
    return services.app_update(
        actor=keyadmin,
        app=batch_app,
        name=batch_app.name,
        ip=None,
        approval_policy=BatchApp.ApprovalPolicy.SECOND_PERSON,
    )


@pytest.fixture
def second_operator(django_user_model, role_groups):
    from audienceadmin import roles

    return make_user(django_user_model, "bea", role_groups[roles.OPERATORS])


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()


def ask(page: Page, app: BatchApp, reason: str) -> DeletionRequest:
    ask_to_delete(page, app.name, AUDIENCE)
    expect(page.get_by_text("A second person must approve this deletion.")).to_be_visible()
    page.get_by_label("Type the audience name to confirm").fill(AUDIENCE)
    page.get_by_label("Why is this deletion needed?").fill(reason)
    page.get_by_role("button", name="Ask for approval").click()
    expect(page.get_by_role("status").first).to_contain_text("is waiting for approval by another operator")
    expect(page.get_by_text("Waiting for approval", exact=True)).to_be_visible()
    return DeletionRequest.objects.get()


def open_request_as(page: Page, live_server, user, asked: DeletionRequest) -> None:
    login(page, live_server, user)
    expect(main_nav(page).get_by_role("link", name="Requests")).to_be_visible()
    main_nav(page).get_by_role("link", name="Requests").click()
    page.get_by_role("link", name=f"Request {asked.pk}").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Deletion request {asked.pk}")


def test_a_asks_b_approves_the_audience_is_deleted_and_both_see_it(
    page, live_server, simulator, operator, second_operator, policy_app, app_keys
):
    login(page, live_server, operator)
    asked = ask(page, policy_app, "The spring sale is over")
    expect(page.get_by_role("button", name="Approve and delete now")).to_have_count(0)  # never their own
    assert delete_requests(simulator) == []
    log_out(page)

    login(page, live_server, second_operator)
    expect(page.get_by_role("heading", name="Deletion requests waiting for you")).to_be_visible()
    expect(main_nav(page).get_by_role("link", name="Requests")).to_contain_text("1")
    main_nav(page).get_by_role("link", name="Requests").click()
    page.get_by_role("link", name=f"Request {asked.pk}").first.click()
    expect(page.get_by_text("The spring sale is over")).to_be_visible()
    expect(page.get_by_role("rowheader", name="When asked")).to_be_visible()
    expect(page.get_by_role("rowheader", name="Now")).to_be_visible()
    page.get_by_role("button", name="Approve and delete now").click()
    expect(page.get_by_text("Approved and executed").first).to_be_visible()
    expect(page.get_by_text("Deleted", exact=True).first).to_be_visible()
    assert len(delete_requests(simulator)) == 1 and AUDIENCE not in simulator.audience_names(app_keys.api_key)
    log_out(page)

    open_request_as(page, live_server, operator, asked)
    expect(page.get_by_text("Approved and executed").first).to_be_visible()
    expect(page.get_by_text("bea").first).to_be_visible()


def test_b_rejects_with_a_comment_and_nothing_is_deleted(
    page, live_server, simulator, operator, second_operator, policy_app
):
    login(page, live_server, operator)
    asked = ask(page, policy_app, "Clean-up")
    log_out(page)
    open_request_as(page, live_server, second_operator, asked)
    page.get_by_label("Why reject? (required)").fill("Still targeted by the summer campaign")
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_text("Rejected", exact=True).first).to_be_visible()
    log_out(page)
    open_request_as(page, live_server, operator, asked)
    expect(page.get_by_text("Still targeted by the summer campaign")).to_be_visible()
    assert delete_requests(simulator) == []


def test_an_expired_request_cannot_be_approved(page, live_server, simulator, operator, second_operator, policy_app):
    login(page, live_server, operator)
    asked = ask(page, policy_app, "Clean-up")
    log_out(page)
    open_request_as(page, live_server, second_operator, asked)
    DeletionRequest.objects.filter(pk=asked.pk).update(expires_at=asked.created_at)  # time passes
    page.get_by_role("button", name="Approve and delete now").click()
    expect(page.get_by_role("alert").first).to_contain_text("This request has expired")
    expect(page.get_by_text("Expired", exact=True).first).to_be_visible()
    assert delete_requests(simulator) == []
