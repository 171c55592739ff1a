from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.urls import reverse

from audienceadmin import audit, batch, roles, services
from audienceadmin.batch.simulator import BatchSimulator


@pytest.fixture(autouse=True)
def _test_settings(settings):
    """Each test gets its own encryption key, fast password hashing, static files without a
    build manifest, and a Batch URL where nothing listens (tests that talk to Batch use the
    simulator: nothing ever reaches the real API).

    Most tests sign in with ``force_login``, which allauth records no authentication for: the
    MFA and re-authentication policies are off unless a test turns them on (``sign_in_policies``;
    tests/test_signin.py and tests/e2e/test_sso.py test them). The rate limits' cache starts empty."""
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    settings.AUDIT_HMAC_KEYS = ["test-audit-key-" + secrets.token_hex(8)]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.BATCH_API_URL = "http://127.0.0.1:9"
    settings.BATCH_API_MAX_TRIES = 1  # tests that talk to Batch use `fast_client`, with its own tries
    settings.BATCH_PROJECT_RATE = 0  # CEP pacing off, but in its own tests (tests/test_pacing.py)
    # The test client speaks plain HTTP; production redirects to HTTPS (tested in test_security).
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.MFA_REQUIRED = False
    settings.REAUTHENTICATION_REQUIRED = False
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    cache.clear()
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def _flush_despite_the_audit_triggers():
    """Transactional tests empty every table afterwards; the audit table refuses that, so its
    triggers are lifted for the flush only (they are tested in test_audit_chain)."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    original = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        vendor = self.connection.vendor
        drop, create = audit.DROP_TRIGGERS_SQL.get(vendor, []), audit.TRIGGERS_SQL.get(vendor, [])
        original(self, [*drop, *sql_list, *create])

    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush


_flush_despite_the_audit_triggers()


@pytest.fixture(autouse=True)
def _no_late_records_across_tests():
    """A record waiting for the database belongs to the test that made the database fail."""
    yield
    from audienceadmin.services import late_records

    late_records.forget_all()


@pytest.fixture
def simulator():
    with BatchSimulator() as sim:
        yield sim


@pytest.fixture
def batch_url(settings, simulator):
    settings.BATCH_API_URL = simulator.url
    return simulator.url


@dataclass
class FakeTime:
    """An injectable clock and sleep: waits are recorded and advance the clock instantly."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client_config(batch_url) -> batch.ClientConfig:
    return batch.ClientConfig(base_url=batch_url, connect_timeout=1.0, read_timeout=1.0, deadline=60.0, max_tries=4)


@pytest.fixture
def fast_client(client_config, fake_time, monkeypatch) -> batch.MepClient:
    """The process client, with instant backoff waits; the service and views use it."""
    client = batch.MepClient(batch.Transport(client_config, sleep=fake_time.sleep, clock=fake_time.clock))
    monkeypatch.setattr(batch, "get_client", lambda: client)
    return client


@pytest.fixture
def role_groups(db) -> dict[str, Group]:
    roles.ensure_roles(Group, Permission)  # transactional tests flush the migration's groups
    return {name: Group.objects.get(name=name) for name in roles.ROLES}


def make_user(django_user_model, username: str, group: Group | None = None, **extra):
    user = django_user_model.objects.create_user(username=username, password=PASSWORD, **extra)
    if group is not None:
        user.groups.add(group)
    return user


PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def viewer(django_user_model, role_groups):
    return make_user(django_user_model, "vera", role_groups[roles.VIEWERS])


@pytest.fixture
def operator(django_user_model, role_groups):
    return make_user(django_user_model, "otto", role_groups[roles.OPERATORS])


@pytest.fixture
def keyadmin(django_user_model, role_groups):
    return make_user(django_user_model, "kim", role_groups[roles.KEY_ADMINISTRATORS])


@dataclass(frozen=True)
class AppKeys:
    api_key: str
    rest_api_key: str


@pytest.fixture
def app_keys() -> AppKeys:
    """Recognisable, random keys: tests search for them where they must never appear."""
    return AppKeys(
        api_key="APIKEY" + secrets.token_hex(12).upper(),
        rest_api_key="RESTKEY" + secrets.token_hex(12),
    )


@pytest.fixture
def batch_app(db, keyadmin, app_keys, simulator):
    """An app known to the simulator, with three audiences."""
    simulator.add_app(app_keys.api_key, app_keys.rest_api_key, audiences=["spring-sale", "churned_q3", "beta"])
    return services.app_create(
        actor=keyadmin,
        name="Shop iOS",
        api_key=app_keys.api_key,
        rest_api_key=app_keys.rest_api_key,
        ip="127.0.0.1",
    )


def confirmation_form(client, app, name: str, **extra) -> dict:
    """Step 1, as a person does it (the confirmation page shows Batch's preview): what its form would
    send back, the page's one-time ticket included."""
    page = client.post(reverse("audience_delete"), {"app": app.pk, "name": name}, **extra)
    return {"app": app.pk, "name": name, "confirm_name": name, "ticket": page.context["ticket"]}


def delete_through_pages(client, app, name: str, *, typed: str | None = None, follow: bool = False, **extra):
    """The confirmation page, then its form sent with the name typed again (``typed``: a typo)."""
    form = confirmation_form(client, app, name, **extra)
    if typed is not None:
        form["confirm_name"] = typed
    return client.post(reverse("audience_delete_confirm"), form, follow=follow, **extra)


@pytest.fixture
def many(simulator, app_keys, batch_app) -> list[str]:
    """Twenty more audiences of the app, ``old-00`` to ``old-19``, for bulk jobs."""
    names = [f"old-{i:02d}" for i in range(20)]
    for name in names:
        simulator.add_audience(app_keys.api_key, name, nb_ids=10)
    return names


@pytest.fixture
def sign_in_policies(settings):
    """MFA required for the roles that need it, and re-authentication before dangerous steps."""
    settings.MFA_REQUIRED = True
    settings.REAUTHENTICATION_REQUIRED = True
    settings.REAUTHENTICATION_MINUTES = 15
    return settings


@pytest.fixture
def useradmin(django_user_model, role_groups):
    return make_user(django_user_model, "uma", role_groups[roles.USER_ADMINISTRATORS], email="uma@example.com")


@pytest.fixture(scope="session")
def idp():
    """django-oauth-toolkit's OpenID Connect provider, in its own process (tests/oidc_provider)."""
    from tests.oidc_provider import OidcProvider

    with OidcProvider() as provider:
        yield provider


SSO_GROUP_ROLES = {
    "aa-viewers": roles.VIEWERS,
    "aa-operators": roles.OPERATORS,
    "aa-keyadmins": roles.KEY_ADMINISTRATORS,
}


@pytest.fixture
def sso(settings, idp):
    """Single sign-on through the test provider, as the README tells an administrator to set it up."""
    from audienceadmin.sso import config
    from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET

    def configure(client_id: str = CLIENT_ID) -> None:
        settings.OIDC_ISSUER_URL = idp.issuer
        settings.OIDC_CLIENT_ID = client_id
        settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
        settings.OIDC_COMPANY_NAME = "Corp"
        settings.OIDC_ALLOWED_DOMAINS = ["corp.example"]
        settings.OIDC_GROUPS_CLAIM = "groups"
        settings.OIDC_GROUP_ROLES = SSO_GROUP_ROLES
        settings.SECURE_CSP = {
            **settings.SECURE_CSP,
            "form-action": ["'self'", *config.form_action_origins(idp.issuer)],
        }
        settings.SOCIALACCOUNT_PROVIDERS = config.socialaccount_providers(
            issuer=idp.issuer,
            client_id=client_id,
            secret=CLIENT_SECRET,
            company="Corp",
            domains=["corp.example"],
            scopes=["openid", "profile", "email"],
        )

    configure()
    idp.configure = configure
    return idp
