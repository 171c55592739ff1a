"""Batch apps: adding, changing and archiving them (audited, never with the keys), their stored keys
decrypted for a call, and the connection test."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audienceadmin import app_names, batch, selectors, wording
from audienceadmin.batch import key_hint
from audienceadmin.fields import DecryptionError
from audienceadmin.models import AuditEvent, BatchApp
from audienceadmin.services import pacing
from audienceadmin.services.events import Actor, actor_fields, app_event_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Kind = AuditEvent.Kind


def _access_description(users: Iterable[User]) -> str:
    return wording.access_description(u.get_username() for u in users)


def _checked_name(name: str, *, renaming: BatchApp | None = None) -> str:
    """A new name, normalised; refused (``ValidationError``) if invisible characters or a likeness
    to another app's name would let operators mistake one app for another (``app_names``)."""
    name = app_names.normalised(name)
    why = selectors.app_name_refusal(name, by_another_than=renaming)
    if why is not None:
        raise ValidationError(why, code="app_name")
    return name


@transaction.atomic
def app_create(
    *,
    actor: Actor,
    name: str,
    api_key: str,
    rest_api_key: str,
    ip: str | None,
    allowed_operators: Iterable[User] = (),
    kind: str = BatchApp.Kind.MEP,
    approval_policy: str = BatchApp.ApprovalPolicy.NONE,
) -> BatchApp:
    """An MEP app (``api_key``: its API key) or a CEP project (``api_key``: its project key)."""
    app = BatchApp.objects.create(
        name=_checked_name(name),
        kind=BatchApp.Kind(kind),
        approval_policy=approval_policy,
        api_key=api_key,
        rest_api_key=rest_api_key,
        api_key_hint=key_hint(api_key),
        rest_api_key_hint=key_hint(rest_api_key),
    )
    operators = list(allowed_operators)
    app.allowed_operators.set(operators)
    app_event_record(
        Kind.APP_CREATED,
        actor=actor,
        app=app,
        ip=ip,
        message=_access_description(operators),
        details={"kind": app.kind},
    )
    if app.needs_approval:
        _policy_record(actor, app, ip)
    return app


def _policy_record(actor: Actor, app: BatchApp, ip: str | None) -> None:
    app_event_record(
        Kind.APP_POLICY_CHANGED,
        actor=actor,
        app=app,
        ip=ip,
        message=wording.policy_changed(app.get_approval_policy_display()),
        details={"approval_policy": app.approval_policy},
    )


@transaction.atomic
def app_update(
    *,
    actor: Actor,
    app: BatchApp,
    name: str,
    api_key: str = "",
    rest_api_key: str = "",
    ip: str | None,
    allowed_operators: Iterable[User] | None = None,
    kind: str | None = None,
    approval_policy: str | None = None,
) -> BatchApp:
    """Rename, replace keys, restrict access, set the approval policy (audited). An empty key means
    "keep the stored one"; ``allowed_operators=None`` (``approval_policy=None``) leaves it as it is.
    A name stored before the name rules (``app_names``) is kept as it is; a new one is checked. The
    kind never changes (``kind``, if given, must be the app's): the stored keys mean what it says."""
    app = BatchApp.objects.select_for_update().get(pk=app.pk)
    if kind is not None and kind != app.kind:
        raise ValidationError(wording.KIND_IS_FIXED, code="kind")
    if name != app.name:
        name = _checked_name(name, renaming=app)
    if name != app.name:
        old_name = app.name
        app.name = name
        app.save(update_fields=["name"])
        app_event_record(Kind.APP_RENAMED, actor=actor, app=app, ip=ip, message=wording.renamed_from(old_name))
    changed: list[str] = []
    fields: list[str] = []
    if api_key:
        app.api_key, app.api_key_hint = api_key, key_hint(api_key)
        changed.append(wording.api_key_label(app.kind))
        fields += ["api_key", "api_key_hint"]
    if rest_api_key:
        app.rest_api_key, app.rest_api_key_hint = rest_api_key, key_hint(rest_api_key)
        changed.append(wording.REST_API_KEY_LABEL)
        fields += ["rest_api_key", "rest_api_key_hint"]
    if fields:
        app.save(update_fields=fields)
        app_event_record(Kind.APP_KEYS_CHANGED, actor=actor, app=app, ip=ip, message=wording.keys_replaced(changed))
    if allowed_operators is not None:
        operators = list(allowed_operators)
        if {u.pk for u in operators} != set(app.allowed_operators.values_list("pk", flat=True)):
            app.allowed_operators.set(operators)
            app_event_record(
                Kind.APP_ACCESS_CHANGED, actor=actor, app=app, ip=ip, message=_access_description(operators)
            )
    if approval_policy is not None and approval_policy != app.approval_policy:
        if approval_policy not in BatchApp.ApprovalPolicy.values:
            raise ValidationError(f"Unknown approval policy {approval_policy!r}.", code="approval_policy")
        app.approval_policy = approval_policy
        app.save(update_fields=["approval_policy"])
        _policy_record(actor, app, ip)
    return app


@transaction.atomic
def app_archive(*, actor: Actor, app: BatchApp, ip: str | None) -> BatchApp:
    app = BatchApp.objects.select_for_update().get(pk=app.pk)
    if app.archived_at is None:
        app.archived_at = timezone.now()
        app.save(update_fields=["archived_at"])
        app_event_record(Kind.APP_ARCHIVED, actor=actor, app=app, ip=ip)
    return app


@transaction.atomic
def app_restore(*, actor: Actor, app: BatchApp, ip: str | None) -> BatchApp:
    """An archived app back in use (its keys as they were; test them before deleting)."""
    app = BatchApp.objects.select_for_update().get(pk=app.pk)
    if app.archived_at is not None:
        app.archived_at = None
        app.save(update_fields=["archived_at"])
        app_event_record(Kind.APP_RESTORED, actor=actor, app=app, ip=ip)
    return app


def app_credentials(app: BatchApp) -> batch.Credentials:
    """Decrypt the app's current keys. Raises DecryptionError if the configured keys cannot, and
    MisboundKeyError (a DecryptionError) if a key was sealed for another row or field."""
    row = BatchApp.objects.defer(None).only("pk", *BatchApp.KEY_FIELDS).get(pk=app.pk)
    return batch.Credentials(api_key=batch.Secret(row.api_key), rest_api_key=batch.Secret(row.rest_api_key))


@dataclass(frozen=True)
class ConnectionTest:
    ok: bool
    message: str


def app_test_connection(*, actor: Actor, app: BatchApp, ip: str | None) -> ConnectionTest:
    """Call Batch's list route with the stored keys (read-only; a CEP project's
    ``audiences/list?limit=1``) and say whether they work."""
    status: int | None = None
    error_name = error_code = batch_message = ""
    try:
        credentials = app_credentials(app)
        client = batch.client_for(app.kind)
        if isinstance(client, batch.CepClient):  # the project's shared pace
            client = client.paced(pacing.project_pacer(app))
        response = client.list_audiences(credentials, limit=1)
    except DecryptionError:
        result = ConnectionTest(False, wording.connection_undecryptable(app.name))
    except batch.BatchApiError as exc:
        status, error_name, error_code, batch_message = exc.http_status, exc.name, exc.code, exc.message
        result = ConnectionTest(False, wording.connection_refused(app.name, status, exc.name))
    except batch.BatchError as exc:
        status, error_name, error_code, batch_message = exc.http_status, exc.name, exc.code, exc.message
        result = ConnectionTest(False, wording.connection_unavailable(app.name, exc.reason, status))
    else:
        result = ConnectionTest(True, wording.connection_works(app.name, response.status))
    outcome = wording.CONNECTION_OK if result.ok else wording.CONNECTION_FAILED
    AuditEvent.objects.create(
        kind=Kind.CONNECTION_TESTED,
        app=app,
        app_name=app.name,
        ip=ip,
        http_status=status if not result.ok else 200,
        error_name=error_name,
        error_code=error_code,
        message=outcome + (f": {batch_message}" if batch_message else ""),
        **actor_fields(actor, ""),
    )
    return result
