"""Signing in as a person does: single sign-on through the test OpenID Connect provider (its roles
from the groups claim, re-authentication before a delete), TOTP, and a passkey held by Chromium's
virtual authenticator (the DevTools protocol's WebAuthn domain)."""

from __future__ import annotations

import re

import pytest
from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.mfa.models import Authenticator
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import Page, expect

from audienceadmin.models import AuditEvent
from tests.conftest import PASSWORD
from tests.e2e.flows import ask_to_delete, delete_requests, main_nav
from tests.oidc_provider import PASSWORD as IDP_PASSWORD
from tests.signin import totp_code

Kind = AuditEvent.Kind


def age_browser_sign_in(page: Page, minutes: float) -> None:
    """Pretend the browser's sign-in happened ``minutes`` ago (rather than wait for it)."""
    [cookie] = [c for c in page.context.cookies() if c["name"] == "sessionid" and c["domain"] == "localhost"]
    session = SessionStore(session_key=cookie["value"])
    records = session[AUTHENTICATION_METHODS_SESSION_KEY]
    for record in records:
        record["at"] -= minutes * 60
    session[AUTHENTICATION_METHODS_SESSION_KEY] = records
    session.save()


def sign_in_at_the_idp(page: Page, username: str) -> None:
    expect(page.get_by_role("heading", name="Test IdP")).to_be_visible()
    page.get_by_label("IdP username").fill(username)
    page.get_by_label("IdP password").fill(IDP_PASSWORD)
    page.get_by_role("button", name="Sign in at the IdP").click()


def password_sign_in(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_sso_gives_the_role_of_the_groups_asks_again_before_a_delete_and_deletes(
    page, live_server, sso, sign_in_policies, simulator, batch_url, batch_app, app_keys
):
    sso.allow_redirect_uri(f"{live_server.url}/accounts/oidc/company/login/callback/")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_role("button", name="Sign in with Corp").click()
    sign_in_at_the_idp(page, "alice@corp.example")

    expect(page.get_by_role("heading", level=1, name="Hello, alice@corp.example")).to_be_visible()
    expect(main_nav(page).get_by_role("link", name="Delete an audience")).to_be_visible()  # aa-operators

    age_browser_sign_in(page, minutes=16)
    ask_to_delete(page, batch_app.name, "beta")
    expect(page.get_by_role("heading", level=1, name="Delete audience beta?")).to_be_visible()
    expect(page.get_by_text("your last sign-in was more than 15 minutes ago")).to_be_visible()
    page.get_by_label("Type the audience name to confirm").fill("beta")
    page.get_by_role("button", name="Delete this audience").click()  # refused: nothing is deleted

    expect(page.get_by_role("heading", level=1, name="Confirm it's you")).to_be_visible()
    assert delete_requests(simulator) == []
    page.get_by_role("button", name="Sign in with Corp again").click()
    sign_in_at_the_idp(page, "alice@corp.example")  # prompt=login: the IdP asks again

    expect(page.get_by_role("heading", level=1, name="Delete audience beta?")).to_be_visible()
    expect(page.get_by_text("your last sign-in was more than 15 minutes ago")).to_have_count(0)
    expect(page.get_by_label("Type the audience name to confirm")).to_have_value("beta")  # kept
    page.get_by_role("button", name="Delete this audience").click()

    expect(page).to_have_url(re.compile(r"/history/$"))
    expect(page.get_by_role("status")).to_have_text(f"Audience “beta” was deleted from app “{batch_app.name}”.")
    [request] = delete_requests(simulator)
    assert request.path == f"/1.1/{app_keys.api_key}/custom-audience/beta"
    requested = AuditEvent.objects.get(kind=Kind.DELETE_REQUESTED)
    assert requested.actor_username == "alice@corp.example"
    sign_ins = AuditEvent.objects.filter(kind=Kind.LOGIN_SUCCEEDED, actor_username="alice@corp.example")
    assert sign_ins.count() == 2  # the sign-in and the re-authentication, both through the IdP


def test_an_operator_enrols_totp_before_anything_else_then_signs_in_with_a_code(
    page, live_server, operator, sign_in_policies
):
    password_sign_in(page, live_server, "otto")
    expect(page.get_by_role("heading", level=1, name="Two-Factor Authentication")).to_be_visible()
    expect(page.get_by_text("Your role requires two-factor authentication")).to_be_visible()
    page.goto(f"{live_server.url}/delete/")
    expect(page.get_by_role("heading", level=1, name="Two-Factor Authentication")).to_be_visible()  # not yet

    page.get_by_role("link", name="Activate").click()
    page.get_by_label("Password").fill(PASSWORD)  # allauth confirms it is them before MFA changes
    page.get_by_role("button", name="Confirm").click()
    secret = page.get_by_label("Authenticator secret").input_value()
    page.get_by_label("Authenticator code").fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("Authenticator app activated.")).to_be_visible()
    main_nav(page).get_by_role("link", name="Delete an audience").click()
    expect(page.get_by_role("heading", level=1, name="Delete an audience")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    password_sign_in(page, live_server, "otto")
    page.get_by_label("Code").fill(_fresh_code(secret))
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", level=1, name="Hello, otto")).to_be_visible()
    assert AuditEvent.objects.filter(kind=Kind.LOGIN_SUCCEEDED, message="password + totp").exists()


def _fresh_code(secret: str) -> str:
    """The current code, once the one used to activate is spent (codes work once per 30 seconds)."""
    from django.core.cache import cache

    cache.clear()
    return totp_code(secret)


@pytest.fixture
def virtual_authenticator(page: Page):
    """A platform authenticator in Chromium (user verified, presence simulated): a passkey holder."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    yield cdp, authenticator["authenticatorId"]
    cdp.send("WebAuthn.disable")


def test_a_passkey_is_a_second_factor(page, live_server, operator, sign_in_policies, virtual_authenticator):
    cdp, authenticator_id = virtual_authenticator
    password_sign_in(page, live_server, "otto")
    expect(page.get_by_role("heading", level=1, name="Two-Factor Authentication")).to_be_visible()
    page.get_by_role("link", name="Add").click()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_label("Name").fill("Laptop passkey")
    page.get_by_role("button", name="Add").click()  # the browser asks the authenticator
    expect(page.get_by_text("Security key added.")).to_be_visible()
    assert Authenticator.objects.get(user=operator, type=Authenticator.Type.WEBAUTHN).wrap().name == "Laptop passkey"
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]) == 1

    page.goto(f"{live_server.url}/")
    page.get_by_role("button", name="Log out").click()
    password_sign_in(page, live_server, "otto")
    page.get_by_role("button", name="Use a security key").click()
    expect(page.get_by_role("heading", level=1, name="Hello, otto")).to_be_visible()
    assert AuditEvent.objects.filter(kind=Kind.LOGIN_SUCCEEDED, message="password + webauthn").exists()
