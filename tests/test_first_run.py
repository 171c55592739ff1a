"""A fresh clone (`make run`): the first administrator is led to add the first app, and the delete,
browse and bulk pages say what is missing instead of showing a form with nothing to choose."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db
NO_APP_PAGES = ["audience_delete", "audience_browse_pick", "bulk_new"]


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_first_administrators_home_offers_to_add_the_first_app(role_groups):
    call_command("ensure_admin", stdout=io.StringIO())
    admin = logged_in(get_user_model().objects.get(username="admin"))
    html = admin.get(reverse("home")).content.decode()
    assert f'href="{reverse("app_create")}">Add your first app</a>' in html
    assert "ask a key administrator" not in html
    for name in NO_APP_PAGES:
        page = admin.get(reverse(name)).content.decode()
        assert "Add your first app" in page and "<select" not in page and "<textarea" not in page, name
    assert "Add your first app" in admin.get(reverse("app_list")).content.decode()


@pytest.mark.parametrize("name", NO_APP_PAGES)
def test_an_operator_without_an_app_is_told_whom_to_ask(operator, name):
    response = logged_in(operator).get(reverse(name))
    html = response.content.decode()
    assert response.status_code == 200 and "No Batch app is open to you yet" in html and "key administrator" in html
    assert "Add your first app" not in html and '<form method="post"' not in html


@pytest.mark.parametrize("name", NO_APP_PAGES)
def test_the_pages_are_unchanged_once_there_is_an_app_and_still_refuse_other_roles(operator, viewer, batch_app, name):
    assert "No Batch app" not in logged_in(operator).get(reverse(name)).content.decode()
    assert logged_in(viewer).get(reverse(name)).status_code == 403
