"""Keys never leak: not in pages, headers, logs, audit rows, exceptions, or any database column.

Apps get recognisable random keys; then every page is crawled as every role and every error path
is exercised (web, CLI, client), while every logger records at DEBUG. Afterwards every place is
searched for the plaintext of every key.
"""

from __future__ import annotations

import logging
import secrets
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from audienceadmin import batch, roles, services
from audienceadmin.fields import DecryptionError
from audienceadmin.models import BatchApp, DeletionRequest, RemovalFollowUp
from tests.batch.test_redaction import independent_skeleton
from tests.conftest import PASSWORD, delete_through_pages, make_user

pytestmark = pytest.mark.django_db

FAULTS = [
    {"action": "error", "error": name}
    for name in [
        "AUTHENTICATION_INVALID",
        "API_MISUSE",
        "ROUTE_NOT_FOUND",
        "MALFORMED_PARAMETER",
        "SERVER_ERROR",
        "MAINTENANCE_ERROR",
        "TOO_MANY_REQUESTS",
    ]
] + [{"action": a} for a in ["timeout", "drop", "malformed", "html", "empty", "huge"]]
# A hostile Batch: broken bodies, redirects, and keys echoed back in every field and disguise.
FAULTS += [
    {"action": "truncate", "length": 1000, "send": 7},
    {"action": "truncate", "status": 401, "length": 1000, "send": 12},
    {"action": "redirect", "status": 302, "location": "/1.1/{api_key}/custom-audience"},
] + [
    {"action": "raw", "status": status, "headers": [["Content-Type", "application/json"]], "body": body}
    for status in (401, 503)
    for body in (
        '{{"error_code": "{api_key}", "message": "Invalid key {api_key_lower}"}}',
        '{{"code": "{rest_api_key_upper}", "error_message": "REST key {rest_api_key} refused"}}',
        '{{"error": "{api_key_zw}", "message": "see {api_key_pct} or {api_key_split}"}}',
    )
]


class Haystack:
    def __init__(self) -> None:
        self.places: list[tuple[str, str]] = []

    def add(self, where: str, text) -> None:
        self.places.append((where, text if isinstance(text, str) else repr(text)))

    def add_response(self, where: str, response) -> None:
        self.add(f"{where} body", response.content.decode(errors="replace"))
        self.add(f"{where} headers", "\n".join(f"{k}: {v}" for k, v in response.headers.items()))
        self.add(f"{where} cookies", response.cookies.output())


def dump_every_table() -> list[tuple[str, str]]:
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows.extend((f"table {table}", repr(row)) for row in cursor.fetchall())
    return rows


@pytest.fixture
def leaky_keys(simulator, keyadmin):
    """Two MEP apps, one with keys Batch accepts and one with a REST key Batch refuses, and a CEP
    project (its project key is as secret as the others)."""
    keys = {
        name: ("LEAKAPI" + secrets.token_hex(10), "LEAKREST" + secrets.token_hex(10))
        for name in ("Good app", "Refused app")
    }
    keys[CEP_PROJECT] = ("project_" + secrets.token_hex(16), "LEAKCEPREST" + secrets.token_hex(10))
    simulator.add_app(keys["Good app"][0], keys["Good app"][1], audiences=["keep-me"])
    simulator.add_app(keys["Refused app"][0], "NOT-THE-STORED-KEY-0000", audiences=["keep-me"])
    simulator.add_project(*keys[CEP_PROJECT], audiences=["keep-me"])
    for name, (api_key, rest_key) in keys.items():
        kind = "cep" if name == CEP_PROJECT else "mep"
        services.app_create(
            actor=keyadmin, name=name, kind=kind, api_key=api_key, rest_api_key=rest_key, ip="127.0.0.1"
        )
    return keys


CEP_PROJECT = "CEP project"


def restore_keep_me(simulator, leaky_keys) -> None:
    for name, (api_key, _) in leaky_keys.items():
        if name == CEP_PROJECT:
            if "keep-me" not in simulator.cep_audience_names(api_key):
                simulator.add_cep_audience(api_key, "keep-me")
        else:
            simulator.add_audience(api_key, "keep-me")


def test_no_key_leaks_anywhere(
    leaky_keys,
    simulator,
    fast_client,
    client_config,
    caplog,
    settings,
    django_user_model,
    role_groups,
    operator,
    viewer,
    keyadmin,
):
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "django", "audienceadmin", "axes"):
        caplog.set_level(logging.DEBUG, logger=name)  # caplog restores each level afterwards
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    hay = Haystack()
    superuser = django_user_model.objects.create_superuser("root", "", PASSWORD)
    apps = list(BatchApp.objects.all())
    client_config_fast = batch.ClientConfig(base_url=simulator.url, read_timeout=0.2, max_tries=2)
    short_client = batch.MepClient(batch.Transport(client_config_fast, sleep=lambda s: None))
    short_cep = batch.CepClient(short_client.transport)

    # 1. every page, as every role
    for user in (None, viewer, operator, keyadmin, superuser):
        client = Client()
        if user is not None:
            client.force_login(user)
        urls = [reverse(n) for n in ("login", "home", "history", "app_list", "app_create", "audience_delete")]
        urls += [reverse(n) for n in ("people", "person_invite", "mfa_index", "account_reauthenticate")]
        urls += [reverse("person_edit", args=[u.pk]) for u in (operator, keyadmin)]
        urls += [reverse("history") + f"?view={view}" for view in ("security", "people", "all")]
        urls += [reverse(n, args=[a.pk]) for a in apps for n in ("app_edit", "app_archive")]
        urls += ["/admin/", "/admin/audienceadmin/batchapp/", "/admin/audienceadmin/auditevent/"]
        urls += [f"/admin/audienceadmin/batchapp/{a.pk}/change/" for a in apps]
        for url in urls:
            hay.add_response(f"{url} as {user}", client.get(url, follow=True))

    # 2. every delete outcome through the web form, for both apps
    web = Client()
    web.force_login(superuser)
    for app in apps:
        for fault in [None, *FAULTS]:
            simulator.clear_faults()
            if fault:
                simulator.add_fault(audience="keep-me", **fault)
            if fault and fault["action"] == "timeout":
                settings.BATCH_API_TIMEOUT = 0.2
            page = web.post(reverse("audience_delete"), {"app": app.pk, "name": "keep-me"})
            hay.add_response(f"confirmation {app} {fault}", page)  # the preview, through the same fault
            form = {"app": app.pk, "name": "keep-me", "confirm_name": "keep-me", "ticket": page.context["ticket"]}
            hay.add_response(f"delete {app} {fault}", web.post(reverse("audience_delete_confirm"), form, follow=True))
            for follow_up in RemovalFollowUp.objects.filter(state="pending"):  # a CEP removal's own event
                services.removal_check(follow_up.pk)
            restore_keep_me(simulator, leaky_keys)
        hay.add_response(f"test connection {app}", web.post(reverse("app_test_connection", args=[app.pk]), follow=True))
    simulator.clear_faults()

    # 3. the client's exceptions themselves, for every fault
    for app_name, (api_key, rest_key) in leaky_keys.items():
        creds = batch.Credentials(api_key, rest_key)
        for fault in FAULTS:
            simulator.clear_faults()
            simulator.add_fault(**fault)
            try:
                (short_cep if app_name == CEP_PROJECT else short_client).delete_audience(creds, "keep-me")
            except batch.BatchError as exc:
                hay.add(f"exception {app_name} {fault}", f"{exc!s} {exc!r} {exc.message} {exc.args}")
    simulator.clear_faults()
    unreachable = batch.MepClient(batch.Transport(batch.ClientConfig(base_url="http://127.0.0.1:9", max_tries=1)))
    for name, (api_key, rest_key) in leaky_keys.items():
        client = batch.CepClient(unreachable.transport) if name == CEP_PROJECT else unreachable
        try:
            client.delete_audience(batch.Credentials(api_key, rest_key), "x")
        except batch.BatchError as exc:
            hay.add("exception unreachable", f"{exc!s} {exc!r} {exc.__context__!r} {exc.__cause__!r}")

    # 4. the CLI, both outcomes
    restore_keep_me(simulator, leaky_keys)
    for app in apps:
        out, err = StringIO(), StringIO()
        try:
            call_command("delete_audience", "--app", app.name, "keep-me", stdout=out, stderr=err)
        except CommandError as exc:
            hay.add("cli error", str(exc))
        hay.add("cli output", out.getvalue() + err.getvalue())

    # 4b. the two-person rule: a request in each app (one Batch refuses), its pages as every role,
    # its approval and outcome, and every notification (e-mail and webhook, sent or not)
    from django.core import mail

    approver = make_user(django_user_model, "bea", role_groups[roles.OPERATORS], email="bea@example.com")
    settings.APPROVAL_WEBHOOK_URL = "http://127.0.0.1:9/hook"  # nothing listens: kept in the outbox
    asker = Client()
    asker.force_login(operator)
    for app in apps:
        services.app_update(actor=keyadmin, app=app, name=app.name, ip=None, approval_policy="second_person")
        page = asker.post(reverse("audience_delete"), {"app": app.pk, "name": "keep-me"})
        form = {"app": app.pk, "name": "keep-me", "confirm_name": "keep-me", "ticket": page.context["ticket"]}
        hay.add_response(
            f"ask {app}", asker.post(reverse("audience_delete_confirm"), form | {"reason": "crawl"}, follow=True)
        )
    asked = list(DeletionRequest.objects.all())
    for user in (viewer, operator, keyadmin, superuser, approver):
        client = Client()
        client.force_login(user)
        for url in [reverse("request_list"), reverse("home"), *(reverse("request_detail", args=[r.pk]) for r in asked)]:
            hay.add_response(f"{url} as {user}", client.get(url, follow=True))
    decider = Client()
    decider.force_login(approver)
    for r in asked:
        hay.add_response(f"approve {r.pk}", decider.post(reverse("request_approve", args=[r.pk]), follow=True))
        hay.add_response(f"request {r.pk} after", decider.get(reverse("request_detail", args=[r.pk])))
    services.notifications_send()
    assert len(mail.outbox) >= 4  # the approver told of both requests, and of both outcomes
    for message in mail.outbox:
        hay.add(f"mail to {message.to}", f"{message.subject}\n{message.body}\n{message.to}")
    for app in apps:
        services.app_update(actor=keyadmin, app=app, name=app.name, ip=None, approval_policy="none")

    # 5. key changes, rotation, a lost encryption key
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    hay.add("rotate output", out.getvalue())
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    try:
        services.app_credentials(apps[0])
    except DecryptionError as exc:
        hay.add("decryption error", f"{exc!s} {exc!r}")
    hay.add_response("delete with lost key", delete_through_pages(web, apps[0], "keep-me", follow=True))
    from audienceadmin import checks

    hay.add("system check", repr(checks.check_stored_secrets_decrypt(None)))

    # 6. logs, audit rows and every column of every table
    for record in caplog.records:
        hay.add(f"log {record.name}", record.getMessage() + (record.exc_text or ""))
    hay.places.extend(dump_every_table())

    assert len(hay.places) > 300  # the crawl did happen
    assert any("HTTP 401" in text for _, text in hay.places)  # and reached the error paths
    assert any("Batch accepted the removal" in text for _, text in hay.places)  # and the CEP project's
    assert RemovalFollowUp.objects.exclude(state="pending").exists()  # and its follow-up
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # urllib3 did log at DEBUG
    readable = [(where, independent_skeleton(text)) for where, text in hay.places]
    for api_key, rest_key in leaky_keys.values():
        for secret in (api_key, rest_key):  # in any case, encoding or disguise, or 8 characters of it
            # "project_" is the public shape of every project key (and a word pages use): its secret is the rest
            skel = independent_skeleton(secret.removeprefix("project_"))
            windows = {skel[i : i + 8] for i in range(len(skel) - 7)}
            leaks = [where for where, text in readable if any(w in text for w in windows)]
            assert leaks == [], f"a key leaked into: {leaks[:5]}"


def test_the_admin_never_shows_keys(django_user_model, leaky_keys):
    superuser = django_user_model.objects.create_superuser("root2", "", PASSWORD)
    client = Client()
    client.force_login(superuser)
    app = BatchApp.objects.get(name="Good app")
    html = client.get(f"/admin/audienceadmin/batchapp/{app.pk}/change/").content.decode()
    assert "Good app" in html
    assert leaky_keys["Good app"][0] not in html and leaky_keys["Good app"][1] not in html
    assert leaky_keys["Good app"][0][-4:] in html  # the hint is there


def test_a_user_without_role_sees_no_key_hint(django_user_model, leaky_keys):
    nobody = make_user(django_user_model, "nobody")
    client = Client()
    client.force_login(nobody)
    assert client.get(reverse("app_list")).status_code == 403
