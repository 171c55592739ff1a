"""With DJANGO_DEBUG on (as `make run` and `make demo` run), a crash inside the Batch client or the
HTTP stack under it shows Django's debug page: it must not show a key, in any frame."""

from __future__ import annotations

import secrets

import pytest
import urllib3.connection
from django.test import Client
from django.urls import reverse

from audienceadmin import services
from tests.batch.test_redaction import shows
from tests.conftest import confirmation_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug_client(settings, operator):
    settings.DEBUG = True
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    client = Client(raise_request_exception=False)
    client.force_login(operator)
    return client


def crash_in(monkeypatch, where: str) -> None:
    def crash(*args, **kwargs):
        raise RuntimeError("forced failure inside the HTTP stack")

    if where == "connection":  # deep in urllib3, with the URL (API key in the path) and headers in its frames
        monkeypatch.setattr(urllib3.connection.HTTPConnection, "request", crash)
    else:  # requests' session, called by the transport with the URL and headers
        monkeypatch.setattr("requests.Session.request", crash)


@pytest.mark.parametrize("where", ["connection", "session"])
def test_the_debug_page_of_a_crash_in_the_delete_shows_no_key(debug_client, batch_app, batch_url, app_keys, monkeypatch,
                                                              where):  # fmt: skip
    form = confirmation_form(debug_client, batch_app, "beta")  # the page, before the crash is set up
    crash_in(monkeypatch, where)
    response = debug_client.post(reverse("audience_delete_confirm"), form)
    page = response.content.decode()
    assert response.status_code == 500
    assert "forced failure inside the HTTP stack" in page and "Local vars" in page  # the debug page, with frames
    assert "_exchange" in page  # the frame that builds the request is on it, its variables hidden
    for key in (app_keys.api_key, app_keys.rest_api_key):
        assert not shows(key, page)


def test_the_debug_page_of_a_crash_in_the_preview_shows_no_key(debug_client, batch_app, batch_url, app_keys,
                                                               monkeypatch):  # fmt: skip
    crash_in(monkeypatch, "connection")
    response = debug_client.post(reverse("audience_delete"), {"app": batch_app.pk, "name": "beta"})
    page = response.content.decode()
    assert response.status_code == 500 and "forced failure" in page
    for key in (app_keys.api_key, app_keys.rest_api_key):
        assert not shows(key, page)


def test_the_debug_page_of_a_crash_while_saving_keys_shows_no_posted_key(settings, keyadmin, monkeypatch):
    settings.DEBUG = True
    client = Client(raise_request_exception=False)
    client.force_login(keyadmin)

    def crash(**kwargs):
        raise RuntimeError("forced failure while saving")

    monkeypatch.setattr(services, "app_create", crash)
    api_key, rest_key = "POSTED" + secrets.token_hex(12).upper(), "POSTED" + secrets.token_hex(12)  # not in this source
    response = client.post(reverse("app_create"), {"name": "New", "api_key": api_key, "rest_api_key": rest_key})
    page = response.content.decode()
    assert response.status_code == 500 and "forced failure while saving" in page
    assert not shows(api_key, page) and not shows(rest_key, page)
