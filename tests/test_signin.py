"""Signing in with a password and MFA (TOTP, recovery codes), MFA enrolment required by role,
re-authentication before the dangerous steps, and the audit of all of it."""

from __future__ import annotations

import re

import pytest
from allauth.mfa.models import Authenticator
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from audienceadmin import fields
from audienceadmin.models import AuditEvent, BatchApp, BulkJob
from tests.conftest import PASSWORD
from tests.signin import TOTP_SECRET, age_sign_in, enrol_totp, password_sign_in, totp_code

pytestmark = pytest.mark.django_db
Kind = AuditEvent.Kind


# --- TOTP ----------------------------------------------------------------------------------------


def test_a_password_then_a_totp_code_signs_in_and_a_wrong_code_is_audited(operator):
    enrol_totp(operator)
    client = Client()
    response = password_sign_in(client, "otto", PASSWORD)
    assert response.status_code == 302 and response.url == reverse("mfa_authenticate")
    assert client.get(reverse("home")).status_code == 302  # not signed in yet

    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000" if totp_code() != "000000" else "111111"})
    assert wrong.status_code == 200 and "Incorrect code" in wrong.content.decode()
    assert AuditEvent.objects.get(kind=Kind.MFA_FAILED).message == "wrong totp code or key"

    assert client.post(reverse("mfa_authenticate"), {"code": totp_code()}).status_code == 302
    assert client.get(reverse("home")).status_code == 200
    signed_in = AuditEvent.objects.get(kind=Kind.LOGIN_SUCCEEDED)
    assert (signed_in.actor, signed_in.message) == (operator, "password + totp")


def test_totp_secrets_are_stored_encrypted(operator):
    enrol_totp(operator)
    stored = Authenticator.objects.get(user=operator, type=Authenticator.Type.TOTP).data["secret"]
    assert TOTP_SECRET not in stored and fields.decrypt(stored) == TOTP_SECRET


def test_mfa_codes_are_throttled(operator):
    enrol_totp(operator)
    client = Client()
    password_sign_in(client, "otto", PASSWORD)
    for _ in range(12):
        response = client.post(reverse("mfa_authenticate"), {"code": "999999"})
    assert "Too many failed" in response.content.decode()
    assert client.post(reverse("mfa_authenticate"), {"code": totp_code()}).status_code == 200  # still refused


# --- MFA required ----------------------------------------------------------------------------------


def test_with_mfa_required_an_operator_reaches_no_delete_page_until_enrolled(
    sign_in_policies, operator, batch_app, django_capture_on_commit_callbacks
):
    client = Client()
    password_sign_in(client, "otto", PASSWORD)
    pages = ["home", "audience_delete", "audience_browse_pick", "bulk_new", "history"]
    for name in pages:
        response = client.get(reverse(name))
        assert (response.status_code, response.url) == (302, reverse("mfa_index")), name
    posted = client.post(
        reverse("audience_delete_confirm"), {"app": batch_app.pk, "name": "beta", "confirm_name": "beta"}
    )
    assert (posted.status_code, posted.url) == (302, reverse("mfa_index"))
    assert "add an authenticator app or a security key first" in client.get(reverse("mfa_index")).content.decode()

    # Enrol through the pages: allauth asks for the password again, then shows the secret.
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302 and response.url.startswith(reverse("account_reauthenticate"))
    client.post(response.url, {"password": PASSWORD})
    page = client.get(reverse("mfa_activate_totp"))
    secret = page.context["form"].secret
    assert 'src="data:image/svg+xml;base64,' in page.content.decode()  # the QR code, CSP-safe
    with django_capture_on_commit_callbacks(execute=True):  # allauth signals after the commit
        assert client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)}).status_code == 302
    assert Authenticator.objects.filter(user=operator, type=Authenticator.Type.TOTP).exists()
    assert AuditEvent.objects.filter(kind=Kind.MFA_CHANGED, message="otto: totp added").exists()

    for name in pages:
        response = client.get(reverse(name))
        assert response.status_code == 200 or response.url != reverse("mfa_index"), name


def test_mfa_required_leaves_viewers_alone_and_catches_superusers(sign_in_policies, viewer, django_user_model):
    client = Client()
    password_sign_in(client, "vera", PASSWORD)
    assert client.get(reverse("history")).status_code == 200
    django_user_model.objects.create_superuser("root", "", PASSWORD)
    admin = Client()
    password_sign_in(admin, "root", PASSWORD)
    assert admin.get(reverse("home")).url == reverse("mfa_index")
    assert admin.get("/admin/").url == reverse("mfa_index")


def test_the_admin_signs_in_through_allauth(django_user_model):
    django_user_model.objects.create_superuser("root", "", PASSWORD)
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response.url.startswith(reverse("account_login"))


# --- re-authentication ------------------------------------------------------------------------------


def confirm_url_and_data(app: BatchApp, name: str) -> dict:
    return {"app": app.pk, "name": name, "confirm_name": name}


def test_a_recent_sign_in_deletes_without_asking_again(sign_in_policies, operator, batch_app, fast_client, simulator):
    enrol_totp(operator)
    client = Client()
    password_sign_in(client, "otto", PASSWORD)
    client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    confirmation = client.get(reverse("audience_delete"), {"app": batch_app.pk, "name": "beta"})
    assert "Confirm it's you" not in confirmation.content.decode()
    form = confirm_url_and_data(batch_app, "beta") | {"ticket": confirmation.context["ticket"]}
    response = client.post(reverse("audience_delete_confirm"), form)
    assert response.url == reverse("history")
    assert [r.method for r in simulator.requests if r.method == "DELETE"] == ["DELETE"]


def test_an_old_sign_in_must_re_authenticate_before_deleting_and_keeps_what_was_typed(
    sign_in_policies, operator, batch_app, fast_client, simulator
):
    enrol_totp(operator)
    client = Client()
    password_sign_in(client, "otto", PASSWORD)
    client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    age_sign_in(client, minutes=16)

    page = client.get(reverse("audience_delete"), {"app": batch_app.pk, "name": "beta"}).content.decode()
    assert "Confirm it's you" in page and "more than 15 minutes ago" in page

    refused = client.post(reverse("audience_delete_confirm"), confirm_url_and_data(batch_app, "beta"))
    assert refused.status_code == 302 and refused.url.startswith(reverse("account_reauthenticate") + "?next=")
    assert [r for r in simulator.requests if r.method == "DELETE"] == []  # nothing deleted

    # Re-authenticate with the authenticator app (the password would do too), then back to the page.
    reauth = client.get(refused.url)
    assert reauth.status_code == 200
    mfa = client.get(reverse("mfa_reauthenticate") + "?" + refused.url.split("?", 1)[1])
    assert mfa.status_code == 200
    cache.clear()  # the sign-in's code is spent for its 30 seconds: the next period's code
    back = client.post(mfa.request["PATH_INFO"] + "?" + mfa.request["QUERY_STRING"], {"code": totp_code()})
    assert back.status_code == 302 and back.url.startswith(reverse("audience_delete") + "?app=")
    again = client.get(back.url)
    page = again.content.decode()
    assert "Confirm it's you" not in page
    assert re.search(r'name="confirm_name" value="beta"', page)  # what was typed is there
    assert re.search(rf'name="app" value="{batch_app.pk}"', page) and re.search(r'name="name" value="beta"', page)
    form = confirm_url_and_data(batch_app, "beta") | {"ticket": again.context["ticket"]}  # the page's new ticket
    assert client.post(reverse("audience_delete_confirm"), form).url == reverse("history")
    assert len([r for r in simulator.requests if r.method == "DELETE"]) == 1
    assert AuditEvent.objects.filter(kind=Kind.LOGIN_SUCCEEDED, message="re-authenticated: totp").exists()


def test_an_old_sign_in_must_re_authenticate_before_starting_a_bulk_job(sign_in_policies, viewer, operator, batch_app):
    client = Client()
    password_sign_in(client, "otto", PASSWORD)
    enrol_totp(operator)
    age_sign_in(client, minutes=20)
    review = client.post(reverse("bulk_new"), {"app": batch_app.pk, "names": "beta\nspring-sale"})
    assert "Confirm it's you" in review.content.decode()
    refused = client.post(reverse("bulk_confirm"), {"app": batch_app.pk, "names": "beta\nspring-sale", "count": 2})
    assert refused.url.startswith(reverse("account_reauthenticate"))
    assert not BulkJob.objects.exists()
    back = client.post(refused.url, {"password": PASSWORD})
    page = client.get(back.url)
    assert page.context["report"].valid == ["beta", "spring-sale"] and page.context["form"]["count"].value() == "2"
    response = client.post(reverse("bulk_confirm"), {"app": batch_app.pk, "names": "beta\nspring-sale", "count": 2})
    assert response.status_code == 302 and BulkJob.objects.count() == 1


def test_changing_keys_or_access_needs_a_recent_sign_in_but_a_rename_does_not(
    sign_in_policies, keyadmin, batch_app, operator
):
    client = Client()
    password_sign_in(client, "kim", PASSWORD)
    enrol_totp(keyadmin)
    age_sign_in(client, minutes=30)
    url = reverse("app_edit", args=[batch_app.pk])
    assert "Confirm it's you" in client.get(url).content.decode()
    refused = client.post(url, {"name": batch_app.name, "api_key": "NEW-API-KEY-0123456789", "rest_api_key": ""})
    assert refused.url.startswith(reverse("account_reauthenticate"))
    assert not AuditEvent.objects.filter(kind=Kind.APP_KEYS_CHANGED).exists()
    refused = client.post(
        url, {"name": batch_app.name, "api_key": "", "rest_api_key": "", "allowed_operators": [operator.pk]}
    )
    assert refused.url.startswith(reverse("account_reauthenticate"))
    assert client.post(url, {"name": "Renamed", "api_key": "", "rest_api_key": ""}).url == reverse("app_list")
    client.post(refused.url, {"password": PASSWORD})
    assert client.post(
        url, {"name": "Renamed", "api_key": "NEW-API-KEY-0123456789", "rest_api_key": ""}
    ).url == reverse("app_list")
    assert AuditEvent.objects.filter(kind=Kind.APP_KEYS_CHANGED).exists()
    for event in AuditEvent.objects.all():
        assert "NEW-API-KEY" not in str(event.details) + event.message
