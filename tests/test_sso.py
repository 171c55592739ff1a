"""Single sign-on over real HTTP: allauth (the relying party, in this process) against
django-oauth-toolkit's OpenID Connect provider (tests/oidc_provider, another process). The test
plays the browser: the Django test client on our side, ``requests`` at the IdP's login form."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from audienceadmin import roles, selectors, services
from audienceadmin.models import AuditEvent
from tests.conftest import PASSWORD, make_user
from tests.oidc_provider import TAMPERED_CLIENT_ID

pytestmark = pytest.mark.django_db
Kind = AuditEvent.Kind
LOGIN = reverse("company_oidc_login", kwargs={"provider_id": "company"})


def sso_sign_in(client: Client, idp, username: str, *, next_url: str = "", prompt_login: bool = False):
    """The whole round trip: our login button, the IdP's login form, our callback."""
    url = LOGIN + ("?auth_params=prompt%3Dlogin" if prompt_login else "")
    start = client.post(url, {"process": "login", **({"next": next_url} if next_url else {})})
    assert start.status_code == 302 and start.url.startswith(idp.url), start
    assert "code_challenge=" in start.url  # PKCE
    back = urlsplit(idp.sign_in(start.url, username))
    assert (back.scheme, back.netloc, back.path) == ("http", "testserver", "/accounts/oidc/company/login/callback/")
    return client.get(f"{back.path}?{back.query}")


def test_the_login_page_offers_sign_in_with_the_company(sso):
    html = Client().get(reverse("account_login")).content.decode()
    assert "Sign in with Corp" in html and f'action="{LOGIN}"' in html


def test_first_sign_in_creates_the_user_with_the_roles_of_their_groups(sso):
    client = Client()
    response = sso_sign_in(client, sso, "alice@corp.example")
    assert response.status_code == 302 and response.url == reverse("home")

    alice = get_user_model().objects.get(username="alice@corp.example")
    assert (alice.email, alice.has_usable_password()) == ("alice@corp.example", False)
    assert selectors.role_names(alice) == [roles.OPERATORS]
    assert SocialAccount.objects.get(user=alice).provider == "company"
    assert "Delete an audience" in client.get(reverse("home")).content.decode()

    events = list(AuditEvent.objects.order_by("id").values_list("kind", "actor_username", "message"))
    assert events == [
        (Kind.USER_CREATED, "sso", "alice@corp.example: no role"),
        (Kind.ROLES_CHANGED, "sso", "alice@corp.example: no role → Operators (from the IdP's groups)"),
        (Kind.LOGIN_SUCCEEDED, "alice@corp.example", "sso"),
    ]


def test_roles_follow_the_groups_again_at_each_sign_in(sso, django_user_model):
    sso_sign_in(Client(), sso, "alice@corp.example")
    alice = django_user_model.objects.get(username="alice@corp.example")
    root = django_user_model.objects.create_superuser("root", "", PASSWORD)
    services.person_roles_set(actor=root, person=alice, role_names=[roles.KEY_ADMINISTRATORS], ip=None)

    sso_sign_in(Client(), sso, "alice@corp.example")
    assert selectors.role_names(alice) == [roles.OPERATORS]
    last = AuditEvent.objects.filter(kind=Kind.ROLES_CHANGED).order_by("-id").first()
    assert (last.actor_username, last.message) == (
        "sso",
        "alice@corp.example: Key administrators → Operators (from the IdP's groups)",
    )


def test_without_a_groups_claim_the_first_sign_in_gives_no_role(sso, settings):
    settings.OIDC_GROUPS_CLAIM = ""
    client = Client()
    sso_sign_in(client, sso, "alice@corp.example")
    alice = get_user_model().objects.get(username="alice@corp.example")
    assert selectors.role_names(alice) == []
    assert client.get(reverse("audience_delete")).status_code == 403


def test_a_person_in_no_mapped_group_gets_no_role(sso):
    sso_sign_in(Client(), sso, "bob@corp.example")
    assert selectors.role_names(get_user_model().objects.get(username="bob@corp.example")) == []


def test_an_e_mail_domain_not_allowed_is_refused(sso):
    client = Client()
    response = sso_sign_in(client, sso, "eve@elsewhere.example")
    assert response.status_code == 403
    assert "not in a domain allowed" in response.content.decode()
    assert not get_user_model().objects.filter(email="eve@elsewhere.example").exists()
    assert client.get(reverse("home")).status_code == 302  # not signed in
    event = AuditEvent.objects.get(kind=Kind.SSO_REFUSED)
    assert (event.actor_username, event.message) == (
        "eve@elsewhere.example",
        "SSO sign-in refused: e-mail domain not allowed",
    )


def test_a_tampered_id_token_is_refused(sso):
    """The IdP's token answer carries an ID token whose payload was changed after signing (more
    groups): its signature no longer matches the IdP's published key, so nobody is signed in."""
    sso.configure(client_id=TAMPERED_CLIENT_ID)
    client = Client()
    response = sso_sign_in(client, sso, "alice@corp.example")
    assert response.status_code == 401  # allauth's "login failure" page
    assert not get_user_model().objects.filter(username="alice@corp.example").exists()
    assert client.get(reverse("home")).status_code == 302
    event = AuditEvent.objects.get(kind=Kind.SSO_REFUSED)
    assert event.message.startswith("SSO sign-in failed:") and "OAuth2Error" in event.message


def test_the_untampered_token_of_the_same_person_is_accepted(sso):
    """The control for the test above: same person, same provider, the honest client."""
    response = sso_sign_in(Client(), sso, "alice@corp.example")
    assert response.status_code == 302 and response.url == reverse("home")


def test_an_invited_person_signing_in_through_sso_joins_their_account(sso, django_user_model):
    invited = make_user(django_user_model, "alice", email="alice@corp.example")
    sso_sign_in(Client(), sso, "alice@corp.example")
    assert SocialAccount.objects.get().user == invited
    assert not django_user_model.objects.filter(username="alice@corp.example").exists()


def test_with_local_login_off_only_superusers_may_use_a_password(sso, settings, operator, django_user_model):
    settings.LOCAL_PASSWORD_LOGIN = False
    django_user_model.objects.create_superuser("root", "", PASSWORD)
    page = Client().get(reverse("account_login")).content.decode()
    assert "Sign in with Corp" in page and "Administrator sign-in (break-glass)" in page

    refused = Client().post(reverse("account_login"), {"login": "otto", "password": PASSWORD})
    assert refused.status_code == 200 and "Password sign-in is turned off" in refused.content.decode()
    assert AuditEvent.objects.get(kind=Kind.SSO_REFUSED).actor_username == "otto"

    admin = Client()
    assert admin.post(reverse("account_login"), {"login": "root", "password": PASSWORD}).status_code == 302
    assert admin.get(reverse("home")).status_code == 200


def test_the_checks_refuse_an_sso_setup_that_lets_nobody_in_or_names_unknown_roles(settings):
    from audienceadmin import checks

    settings.OIDC_ISSUER_URL, settings.OIDC_CLIENT_ID, settings.OIDC_CLIENT_SECRET = "https://idp.example", "", ""
    settings.OIDC_ALLOWED_DOMAINS = []
    settings.OIDC_GROUP_ROLES, settings.OIDC_GROUPS_CLAIM = {"admins": "Admins"}, ""
    ids = [e.id for e in checks.check_single_sign_on(None)]
    assert ids == ["audienceadmin.E007", "audienceadmin.E007", "audienceadmin.E008", "audienceadmin.E008"]
    settings.OIDC_ISSUER_URL, settings.LOCAL_PASSWORD_LOGIN = "", False
    settings.OIDC_GROUP_ROLES = {}
    assert [e.id for e in checks.check_single_sign_on(None)] == ["audienceadmin.E009"]
