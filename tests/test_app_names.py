"""App names: normalised, no invisible characters, never confusable with another app's; old names kept."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from audienceadmin import app_names, services
from audienceadmin.models import AuditEvent, BatchApp

pytestmark = pytest.mark.django_db
KEYS = {"api_key": "APIKEY-0123456789", "rest_api_key": "RESTKEY-0123456789"}


@pytest.fixture
def web(keyadmin):
    client = Client()
    client.force_login(keyadmin)
    return client


def add_app(web, name: str):
    return web.post(reverse("app_create"), {"name": name, **KEYS})


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Shop\u200biOS", "invisible or control character (U+200B ZERO WIDTH SPACE)"),
        ("Shop \u202eSOi", "invisible or control character (U+202E RIGHT-TO-LEFT OVERRIDE)"),
        ("Shop\u2028iOS", "invisible or control character (U+2028 LINE SEPARATOR)"),
        ("Shop\tiOS", "invisible or control character (U+0009"),
        ("Shop\x85iOS", "invisible or control character (U+0085"),
        ("Shop\u00adiOS", "invisible or control character (U+00AD SOFT HYPHEN)"),
        ("Shop\u1680iOS", "a space other than a plain space (U+1680 OGHAM SPACE MARK)"),
    ],
)
def test_a_name_with_an_invisible_or_odd_character_is_refused_and_says_why(web, name, why):
    response = add_app(web, name)
    assert response.status_code == 200  # the form again, with the error next to the field
    assert why in response.content.decode()
    assert not BatchApp.objects.exists()


@pytest.mark.parametrize(
    "look_alike",
    [
        "Ѕhop іOS",  # Cyrillic capital DZE and small BYELORUSSIAN-UKRAINIAN I
        "Shор iOS",  # Cyrillic small O and ER
        "SHOP ΙΟΣ".replace("Σ", "S"),  # Greek capital IOTA and OMICRON
        "shop ios",  # case
        "Shop  iOS",  # two spaces
        "Shop\u00a0iOS",  # a no-break space (NFKC makes it a space)
        "Ｓｈｏｐ ｉＯＳ",  # full-width letters (NFKC makes them plain)
    ],
)
def test_a_name_that_looks_like_another_apps_is_refused(web, batch_app, look_alike):
    html = add_app(web, look_alike).content.decode()
    # once normalised, the last two *are* "Shop iOS"
    assert "looks like that of the app “Shop iOS”" in html or "An app with this name already exists." in html
    assert list(BatchApp.objects.values_list("name", flat=True)) == ["Shop iOS"]
    with pytest.raises(ValidationError, match="looks like|already exists"):  # the service refuses it too
        services.app_create(actor=None, name=look_alike, ip=None, **KEYS)


def test_names_are_normalised_and_different_names_are_accepted(web, batch_app):
    add_app(web, "  Ｓｈｏｐ Android\u2003")
    add_app(web, "Shop iOS beta")
    assert sorted(BatchApp.objects.values_list("name", flat=True)) == ["Shop Android", "Shop iOS", "Shop iOS beta"]


def test_renaming_an_app_to_its_own_look_alike_is_allowed_but_not_to_anothers(web, batch_app):
    other = services.app_create(actor=None, name="Shop Android", ip=None, **KEYS)
    edit = reverse("app_edit", args=[batch_app.pk])
    web.post(edit, {"name": "Shop IOS", "api_key": "", "rest_api_key": ""})
    assert BatchApp.objects.get(pk=batch_app.pk).name == "Shop IOS"
    refused = web.post(reverse("app_edit", args=[other.pk]), {"name": "shop іos", "api_key": "", "rest_api_key": ""})
    assert "looks like that of the app “Shop IOS”" in refused.content.decode()


def test_a_name_stored_before_the_rules_keeps_working(web, batch_app, operator, fast_client):
    legacy = "Shop\u00a0iOS\u200b"  # stored by an older version, untouched by the rules
    BatchApp.objects.filter(pk=batch_app.pk).update(name=legacy)
    edit = {"name": legacy, "api_key": "", "rest_api_key": "NEWREST-0123456"}
    web.post(reverse("app_edit", args=[batch_app.pk]), edit)
    app = BatchApp.objects.get(pk=batch_app.pk)
    assert app.name == legacy and app.rest_api_key_hint == "…3456"
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.APP_RENAMED).count() == 0
    result = services.audience_delete(actor=operator, app=app, name="beta", ip=None)
    assert result.app_name == legacy


def test_the_skeleton():
    assert app_names.skeleton("Ѕhор  іOS ") == app_names.skeleton("shop ios") == "shop ios"
    assert app_names.skeleton("ΝΕΩ") != app_names.skeleton("new")  # Greek capital OMEGA is no "w"
    assert app_names.skeleton("ΝΕΟ") == "neo" and app_names.skeleton("νοχ") == "vox"  # small nu looks like a "v"
