"""Keys and access: the permission matrix, key rotation, system checks, hardening, login throttling."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from audienceadmin import checks, roles, services
from audienceadmin.models import AuditEvent, BatchApp, DeletionRequest
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db
Kind = AuditEvent.Kind

ROLES = ["anonymous", "viewer", "operator", "keyadmin", "useradmin", "superuser", "inactive"]
EVERYONE = {"viewer", "operator", "keyadmin", "useradmin", "superuser"}
KEYS = {"keyadmin", "superuser"}
DELETERS = {"operator", "superuser"}
PEOPLE = {"useradmin", "superuser"}
HISTORY = EVERYONE

# url name -> (methods the view accepts, roles allowed). Anything else: login redirect (anonymous,
# inactive), 405 (method), 403 (role). Every URL of the project must be listed here.
RULES: dict[str, tuple[set[str], set[str]]] = {
    "home": ({"GET"}, EVERYONE),
    "history": ({"GET"}, HISTORY),
    "history_export": ({"GET"}, HISTORY),
    "history_event": ({"GET"}, HISTORY),
    "audience_browse_pick": ({"GET"}, DELETERS),
    "audience_browse": ({"GET"}, DELETERS),
    "bulk_new": ({"GET", "POST"}, DELETERS),
    "bulk_confirm": ({"POST"}, DELETERS),
    "bulk_job": ({"GET"}, DELETERS),
    "bulk_job_progress": ({"GET"}, DELETERS),
    "bulk_job_results": ({"GET"}, DELETERS),
    "bulk_job_cancel": ({"POST"}, DELETERS),
    "bulk_job_retry": ({"GET"}, DELETERS),
    "app_list": ({"GET"}, KEYS),
    "app_create": ({"GET", "POST"}, KEYS),
    "app_edit": ({"GET", "POST"}, KEYS),
    "app_test_connection": ({"POST"}, KEYS),
    "app_restore": ({"POST"}, KEYS),  # an active app: "nothing to restore"
    "audience_delete": ({"GET", "POST"}, DELETERS),
    "audience_delete_confirm": ({"POST"}, DELETERS),
    "people": ({"GET"}, PEOPLE),
    "person_invite": ({"GET", "POST"}, PEOPLE),
    "person_edit": ({"GET", "POST"}, PEOPLE),
    "person_deactivate": ({"POST"}, PEOPLE),
    "person_reactivate": ({"POST"}, PEOPLE),
    "person_unlock": ({"POST"}, PEOPLE),
    "person_invite_again": ({"POST"}, PEOPLE),
    "request_list": ({"GET"}, DELETERS),
    "request_detail": ({"GET"}, DELETERS),
    "request_approve": ({"POST"}, DELETERS),  # the approve_deletion permission: Operators have it
    "request_reject": ({"POST"}, DELETERS),
    "request_withdraw": ({"POST"}, DELETERS),
    "request_break_glass": ({"POST"}, DELETERS),  # a superuser's only: the service refuses anyone else
    "app_archive": ({"GET", "POST"}, KEYS),  # last: a permitted POST archives the app
}
NEEDS_APP = {"app_edit", "app_test_connection", "app_archive", "app_restore", "audience_browse"}
NEEDS_JOB = {"bulk_job", "bulk_job_progress", "bulk_job_results", "bulk_job_cancel", "bulk_job_retry"}
NEEDS_REQUEST = {"request_detail", "request_approve", "request_reject", "request_withdraw", "request_break_glass"}
NEEDS_PERSON = {"person_edit", "person_deactivate", "person_reactivate", "person_unlock", "person_invite_again"}
# Reachable without logging in: the sign-in pages, the SSO round trip, the set-password link.
PUBLIC = {
    "login",
    "healthz",
    "readyz",
    "account_login",
    "account_inactive",
    "account_reset_password_from_key",
    "account_reset_password_from_key_done",
    "mfa_authenticate",
    "socialaccount_login_cancelled",
    "socialaccount_login_error",
    "socialaccount_signup",
    "company_oidc_login",
    "company_oidc_callback",
}
# allauth pages the dashboard does not offer: 404 for everyone (audienceadmin/urls.py, CLOSED).
CLOSED = {
    "account_signup",
    "account_email",
    "account_email_verification_sent",
    "account_confirm_email",
    "account_set_password",
    "account_reset_password",
    "account_reset_password_done",
    "account_confirm_login_code",
    "socialaccount_connections",
}
# Any signed-in user, for their own account: signing out, re-authenticating, their password and MFA.
LOGGED_IN_ONLY = {
    "account_logout",
    "account_reauthenticate",
    "account_change_password",
    "reauthenticate_sso",
    "mfa_index",
    "mfa_reauthenticate",
    "mfa_activate_totp",
    "mfa_deactivate_totp",
    "mfa_view_recovery_codes",
    "mfa_generate_recovery_codes",
    "mfa_download_recovery_codes",
    "mfa_list_webauthn",
    "mfa_add_webauthn",
    "mfa_reauthenticate_webauthn",
    "mfa_remove_webauthn",
    "mfa_edit_webauthn",
}
URL_KWARGS = {
    "account_reset_password_from_key": {"uidb36": "1", "key": "not-a-key"},
    "account_confirm_email": {"key": "not-a-key"},
    "company_oidc_login": {"provider_id": "company"},
    "company_oidc_callback": {"provider_id": "company"},
    "mfa_remove_webauthn": {"pk": 1},
    "mfa_edit_webauthn": {"pk": 1},
}


def project_url_names(entries=None) -> set[str]:
    """Every named route, however deep its include (allauth's are nested), except the Django admin's."""
    names = set()
    for entry in get_resolver().url_patterns if entries is None else entries:
        if isinstance(entry, URLPattern) and entry.name:
            names.add(entry.name)
        elif isinstance(entry, URLResolver) and getattr(entry, "app_name", None) != "admin":
            names |= project_url_names(entry.url_patterns)
    return names


def test_every_url_has_a_permission_rule():
    assert project_url_names() == set(RULES) | PUBLIC | CLOSED | LOGGED_IN_ONLY


@pytest.mark.parametrize("role", ["anonymous", "viewer", "superuser"])
def test_the_sign_in_pages_answer_everyone_without_error_or_inline_code(role, users, settings):
    """The pages beside the role matrix: public, closed (404 for everyone), or the signed-in user's own."""
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    client = Client()
    if users[role] is not None:
        client.force_login(users[role])
    for name in sorted(PUBLIC | CLOSED | LOGGED_IN_ONLY):
        url = reverse(name, kwargs=URL_KWARGS.get(name))
        response = client.get(url)
        status = response.status_code
        assert status < 500, (name, role, status)
        if name in CLOSED:
            assert status == 404, (name, role)
        elif name in LOGGED_IN_ONLY and role == "anonymous":
            assert status in (302, 404), (name, role)  # to the login page (or nothing to show)
            if status == 302:
                assert response.url.startswith(reverse("account_login")), name
        if status == 200 and "html" in response.headers.get("Content-Type", ""):
            html = response.content.decode()
            assert "<script>" not in html and " style=" not in html and "<style" not in html, name


@pytest.fixture
def users(django_user_model, role_groups, viewer, operator, keyadmin):
    return {
        "anonymous": None,
        "viewer": viewer,
        "operator": operator,
        "keyadmin": keyadmin,
        "useradmin": make_user(django_user_model, "uma", role_groups[roles.USER_ADMINISTRATORS]),
        "superuser": django_user_model.objects.create_superuser("root", "", PASSWORD),
        "inactive": make_user(
            django_user_model, "ina", role_groups[roles.OPERATORS], is_active=False, email="ina@example.com"
        ),
    }


def expected_status(url_name: str, role: str, method: str) -> int:
    methods, allowed = RULES[url_name]
    if role in ("anonymous", "inactive"):
        return 302
    if method not in methods:
        return 405
    return 200 if role in allowed else 403


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(role, users, batch_app, fast_client):
    from audienceadmin.models import BulkJob

    job = BulkJob.objects.create(app=batch_app, created_by=users["operator"], concurrency=1)
    asked = DeletionRequest.objects.create(
        app=batch_app, requested_by=users["operator"], created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=1), reason="matrix", audiences=["spring-sale"],
    )  # fmt: skip
    client = Client()
    if users[role] is not None:
        client.force_login(users[role])
    for url_name in RULES:
        if url_name == "history_event":
            url = reverse(url_name, args=[AuditEvent.objects.order_by("id").first().pk])
        elif url_name in NEEDS_JOB:
            url = reverse(url_name, args=[job.pk])
        elif url_name in NEEDS_REQUEST:
            url = reverse(url_name, args=[asked.pk])
        elif url_name in NEEDS_PERSON:
            url = reverse(url_name, args=[users["inactive"].pk])
        else:
            url = reverse(url_name, args=[batch_app.pk] if url_name in NEEDS_APP else [])
        for method in ("GET", "POST"):
            response = getattr(client, method.lower())(url)
            status = response.status_code
            if status in (301, 302) and expected_status(url_name, role, method) == 200:
                status = 200  # a valid action answers with a redirect
            if status == 400 and method == "POST":
                status = 200  # an empty form, re-shown with errors
            assert status == expected_status(url_name, role, method), (url_name, role, method)
            if expected_status(url_name, role, method) == 302 and status == 302:
                assert response.url.startswith(reverse("account_login"))


# --- who reads which events in History --------------------------------------------------------------

# Auditors read the events of every app; operators those of the apps open to them and the events of
# no app. Every URL is classified: a new page that shows audit events must join the matrix below.
SHOWS_EVENTS = {"home", "history", "history_export", "history_event", "request_detail"}
SHOWS_NO_EVENTS = {
    "request_list",  # requests of the apps open to the user only (requests_for), no event
    "request_approve",
    "request_reject",
    "request_withdraw",
    "request_break_glass",
    "audience_browse_pick",
    "audience_browse",
    "audience_delete",
    "audience_delete_confirm",
    "bulk_new",  # a job's pages: 404 for an app not open to the user (bulk_jobs_for)
    "bulk_confirm",
    "bulk_job",
    "bulk_job_progress",
    "bulk_job_results",
    "bulk_job_cancel",
    "bulk_job_retry",
    "app_list",  # who last set the keys: key administrators only, auditors
    "app_create",
    "app_edit",
    "app_test_connection",
    "app_archive",
    "app_restore",
    "people",  # people, their roles and sign-in state: no audit event is listed there
    "person_invite",
    "person_edit",
    "person_deactivate",
    "person_reactivate",
    "person_unlock",
    "person_invite_again",
}
AUDITORS = {"viewer", "keyadmin", "superuser"}
HISTORY_VIEWS = ["deletions", "keys", "security", "all"]


def test_every_page_that_shows_audit_events_is_in_the_visibility_matrix():
    assert set(RULES) == SHOWS_EVENTS | SHOWS_NO_EVENTS and not SHOWS_EVENTS & SHOWS_NO_EVENTS


@pytest.fixture
def restricted_history(users, django_user_model, role_groups, keyadmin, batch_app, fast_client, simulator):
    """Shop iOS restricted to olga, with her deletion, a bulk job event, a key change and a denial;
    an open app with a deletion; a failed login (no app)."""
    olga = make_user(django_user_model, "olga", role_groups[roles.OPERATORS])
    services.app_update(actor=keyadmin, app=batch_app, name=batch_app.name, ip=None, allowed_operators=[olga])
    services.audience_delete(actor=olga, app=batch_app, name="secret-campaign", ip=None)
    services.app_event_record(Kind.BULK_QUEUED, actor=olga, app=batch_app, ip=None, message="bulk job 1")
    services.app_update(actor=keyadmin, app=batch_app, name=batch_app.name, rest_api_key="NEWREST-0123456789", ip=None)
    with pytest.raises(PermissionDenied):
        services.audience_delete(actor=users["operator"], app=batch_app, name="secret-denied", ip=None)
    open_app = services.app_create(
        actor=keyadmin, name="Open app", api_key="OPENAPIKEY-0123", rest_api_key="OPENREST-0123", ip=None
    )
    services.audience_delete(actor=olga, app=open_app, name="open-campaign", ip=None)
    services.security_event_record(kind=Kind.LOGIN_FAILED, ip="10.0.0.7", username="mallory")
    return {**users, "olga": olga}


def events_shown(client, batch_app) -> str:
    """Everything the history paths show this client, as one text."""
    texts = [client.get(reverse("home")).content.decode()]
    for view in HISTORY_VIEWS:
        texts.append(client.get(reverse("history"), {"view": view}).content.decode())
        export = client.get(reverse("history_export"), {"view": view})
        texts.append(b"".join(export.streaming_content).decode())
    return "\n".join(texts)


@pytest.mark.parametrize("role", ["viewer", "operator", "keyadmin", "superuser", "olga"])
def test_a_restricted_apps_events_are_read_by_auditors_and_its_operators_only(role, restricted_history, batch_app):
    client = Client()
    client.force_login(restricted_history[role])
    sees_restricted = role in AUDITORS | {"olga"}
    shown = events_shown(client, batch_app)
    # the events of no app and of open apps: everyone who reads the history
    assert "mallory" in shown and "open-campaign" in shown and "Open app" in shown
    # the restricted app's deletions, bulk jobs, key changes, denials, and its very name
    for trace in ("secret-campaign", "secret-denied", "bulk job 1", "App keys replaced", batch_app.name):
        assert (trace in shown) == sees_restricted, (role, trace)
    restricted_event = AuditEvent.objects.get(audience="secret-campaign", kind=Kind.DELETE_REQUESTED)
    detail = client.get(reverse("history_event", args=[restricted_event.pk]))
    assert detail.status_code == (200 if sees_restricted else 404)
    open_event = AuditEvent.objects.get(audience="open-campaign", kind=Kind.DELETE_REQUESTED)
    assert client.get(reverse("history_event", args=[open_event.pk])).status_code == 200
    # naming the hidden app in the filter is refused like an app that does not exist
    filtered = client.get(reverse("history_export"), {"app": batch_app.pk})
    assert filtered.status_code == (200 if sees_restricted else 400)
    assert client.get(reverse("history_export"), {"app": 10**6}).status_code == 400


def test_permission_denials_are_audited(viewer):
    client = Client()
    client.force_login(viewer)
    client.post(reverse("audience_delete_confirm"), {"app": 1, "name": "x", "confirm_name": "x"})
    event = AuditEvent.objects.get(kind=Kind.PERMISSION_DENIED)
    assert (event.actor, event.ip) == (viewer, "127.0.0.1")
    assert roles.DELETE_AUDIENCE in event.message


# --- per-app restriction ------------------------------------------------------------------------


def test_an_app_restricted_to_some_operators_is_hidden_and_refused_to_others(
    django_user_model, role_groups, operator, keyadmin, batch_app, simulator
):
    other = make_user(django_user_model, "olga", role_groups[roles.OPERATORS])
    services.app_update(actor=keyadmin, app=batch_app, name=batch_app.name, ip=None, allowed_operators=[other])

    client = Client()
    client.force_login(operator)
    assert "No Batch app is open to you yet" in client.get(reverse("audience_delete")).content.decode()
    client.force_login(other)
    assert list(client.get(reverse("audience_delete")).context["form"].fields["app"].queryset) == [batch_app]

    with pytest.raises(PermissionDenied):
        services.audience_delete(actor=operator, app=batch_app, name="beta", ip=None)
    assert simulator.requests == []
    denied = AuditEvent.objects.get(kind=Kind.PERMISSION_DENIED)
    assert (denied.actor, denied.app, denied.audience) == (operator, batch_app, "beta")
    access = AuditEvent.objects.get(kind=Kind.APP_ACCESS_CHANGED)
    assert access.message == "restricted to olga"


def test_key_administrators_restrict_apps_from_the_form(keyadmin, operator, batch_app):
    client = Client()
    client.force_login(keyadmin)
    client.post(
        reverse("app_edit", args=[batch_app.pk]),
        {"name": batch_app.name, "api_key": "", "rest_api_key": "", "allowed_operators": [operator.pk]},
    )
    assert list(BatchApp.objects.get(pk=batch_app.pk).allowed_operators.all()) == [operator]
    assert "otto" in client.get(reverse("app_list")).content.decode()


# --- the key administrator's page ----------------------------------------------------------------


def test_app_list_says_who_last_changed_the_keys(keyadmin, batch_app):
    services.app_update(actor=keyadmin, app=batch_app, name=batch_app.name, rest_api_key="NEWREST-0123456789", ip=None)
    client = Client()
    client.force_login(keyadmin)
    [app] = client.get(reverse("app_list")).context["apps"]
    assert app.keys_changed_by == "kim"
    assert app.keys_changed_at == AuditEvent.objects.filter(kind=Kind.APP_KEYS_CHANGED).get().at


def test_test_connection_reports_success_and_is_audited(keyadmin, batch_app, fast_client, simulator, app_keys):
    client = Client()
    client.force_login(keyadmin)
    response = client.post(reverse("app_test_connection", args=[batch_app.pk]), follow=True)
    assert "The keys of app “Shop iOS” work" in response.content.decode()
    [sent] = simulator.requests
    assert (sent.method, sent.path, sent.query) == ("GET", f"/1.1/{app_keys.api_key}/custom-audience", "from=0&limit=1")
    event = AuditEvent.objects.get(kind=Kind.CONNECTION_TESTED)
    assert (event.actor, event.http_status, event.message) == (keyadmin, 200, "ok")


def test_test_connection_reports_a_wrong_key(keyadmin, batch_app, fast_client, simulator, app_keys):
    simulator.add_app(app_keys.api_key, "SOME-OTHER-REST-KEY-123")
    result = services.app_test_connection(actor=keyadmin, app=batch_app, ip=None)
    assert not result.ok
    assert "Batch rejected the keys" in result.message and "AUTHENTICATION_INVALID" in result.message
    event = AuditEvent.objects.get(kind=Kind.CONNECTION_TESTED)
    assert (event.http_status, event.error_name) == (401, "AUTHENTICATION_INVALID")


# --- encryption key rotation ------------------------------------------------------------------------


def test_key_rotation_end_to_end(keyadmin, settings, app_keys):
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    apps = [
        services.app_create(
            actor=keyadmin,
            name=f"App {i}",
            api_key=f"{app_keys.api_key}{i}",
            rest_api_key=f"{app_keys.rest_api_key}{i}",
            ip=None,
        )
        for i in range(5)
    ]
    # 1. a new key goes first; the old one stays so that existing rows stay readable
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert checks.check_stored_secrets_decrypt(None) == []
    # 2. rotate (in batches smaller than the table)
    out = StringIO()
    call_command("rotate_encryption_keys", "--batch-size", "2", stdout=out)
    assert "10 secret(s) re-encrypted under the newest key, 0 already under it." in out.getvalue()
    # 3. safe to run twice
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "0 secret(s) re-encrypted under the newest key, 10 already under it." in out.getvalue()
    # 4. the old key can go: everything is readable with the new one alone
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert checks.check_stored_secrets_decrypt(None) == []
    for i, app in enumerate(apps):
        assert services.app_credentials(app).api_key.reveal() == f"{app_keys.api_key}{i}"
    assert AuditEvent.objects.filter(kind=Kind.KEYS_REENCRYPTED).count() == 2


def test_rotation_reports_unreadable_secrets_and_the_check_names_the_app(keyadmin, settings, batch_app):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the key that encrypted it is gone
    errors = checks.check_stored_secrets_decrypt(None)
    assert {e.id for e in errors} == {"audienceadmin.E004"}
    assert "Shop iOS" in errors[0].msg
    with pytest.raises(CommandError, match="Shop iOS") as excinfo:
        call_command("rotate_encryption_keys")
    assert excinfo.value.returncode == 1


def test_rotation_never_overwrites_a_key_replaced_meanwhile(keyadmin, settings, batch_app, monkeypatch):
    """The dashboard replaces the key between the rotation's read and its write."""
    from audienceadmin import fields

    old = settings.FIELD_ENCRYPTION_KEYS[0]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]
    real_rotate = fields.rotate

    def rotate_while_someone_edits(token):
        if not getattr(rotate_while_someone_edits, "done", False):
            rotate_while_someone_edits.done = True
            services.app_update(
                actor=keyadmin, app=batch_app, name=batch_app.name, api_key="REPLACED-0123456789", ip=None
            )
        return real_rotate(token)

    monkeypatch.setattr(fields, "rotate", rotate_while_someone_edits)
    report = services.encryption_keys_rotate()
    assert services.app_credentials(batch_app).api_key.reveal() == "REPLACED-0123456789"
    assert report.reencrypted == 1  # only the REST key; the replaced API key was left alone


# --- hardening ---------------------------------------------------------------------------------------


def production_env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        {
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "AUDIT_HMAC_KEYS": secrets.token_urlsafe(32),
            "DJANGO_ALLOWED_HOSTS": "audience-admin.example.com",
            "BATCH_API_URL": "https://api.batch.com",
            **extra,
        }
    )
    return env


def manage(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(Path(django_settings.BASE_DIR) / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy_with_no_warning():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues (0 silenced)" in result.stdout


def test_production_refuses_to_start_without_its_secrets():
    result = manage("check", env=production_env(DJANGO_SECRET_KEY=""))  # empty wins over a local .env
    assert result.returncode != 0 and "DJANGO_SECRET_KEY is not set" in result.stderr
    result = manage("check", env=production_env(FIELD_ENCRYPTION_KEYS=""))
    assert result.returncode != 0 and "audienceadmin.E002" in result.stderr


def test_every_page_sends_a_strict_csp_and_no_inline_code(users, batch_app):
    client = Client()
    assert "default-src 'self'" in client.get(reverse("account_login")).headers["Content-Security-Policy"]
    client.force_login(users["superuser"])
    pages = [
        reverse("home"),
        reverse("history"),
        reverse("app_list"),
        reverse("app_create"),
        reverse("app_edit", args=[batch_app.pk]),
        reverse("app_archive", args=[batch_app.pk]),
        reverse("audience_delete"),
        reverse("people"),
        reverse("person_invite"),
        reverse("person_edit", args=[users["operator"].pk]),
        reverse("mfa_index"),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        html = response.content.decode()
        assert "<script>" not in html and " style=" not in html and "<style" not in html, url


def test_every_answer_to_a_logged_in_user_is_never_stored(users, batch_app, fast_client):
    """Pages, CSV downloads, JSON and redirects: no browser or proxy cache keeps a copy of what a
    logged-in user saw. Anonymous answers (the health checks) keep their own headers."""
    from audienceadmin.models import BulkJob

    job = BulkJob.objects.create(app=batch_app, created_by=users["operator"], concurrency=1)
    asked = DeletionRequest.objects.create(
        app=batch_app, requested_by=users["operator"], created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=1), reason="matrix", audiences=["spring-sale"],
    )  # fmt: skip
    client = Client()
    client.force_login(users["superuser"])
    for url_name, (methods, _allowed) in RULES.items():
        if "GET" not in methods:
            continue
        if url_name == "history_event":
            args = [AuditEvent.objects.order_by("id").first().pk]
        elif url_name in NEEDS_PERSON:
            args = [users["operator"].pk]
        elif url_name in NEEDS_REQUEST:
            args = [asked.pk]
        else:
            args = [job.pk] if url_name in NEEDS_JOB else [batch_app.pk] if url_name in NEEDS_APP else []
        response = client.get(reverse(url_name, args=args))
        assert response.status_code in (200, 302), url_name
        assert "no-store" in response.get("Cache-Control", ""), url_name
    assert "no-store" in client.get("/admin/").get("Cache-Control", "")
    assert Client().get("/healthz")["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_https_is_enforced_outside_debug(settings):
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get(reverse("account_login"))
    assert response.status_code == 301 and response.url.startswith("https://")


# --- login throttling and sessions ---------------------------------------------------------------------


def test_repeated_failed_logins_lock_the_account_out_and_are_audited(operator, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(reverse("account_login"), {"login": "otto", "password": "wrong"})
    response = client.post(reverse("account_login"), {"login": "otto", "password": PASSWORD})
    assert response.status_code == 429
    assert "Sign-in locked for a while" in response.content.decode()
    failed = AuditEvent.objects.filter(kind=Kind.LOGIN_FAILED, actor_username="otto").count()
    assert failed == settings.AXES_FAILURE_LIMIT + 1  # the last, refused while locked out, counts too
    assert AuditEvent.objects.filter(kind=Kind.LOCKED_OUT, actor_username="otto").exists()
    for event in AuditEvent.objects.all():
        assert "wrong" not in event.message and PASSWORD not in event.message


def test_the_last_try_before_a_lockout_warns_and_the_lockout_page_says_what_to_do(operator, settings):
    client = Client()
    pages = [
        client.post(reverse("account_login"), {"login": "otto", "password": "wrong"}).content.decode()
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    warning = "One more wrong password and sign-in is locked for 15 minutes from this address."
    assert [warning in page for page in pages[:-1]] == [False] * (settings.AXES_FAILURE_LIMIT - 2) + [True]
    assert "are not correct" in pages[-2]  # allauth's own message stays
    locked = client.post(reverse("account_login"), {"login": "otto", "password": PASSWORD})
    html = locked.content.decode()
    assert locked.status_code == 429 and "Try again in 15 minutes</strong>, or ask an administrator" in html
    assert "manage.py" not in html and f'href="{reverse("people")}"' in html and "Lift the lockout" in html


def test_failures_at_changing_usernames_lock_the_ip_out(operator, settings):
    client = Client()
    for i in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("account_login"), {"login": f"guess-{i}", "password": "wrong"})
    response = client.post(reverse("account_login"), {"login": "otto", "password": PASSWORD})
    assert response.status_code == 429  # the IP is locked out, whatever the username
    other_ip = Client(REMOTE_ADDR="10.9.9.9").post(reverse("account_login"), {"login": "otto", "password": PASSWORD})
    assert other_ip.status_code == 302  # the account itself is not


def test_a_successful_login_does_not_clear_an_ips_failures_at_other_accounts(operator, settings):
    """Someone with a valid account must not be able to reset the IP's count between guesses."""
    client = Client()
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(reverse("account_login"), {"login": f"victim-{i}", "password": "wrong"})
    assert client.post(reverse("account_login"), {"login": "otto", "password": PASSWORD}).status_code == 302
    client.post(reverse("account_logout"))
    client.post(reverse("account_login"), {"login": "victim-x", "password": "wrong"})
    assert client.post(reverse("account_login"), {"login": "otto", "password": PASSWORD}).status_code == 429


def test_a_burst_of_failed_logins_is_one_event_with_its_count(viewer, settings, monkeypatch):
    """200 failed logins, a new username each time, from one IP: the first ones are events of their
    own, the rest are counted into one event once the burst's window is over; none is lost."""
    client = Client(REMOTE_ADDR="203.0.113.9")
    for i in range(200):
        client.post(reverse("account_login"), {"login": f"user-{i}", "password": "wrong"})
    individual = AuditEvent.objects.filter(kind=Kind.LOGIN_FAILED, ip="203.0.113.9").count()
    assert individual == settings.AUDIT_LOGIN_BURST_THRESHOLD
    assert AuditEvent.objects.filter(kind=Kind.LOCKED_OUT, ip="203.0.113.9").exists()  # lockouts still recorded
    assert not AuditEvent.objects.filter(kind=Kind.LOGIN_FAILURES_COUNTED).exists()  # the burst is still open

    from django.utils import timezone

    later = timezone.now() + timedelta(seconds=settings.AUDIT_LOGIN_BURST_WINDOW + 1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    history = Client()
    history.force_login(viewer)
    page = history.get(reverse("history"), {"view": "security"}).content.decode()
    [counted] = AuditEvent.objects.filter(kind=Kind.LOGIN_FAILURES_COUNTED)
    assert counted.ip == "203.0.113.9" and individual + counted.details["failures"] == 200
    assert counted.details["refused_while_locked_out"] > 0
    assert f"{200 - individual} failed logins from 203.0.113.9 between" in counted.message
    assert counted.message in page
    assert AuditEvent.objects.count() < 30  # instead of 200 failures and as many lockouts
    assert history.get(reverse("history"), {"view": "security"}).status_code == 200
    assert AuditEvent.objects.filter(kind=Kind.LOGIN_FAILURES_COUNTED).count() == 1  # closed once


def test_logins_expire_after_inactivity_without_a_write_per_request(operator, monkeypatch):
    """Each request keeps the login alive (at most a minute of slack); an hour idle ends it; and a
    page view within the minute does not write the session."""
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    start = timezone.now()
    clock = [start]
    monkeypatch.setattr(timezone, "now", lambda: clock[0])
    client = Client()
    client.force_login(operator)
    age, every = django_settings.SESSION_COOKIE_AGE, django_settings.SESSION_REFRESH_EVERY
    assert client.get(reverse("home")).status_code == 200

    def expires():
        return Session.objects.get().expire_date

    clock[0] = start + timedelta(seconds=every // 2)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("home")).status_code == 200
    assert not any("django_session" in q["sql"] and q["sql"].startswith("UPDATE") for q in queries)

    clock[0] = start + timedelta(seconds=age - 10)  # still logged in, and the expiry moves on
    assert client.get(reverse("home")).status_code == 200
    assert expires() == clock[0] + timedelta(seconds=age)

    clock[0] += timedelta(seconds=age - every)  # idle, but less than the age
    assert client.get(reverse("home")).status_code == 200
    clock[0] += timedelta(seconds=age + 1)  # idle for longer than the age: logged out
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_the_client_ip_behind_trusted_proxies(settings, rf):
    from audienceadmin.access import client_ip

    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9, 10.0.0.2", REMOTE_ADDR="10.0.0.1")
    assert client_ip(request) == "10.0.0.1"  # no proxy trusted: the header is ignored
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request) == "203.0.113.9"  # the address the outer proxy saw; 6.6.6.6 could be forged
    settings.TRUSTED_PROXY_COUNT = 5
    assert client_ip(request) == "10.0.0.1"  # fewer hops than proxies: not trusted
