"""The confirmation page when Batch refuses the app's keys: no delete offered, the way to the keys for
whoever may fix them, and the delete back once Batch accepts the keys again."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from audienceadmin import roles
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("error", ["AUTHENTICATION_INVALID", "API_MISUSE"])
def test_keys_refused_by_the_preview_offer_no_delete(operator, batch_app, batch_url, simulator, error):
    simulator.add_fault(action="error", error=error, method="GET")
    client = Client()
    client.force_login(operator)
    page = client.post(reverse("audience_delete"), {"app": batch_app.pk, "name": "beta"}).content.decode()
    assert "No delete is offered: it cannot work with these keys." in page and error in page
    assert "Ask a key administrator" in page
    assert "Delete this audience" not in page and 'name="confirm_name"' not in page
    assert reverse("app_edit", args=[batch_app.pk]) not in page  # not theirs to open

    simulator.clear_faults()
    page = client.post(reverse("audience_delete"), {"app": batch_app.pk, "name": "beta"}).content.decode()
    assert "Delete this audience" in page and "rejected the keys" not in page


def test_a_key_administrator_is_linked_to_the_app(batch_app, batch_url, simulator, django_user_model, role_groups):
    both = make_user(django_user_model, "kimberly-both", role_groups[roles.OPERATORS])
    both.groups.add(role_groups[roles.KEY_ADMINISTRATORS])
    simulator.add_fault(action="error", error="AUTHENTICATION_INVALID", method="GET")
    client = Client()
    client.force_login(both)
    page = client.post(reverse("audience_delete"), {"app": batch_app.pk, "name": "beta"}).content.decode()
    assert f'href="{reverse("app_edit", args=[batch_app.pk])}">Check the keys of {batch_app.name}</a>' in page
    assert "Delete this audience" not in page
