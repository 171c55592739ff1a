"""The People page: invite (e-mail with a set-password link), change roles, deactivate, reactivate,
lift a lockout; each change is an audit event in the chain and shows in History → People."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from audienceadmin import audit, roles, selectors
from audienceadmin.models import AuditEvent
from tests.conftest import PASSWORD, make_user
from tests.signin import password_sign_in

pytestmark = pytest.mark.django_db
Kind = AuditEvent.Kind
NEW_PASSWORD = "a brand new password 7731"


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)


@pytest.fixture
def admin_client(root):
    client = Client()
    client.force_login(root)
    return client


def test_the_list_shows_roles_sign_in_mfa_and_status(admin_client, operator, viewer):
    html = admin_client.get(reverse("people")).content.decode()
    for text in ("otto", "vera", "Operators", "Viewers", "password", "none", "never"):
        assert text in html


def test_invite_a_person_who_sets_a_password_and_signs_in(
    admin_client, role_groups, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("person_invite"), {"username": "nina", "email": "Nina@Example.com", "role_names": [roles.VIEWERS]}
        )
    assert response.url == reverse("people")
    [message] = mail.outbox
    assert message.to == ["nina@example.com"] and "Your username: nina" in message.body
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", message.body).group(1)

    nina = Client()
    form_url = nina.get(link).url  # allauth moves the key into the session
    nina.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert password_sign_in(nina, "nina", NEW_PASSWORD).status_code == 302
    assert nina.get(reverse("history")).status_code == 200  # a Viewer
    again = Client().get(link, follow=True).content.decode()
    assert "Bad Token" in again or "invalid" in again.lower()  # the link works once

    invited = AuditEvent.objects.get(kind=Kind.USER_INVITED)
    assert (invited.actor_username, invited.message) == ("root", "nina: nina@example.com; Viewers")


def test_promote_deactivate_reactivate_and_unlock_are_audited(admin_client, operator, settings, role_groups):
    url = reverse("person_edit", args=[operator.pk])
    admin_client.post(url, {"role_names": [roles.OPERATORS, roles.KEY_ADMINISTRATORS]})
    assert selectors.role_names(operator) == [roles.KEY_ADMINISTRATORS, roles.OPERATORS]

    admin_client.post(reverse("person_deactivate", args=[operator.pk]))
    deactivated = Client()
    password_sign_in(deactivated, "otto", PASSWORD)
    assert deactivated.get(reverse("home")).status_code == 302  # to the login page: not signed in
    operator.refresh_from_db()
    assert not operator.is_active
    admin_client.post(reverse("person_reactivate", args=[operator.pk]))

    for _ in range(settings.AXES_FAILURE_LIMIT):
        password_sign_in(Client(), "otto", "wrong password")
    assert password_sign_in(Client(), "otto", PASSWORD).status_code == 429
    assert "Locked out" in admin_client.get(reverse("people")).content.decode()
    admin_client.post(reverse("person_unlock", args=[operator.pk]))
    assert password_sign_in(Client(), "otto", PASSWORD).status_code == 302

    kinds = list(AuditEvent.objects.filter(actor_username="root").order_by("id").values_list("kind", "message"))
    assert kinds == [
        (Kind.ROLES_CHANGED, "otto: Operators → Key administrators, Operators"),
        (Kind.USER_DEACTIVATED, "otto"),
        (Kind.USER_REACTIVATED, "otto"),
        (Kind.LOCKOUT_CLEARED, "otto: 1 lockout record(s) cleared"),
    ]
    assert audit.verify(audit.chain_rows()).ok
    people_tab = admin_client.get(reverse("history"), {"view": "people"}).context["page"].rows
    assert [row.kind for row in people_tab][:4] == [
        Kind.LOCKOUT_CLEARED,
        Kind.USER_REACTIVATED,
        Kind.USER_DEACTIVATED,
        Kind.ROLES_CHANGED,
    ]


def test_a_user_administrator_manages_people_but_not_superusers(useradmin, root, operator):
    client = Client()
    client.force_login(useradmin)
    assert client.get(reverse("people")).status_code == 200
    client.post(reverse("person_edit", args=[operator.pk]), {"role_names": [roles.VIEWERS]})
    assert selectors.role_names(operator) == [roles.VIEWERS]
    assert client.post(reverse("person_deactivate", args=[root.pk])).status_code == 403
    root.refresh_from_db()
    assert root.is_active


def test_nobody_deactivates_themselves(admin_client, root):
    admin_client.post(reverse("person_deactivate", args=[root.pk]))
    root.refresh_from_db()
    assert root.is_active


def test_an_invitation_to_a_taken_username_or_address_is_refused(admin_client, django_user_model):
    make_user(django_user_model, "nina", email="nina@example.com")
    response = admin_client.post(reverse("person_invite"), {"username": "NINA", "email": "nina@example.com"})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(kind=Kind.USER_INVITED).exists()


def test_changing_who_may_do_what_needs_a_recent_sign_in(sign_in_policies, root, operator):
    from tests.signin import age_sign_in, enrol_totp, totp_code

    enrol_totp(root)  # MFA is required of superusers
    client = Client()
    password_sign_in(client, "root", PASSWORD)
    client.post(reverse("mfa_authenticate"), {"code": totp_code()})
    age_sign_in(client, minutes=20)

    url = reverse("person_edit", args=[operator.pk])
    assert "Confirm it's you" in client.get(url).content.decode()
    refused = client.post(url, {"role_names": [roles.KEY_ADMINISTRATORS]})
    assert refused.url.startswith(reverse("account_reauthenticate"))
    assert selectors.role_names(operator) == [roles.OPERATORS]
    assert client.post(reverse("person_deactivate", args=[operator.pk])).url.startswith(
        reverse("account_reauthenticate")
    )
    operator.refresh_from_db()
    assert operator.is_active

    back = client.post(refused.url, {"password": PASSWORD})
    form = client.get(back.url).context["form"]
    assert form.initial["role_names"] == [roles.KEY_ADMINISTRATORS]  # what was ticked is kept
    client.post(url, {"role_names": [roles.KEY_ADMINISTRATORS]})
    assert selectors.role_names(operator) == [roles.KEY_ADMINISTRATORS]
