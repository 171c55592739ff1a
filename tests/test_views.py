from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from audienceadmin.models import AuditEvent, BatchApp
from tests.conftest import PASSWORD, delete_through_pages

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def start_delete(client, app, name):
    return client.post(reverse("audience_delete"), {"app": app.pk, "name": name})


def confirm_delete(client, app, name, typed=None):
    return client.post(
        reverse("audience_delete_confirm"),
        {"app": app.pk, "name": name, "confirm_name": name if typed is None else typed},
    )


@pytest.mark.parametrize("url_name", ["home", "history", "audience_delete", "app_list", "app_create"])
def test_every_page_requires_login(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


@pytest.mark.parametrize(
    ("role", "url_name", "expected"),
    [
        ("viewer", "history", 200),
        ("viewer", "audience_delete", 403),
        ("viewer", "app_list", 403),
        ("operator", "audience_delete", 200),
        ("operator", "history", 200),
        ("operator", "app_list", 403),
        ("operator", "app_create", 403),
        ("keyadmin", "app_list", 200),
        ("keyadmin", "app_create", 200),
        ("keyadmin", "history", 200),
        ("keyadmin", "audience_delete", 403),
    ],
)
def test_roles_see_only_their_pages(request, role, url_name, expected):
    user = request.getfixturevalue(role)
    assert logged_in(user).get(reverse(url_name)).status_code == expected


def test_login_with_the_form_works(client, operator):
    response = client.post(reverse("account_login"), {"login": "otto", "password": PASSWORD}, follow=True)
    assert response.context["user"] == operator
    assert b"Delete an audience" in response.content


def test_logout_is_post_only(operator):
    client = logged_in(operator)
    assert client.get(reverse("account_logout")).status_code == 200  # a page that asks; nobody is logged out
    assert client.get(reverse("home")).status_code == 200
    assert client.post(reverse("account_logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302  # logged out


def test_csrf_is_enforced_on_the_delete(operator, batch_app, simulator):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    assert confirm_delete(client, batch_app, "beta").status_code == 403
    assert simulator.requests == []


def test_invalid_names_are_refused_next_to_the_field_before_any_request(operator, batch_app, simulator):
    client = logged_in(operator)
    for bad in ["spring sale", "x/y", "é", "a" * 256, ""]:
        response = start_delete(client, batch_app, bad)
        assert response.status_code == 200
        assert response.templates[0].name == "audienceadmin/delete_form.html"
        assert response.context["form"].errors["name"]
    assert "is not a valid audience name" in start_delete(client, batch_app, "a b").content.decode()
    assert simulator.requests == []
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.DELETE_REQUESTED).exists()


def test_step_one_shows_the_confirmation_page_without_deleting(operator, batch_app, simulator, fast_client):
    response = start_delete(logged_in(operator), batch_app, "beta")
    html = response.content.decode()
    assert "This cannot be undone" in html
    assert "empty audience" in html
    assert "Shop iOS" in html and "beta" in html
    # the impact preview, in 1.1 then 1.0; nothing deleted
    assert [(r.method, r.path.split("/")[1]) for r in simulator.requests] == [("GET", "1.1"), ("GET", "1.0")]
    assert "install IDs, Custom Audience API 1.1" in html


def test_confirming_with_a_mismatched_name_deletes_nothing(operator, batch_app, simulator):
    response = confirm_delete(logged_in(operator), batch_app, "beta", typed="Beta")
    assert response.status_code == 400
    assert "does not match" in response.content.decode()
    assert simulator.requests == []


def test_posting_an_invalid_name_straight_to_confirm_deletes_nothing(operator, batch_app, simulator):
    response = confirm_delete(logged_in(operator), batch_app, "../beta")
    assert response.status_code == 302 and response.url == reverse("audience_delete")
    assert simulator.requests == []


def test_a_confirmed_delete_calls_batch_once_and_says_so(operator, batch_app, fast_client, simulator, app_keys):
    response = delete_through_pages(logged_in(operator), batch_app, "beta")
    assert response.status_code == 302 and response.url == reverse("history")

    page = logged_in(operator).get(response.url)  # messages live in the session
    deletes = [r for r in simulator.requests if r.method == "DELETE"]
    assert [(r.path, r.headers["X-Authorization"]) for r in deletes] == [
        (f"/1.1/{app_keys.api_key}/custom-audience/beta", app_keys.rest_api_key)
    ]
    html = page.content.decode()
    assert "beta" in html and "Deleted" in html


def test_the_operator_is_told_what_a_failure_means(operator, batch_app, fast_client, simulator, app_keys):
    simulator.add_fault(action="error", error="AUTHENTICATION_INVALID", method="DELETE")
    response = delete_through_pages(logged_in(operator), batch_app, "beta", follow=True)
    html = response.content.decode()
    assert "Batch rejected the keys of app “Shop iOS”" in html
    assert "A key administrator should check" in html
    assert "Rejected by Batch" in html
    assert "beta" in simulator.audience_names(app_keys.api_key)


def test_archived_apps_are_not_offered(operator, keyadmin, batch_app):
    logged_in(keyadmin).post(reverse("app_archive", args=[batch_app.pk]))
    response = logged_in(operator).get(reverse("audience_delete"))
    assert "form" not in response.context  # no form with an empty app list
    assert "No Batch app is open to you yet" in response.content.decode()


def test_key_administrator_adds_an_app_and_never_sees_the_keys_again(keyadmin, app_keys):
    client = logged_in(keyadmin)
    response = client.post(
        reverse("app_create"),
        {"name": "Shop Android", "api_key": app_keys.api_key, "rest_api_key": app_keys.rest_api_key},
        follow=True,
    )
    html = response.content.decode()
    assert "Shop Android" in html
    assert "…" + app_keys.api_key[-4:] in html
    assert app_keys.api_key not in html and app_keys.rest_api_key not in html

    app = BatchApp.objects.get(name="Shop Android")
    edit = client.get(reverse("app_edit", args=[app.pk])).content.decode()
    assert app_keys.api_key not in edit and app_keys.rest_api_key not in edit
    assert "Leave empty to keep it" in edit


def test_editing_with_empty_key_fields_keeps_the_keys(keyadmin, batch_app, app_keys):
    from audienceadmin.services import app_credentials

    client = logged_in(keyadmin)
    response = client.post(
        reverse("app_edit", args=[batch_app.pk]), {"name": "Shop iOS", "api_key": "", "rest_api_key": ""}
    )
    assert response.status_code == 302
    assert app_credentials(batch_app).rest_api_key.reveal() == app_keys.rest_api_key
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.APP_KEYS_CHANGED).exists()


def test_a_failed_key_form_does_not_echo_the_key(keyadmin, batch_app):
    response = logged_in(keyadmin).post(
        reverse("app_create"), {"name": "Shop iOS", "api_key": "SECRETVALUE-1234567890", "rest_api_key": "x"}
    )
    html = response.content.decode()
    assert "already exists" in html
    assert "SECRETVALUE-1234567890" not in html


def test_archive_asks_first_then_archives(keyadmin, batch_app):
    client = logged_in(keyadmin)
    assert "Archive this app" in client.get(reverse("app_archive", args=[batch_app.pk])).content.decode()
    assert BatchApp.objects.get(pk=batch_app.pk).archived_at is None
    client.post(reverse("app_archive", args=[batch_app.pk]))
    assert BatchApp.objects.get(pk=batch_app.pk).archived_at is not None


def test_the_home_page_answers_what_can_i_do_here(
    django_user_model, viewer, operator, keyadmin, batch_app, fast_client
):
    from audienceadmin import services

    as_operator = logged_in(operator).get(reverse("home")).content.decode()
    assert "Browse audiences" in as_operator and "Bulk delete" in as_operator and "Shop iOS" in as_operator
    assert "Manage apps and keys" not in as_operator

    as_keyadmin = logged_in(keyadmin).get(reverse("home")).content.decode()
    assert "Never tested" in as_keyadmin and "Delete an audience" not in as_keyadmin
    services.app_test_connection(actor=keyadmin, app=batch_app, ip=None)
    assert ">OK<" in logged_in(keyadmin).get(reverse("home")).content.decode()

    as_viewer = logged_in(viewer).get(reverse("home")).content.decode()
    assert "Recent deletions" in as_viewer and "Bulk delete" not in as_viewer

    nobody = django_user_model.objects.create_user("nobody", password="x-0123456789")
    assert "No role yet" in logged_in(nobody).get(reverse("home")).content.decode()
