"""The operations of Audience Admin. Each writes its own audit events, where the action happens."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from audienceadmin import audit, batch, fields, selectors
from audienceadmin.batch import key_hint
from audienceadmin.fields import DecryptionError
from audienceadmin.models import AuditEvent, AuditVerification, BatchApp, BulkItem

logger = logging.getLogger(__name__)
Outcome = AuditEvent.Outcome
Kind = AuditEvent.Kind
DELETE_PERMISSION = "audienceadmin.delete_audience"


def _actor_fields(actor: AbstractBaseUser | None, actor_label: str) -> dict:
    if actor is not None:
        return {"actor": actor, "actor_username": actor.get_username()}
    return {"actor": None, "actor_username": actor_label}


# --- apps and keys ------------------------------------------------------------------------------


def app_event_record(
    kind: str, *, actor, app: BatchApp, ip: str | None, message: str = "", details: dict | None = None
) -> None:
    """An audit event about an app (its keys, its access, its bulk jobs): never the keys themselves."""
    AuditEvent.objects.create(
        kind=kind, app=app, app_name=app.name, ip=ip, message=message, details=details or {}, **_actor_fields(actor, "")
    )


def _access_description(users: Iterable[AbstractBaseUser]) -> str:
    names = sorted(u.get_username() for u in users)
    return "restricted to " + ", ".join(names) if names else "open to every operator"


@transaction.atomic
def app_create(
    *,
    actor: AbstractBaseUser | None,
    name: str,
    api_key: str,
    rest_api_key: str,
    ip: str | None,
    allowed_operators: Iterable[AbstractBaseUser] = (),
) -> BatchApp:
    app = BatchApp.objects.create(
        name=name,
        api_key=api_key,
        rest_api_key=rest_api_key,
        api_key_hint=key_hint(api_key),
        rest_api_key_hint=key_hint(rest_api_key),
    )
    allowed_operators = list(allowed_operators)
    app.allowed_operators.set(allowed_operators)
    app_event_record(Kind.APP_CREATED, actor=actor, app=app, ip=ip, message=_access_description(allowed_operators))
    return app


@transaction.atomic
def app_update(
    *,
    actor: AbstractBaseUser,
    app: BatchApp,
    name: str,
    api_key: str = "",
    rest_api_key: str = "",
    ip: str | None,
    allowed_operators: Iterable[AbstractBaseUser] | None = None,
) -> BatchApp:
    """Rename, replace keys, restrict access. An empty key means "keep the stored one";
    ``allowed_operators=None`` leaves access as it is."""
    app = BatchApp.objects.select_for_update().get(pk=app.pk)
    if name != app.name:
        old_name = app.name
        app.name = name
        app.save(update_fields=["name"])
        app_event_record(Kind.APP_RENAMED, actor=actor, app=app, ip=ip, message=f"was “{old_name}”")
    changed, fields = [], []
    if api_key:
        app.api_key, app.api_key_hint = api_key, key_hint(api_key)
        changed.append("Batch API key")
        fields += ["api_key", "api_key_hint"]
    if rest_api_key:
        app.rest_api_key, app.rest_api_key_hint = rest_api_key, key_hint(rest_api_key)
        changed.append("REST API key")
        fields += ["rest_api_key", "rest_api_key_hint"]
    if fields:
        app.save(update_fields=fields)
        app_event_record(Kind.APP_KEYS_CHANGED, actor=actor, app=app, ip=ip, message=" and ".join(changed))
    if allowed_operators is not None:
        allowed_operators = list(allowed_operators)
        if {u.pk for u in allowed_operators} != set(app.allowed_operators.values_list("pk", flat=True)):
            app.allowed_operators.set(allowed_operators)
            app_event_record(
                Kind.APP_ACCESS_CHANGED, actor=actor, app=app, ip=ip, message=_access_description(allowed_operators)
            )
    return app


@transaction.atomic
def app_archive(*, actor: AbstractBaseUser, app: BatchApp, ip: str | None) -> BatchApp:
    app = BatchApp.objects.select_for_update().get(pk=app.pk)
    if app.archived_at is None:
        app.archived_at = timezone.now()
        app.save(update_fields=["archived_at"])
        app_event_record(Kind.APP_ARCHIVED, actor=actor, app=app, ip=ip)
    return app


# --- deleting an audience -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletionResult:
    attempt: uuid.UUID
    outcome: str
    app_name: str
    audience: str
    http_status: int | None = None
    error_name: str = ""
    error_code: str = ""
    batch_message: str = ""
    reason: str = ""
    tries: int = 0
    duration_ms: int = 0
    recorded: bool = True  # False: the *completed* event could not be written

    @property
    def deleted(self) -> bool:
        return self.outcome == Outcome.DELETED

    @property
    def message(self) -> str:
        return describe_deletion(self)


def audience_delete(
    *,
    actor: AbstractBaseUser | None,
    app: BatchApp,
    name: str,
    ip: str | None,
    source: str = AuditEvent.Source.WEB,
    actor_label: str = "",
    client: batch.MepClient | None = None,
    details: dict | None = None,
) -> DeletionResult:
    """Delete audience ``name`` of ``app`` in Batch, auditing the attempt before and after.

    The *requested* event is committed before Batch is called; if it cannot be written, nothing is
    sent. A Batch-side failure is an outcome, not an exception: the *completed* event and the
    returned result say what Batch answered, and only a 2xx answer counts as ``deleted``.
    ``details`` (the impact preview, a bulk job id) goes into the *requested* event.
    """
    if not batch.is_valid_audience_name(name):
        raise ValidationError("Invalid audience name.", code="invalid_name")
    app = BatchApp.objects.get(pk=app.pk)  # its current name and state, not a stale copy
    if app.is_archived:
        raise ValidationError(f"App “{app.name}” is archived.", code="archived")
    if actor is not None and not (actor.has_perm(DELETE_PERMISSION) and selectors.app_usable_by(app, actor)):
        security_event_record(
            kind=Kind.PERMISSION_DENIED,
            actor=actor,
            ip=ip,
            app=app,
            audience=name,
            message="delete refused: the user may not delete audiences in this app",
        )
        raise PermissionDenied("You may not delete audiences in this app.")

    return audience_delete_checked(
        actor=actor, app=app, name=name, ip=ip, source=source, actor_label=actor_label, client=client, details=details
    )


def audience_delete_checked(
    *,
    actor: AbstractBaseUser | None,
    app: BatchApp,
    name: str,
    ip: str | None,
    source: str,
    actor_label: str = "",
    client: batch.MepClient | None = None,
    details: dict | None = None,
    credentials: batch.Credentials | None = None,
    bulk_item: int | None = None,
) -> DeletionResult:
    """``audience_delete`` once its checks are done: a bulk job checks the name, the app and the
    permission once (and again at every heartbeat) and decrypts the keys once, not per item.

    ``bulk_item``: the job item's state changes commit with the audit events, so an item is
    *running* exactly when its request was recorded, and *done* exactly when its outcome was."""
    if credentials is None:  # read before anything is recorded: nothing stands between the request and the call
        try:
            credentials = app_credentials(app)
        except DecryptionError:
            credentials = None  # recorded as failed: nothing can be sent
    attempt = uuid.uuid4()
    common = {
        "attempt": attempt,
        "source": source,
        "app": app,
        "app_name": app.name,
        "ip": ip,
        "audience": name,
        **_actor_fields(actor, actor_label or source),
    }
    with transaction.atomic():  # if this fails, nothing is sent (and the caller's transaction survives)
        AuditEvent.objects.create(kind=Kind.DELETE_REQUESTED, details=details or {}, **common)
        if bulk_item is not None:
            BulkItem.objects.filter(pk=bulk_item).update(state=BulkItem.State.RUNNING, attempt=attempt)

    started = time.monotonic()
    result = _call_batch(name, client or batch.get_client(), credentials)
    duration_ms = round((time.monotonic() - started) * 1000)
    result = DeletionResult(attempt=attempt, app_name=app.name, audience=name, **result, duration_ms=duration_ms)
    recorded = _complete(
        common,
        bulk_item,
        outcome=result.outcome,
        http_status=result.http_status,
        error_name=result.error_name,
        error_code=result.error_code,
        message=result.batch_message or REASONS.get(result.reason, result.reason),
        tries=result.tries,
        duration_ms=duration_ms,
    )
    logger.info(
        "audience %s in app %s: %s",
        name,
        app.name,
        result.outcome,
        extra={"app": app.name, "audience": name, "outcome": result.outcome, "attempt": attempt},
    )
    return dataclasses.replace(result, recorded=recorded)


def _complete(common: dict, bulk_item: int | None, **outcome) -> bool:
    """Write the *completed* event. False if it could not be written: one exists already (a sweep
    closed the attempt) or the database failed; Batch's answer is then logged, not lost."""
    try:
        with transaction.atomic():
            AuditEvent.objects.create(kind=Kind.DELETE_COMPLETED, **common, **outcome)
            if bulk_item is not None:
                BulkItem.objects.filter(pk=bulk_item).update(
                    state=BulkItem.State.DONE,
                    finished_at=timezone.now(),
                    outcome=outcome["outcome"],
                    http_status=outcome.get("http_status"),
                    error_name=outcome.get("error_name", ""),
                    message=bulk_item_message(outcome["outcome"], outcome.get("message", ""))[:1000],
                )
    except DatabaseError as exc:
        logger.error(
            "Could not record the outcome of attempt %s (%s, audience %s, app %s): %s",
            common["attempt"],
            outcome.get("outcome"),
            common["audience"],
            common["app_name"],
            "already closed by the sweep" if isinstance(exc, IntegrityError) else type(exc).__name__,
        )
        return False
    return True


INTERRUPTED = "interrupted: no answer recorded"
CHECK_UNKNOWN = "Batch may or may not have deleted it: check it in Batch before trying again."


def bulk_item_message(outcome: str, message: str) -> str:
    """What a bulk job's page says of an item: Batch's message, and for an unknown outcome what to do."""
    if outcome == Outcome.UNKNOWN:
        return f"{message[:1].upper()}{message[1:]}. {CHECK_UNKNOWN}" if message else CHECK_UNKNOWN
    return message


def stale_attempt_age() -> timedelta:
    """After this long without a *completed* event, an attempt's process cannot still be waiting for
    Batch: no call outlives the client's hard bound (its deadline, enforced by a watchdog)."""
    return timedelta(seconds=batch.config_from_settings().hard_bound + settings.AUDIT_SWEEP_GRACE)


_last_sweep = 0.0


def attempts_sweep_now_and_then(every: float = 60.0) -> None:
    """The history page's sweep of the last day, at most once a minute per process."""
    global _last_sweep
    if time.monotonic() - _last_sweep >= every:
        _last_sweep = time.monotonic()
        attempts_sweep(window=timedelta(days=1))


def attempts_sweep(*, window: timedelta | None = None) -> int:
    """Close attempts whose process died between *requested* and *completed* with outcome
    ``unknown``. ``window`` limits the look-back (the history page sweeps the last day; the
    ``sweep_attempts`` command, everything). Returns how many were closed."""
    now = timezone.now()
    requested = AuditEvent.objects.filter(kind=Kind.DELETE_REQUESTED, at__lt=now - stale_attempt_age())
    if window is not None:
        requested = requested.filter(at__gte=now - window)
    completed = AuditEvent.objects.filter(kind=Kind.DELETE_COMPLETED, attempt=OuterRef("attempt"))
    closed = 0
    for event in requested.filter(~Exists(completed)).order_by("id").iterator():
        closed += attempt_close_interrupted(event)
    return closed


def attempt_close_interrupted(requested: AuditEvent, *, bulk_item: int | None = None) -> bool:
    """Give a *requested* event whose process died its *completed* event: outcome unknown."""
    fields = ("attempt", "source", "actor_id", "actor_username", "app_id", "app_name", "ip", "audience")
    common = {f: getattr(requested, f) for f in fields}
    return _complete(common, bulk_item, outcome=Outcome.UNKNOWN, message=INTERRUPTED)


def app_credentials(app: BatchApp) -> batch.Credentials:
    """Decrypt the app's current keys (raises DecryptionError if the configured keys cannot)."""
    api_key, rest_api_key = BatchApp.objects.filter(pk=app.pk).values_list("api_key", "rest_api_key").get()
    return batch.Credentials(api_key=api_key, rest_api_key=rest_api_key)


def _call_batch(name: str, client: batch.MepClient, credentials: batch.Credentials | None) -> dict:
    if credentials is None:
        return {"outcome": Outcome.FAILED, "reason": "undecryptable_keys", "tries": 0}
    try:
        response = client.delete_audience(credentials, name)
    except batch.BatchApiError as exc:
        return _from_error(Outcome.REJECTED, exc)
    except batch.BatchUnavailable as exc:
        return _from_error(Outcome.FAILED, exc)
    except batch.OutcomeUnknown as exc:
        return _from_error(Outcome.UNKNOWN, exc)
    except batch.NotSent as exc:
        return _from_error(Outcome.NOT_SENT, exc)
    return {
        "outcome": Outcome.DELETED,
        "http_status": response.status,
        "tries": response.tries,
        "reason": f"body_{response.body_error}" if response.body_error else "deleted",
    }


def _from_error(outcome: str, exc: batch.BatchError) -> dict:
    return {
        "outcome": outcome,
        "http_status": exc.http_status,
        "error_name": exc.name,
        "error_code": exc.code,
        "batch_message": exc.message,
        "reason": exc.reason,
        "tries": exc.tries,
    }


# What the audit's message column says when Batch sent no message of its own.
REASONS = {
    "deleted": "",
    "undecryptable_keys": "the app's stored keys cannot be decrypted; nothing was sent to Batch",
    "timeout": "no answer before the read timeout",
    "connection_lost": "connection lost after the request was sent",
    "gateway_timeout": "a proxy timed out waiting for Batch",
    "connect": "could not connect to Batch",
    "tls": "TLS handshake with Batch failed",
    "invalid_request": "the request could not be made (check BATCH_API_URL)",
    "redirect": "Batch answered with a redirect instead of an answer (not followed)",
    "http": "Batch answered with an error",
    "rejected": "Batch rejected the request",
    "deadline": "no complete answer within BATCH_API_DEADLINE",
    "body_truncated": "Batch's answer body was cut short (its status stands)",
    "body_timeout": "Batch's answer body was too slow to read (its status stands)",
    "body_deadline": "Batch's answer body did not arrive within the deadline (its status stands)",
    "cancelled": "not sent: the bulk job was cancelled",
    "shutting_down": "not sent: the server was shutting down",
    "pause_too_long": "not sent: Batch asked to wait longer than the deadline allows",
    "lease_lost": "not sent: another worker took the bulk job over",
}


def batch_said(status: int | None, name: str, message: str = "") -> str:
    """ " Batch said: HTTP 503 MAINTENANCE_ERROR — its message.", or ""."""
    label = batch.answer_label(status, name)
    if not label:
        return ""
    return f" Batch said: {label}" + (f" — {message.rstrip('.')}" if message else "") + "."


def describe_deletion(result: DeletionResult) -> str:
    """One paragraph for the operator: what happened, and what to do next."""
    app, audience = f"“{result.app_name}”", f"“{result.audience}”"
    said = batch_said(result.http_status, result.error_name, result.batch_message) if result.http_status else ""
    tries = f" ({result.tries} tries)" if result.tries > 1 else ""

    text = _describe_outcome(result, app, audience, said, tries)
    if not result.recorded:
        text += (
            " Warning: this outcome could not be written to the audit trail (database error); "
            "the history will show the attempt as interrupted."
        )
    return text


def _describe_outcome(result: DeletionResult, app: str, audience: str, said: str, tries: str) -> str:
    if result.outcome == Outcome.DELETED:
        return f"Audience {audience} was deleted from app {app}."
    if result.outcome == Outcome.NOT_SENT:
        return (
            f"Nothing was sent to Batch ({REASONS.get(result.reason, result.reason).removeprefix('not sent: ')}), "
            f"so audience {audience} was not deleted from app {app}. Try again when you are ready."
        )
    if result.outcome == Outcome.REJECTED:
        status = result.http_status
        if status == 401 or result.error_name == "AUTHENTICATION_INVALID":
            advice = (
                f"Batch rejected the keys of app {app}: the REST API key or the API key is wrong "
                "or was revoked. Nothing was deleted. A key administrator should check the app's keys."
            )
        elif status == 403 or result.error_name == "API_MISUSE":
            advice = (
                f"Batch refused this request for app {app} (not allowed with these keys). "
                "Nothing was deleted. A key administrator should check that the REST API key "
                "may manage custom audiences for this app."
            )
        elif status == 404 or result.error_name == "ROUTE_NOT_FOUND":
            advice = (
                f"Batch has no audience {audience} in app {app}. Nothing was deleted. It may have "
                "been deleted already, or the name differs (names are case-sensitive)."
            )
        elif status == 429:
            advice = "Batch is rate-limiting requests. Nothing was deleted. Wait a minute, then try again."
        else:
            advice = (
                f"Batch rejected the request to delete {audience} from app {app} as invalid. "
                "Nothing was deleted. Check the audience name; if it is right, report this error."
            )
        return advice + said
    if result.outcome == Outcome.FAILED:
        if result.reason == "undecryptable_keys":
            return (
                f"The stored keys of app {app} cannot be decrypted with the configured "
                "FIELD_ENCRYPTION_KEYS. Nothing was sent to Batch and nothing was deleted. "
                "An administrator must restore the encryption key, or re-enter the app's keys."
            )
        if result.reason == "redirect":
            return (
                f"Batch answered with a redirect (HTTP {result.http_status}) "
                f"instead of carrying out the request, so audience {audience} was not deleted from app {app}. "
                "The redirect was not followed. An administrator should check BATCH_API_URL (for example "
                "http:// instead of https://, or a proxy in between)."
            )
        if result.reason in ("connect", "tls", "invalid_request", "deadline"):
            return (
                f"Could not reach Batch{tries}: {REASONS[result.reason]}. Nothing was sent, so "
                f"audience {audience} was not deleted. Try again later; if it persists, check the "
                "network and BATCH_API_URL."
            )
        if result.http_status == 503:
            what = f"Batch is in maintenance or temporarily unavailable{tries}: audience {audience} was not deleted"
        elif result.http_status == 429:
            what = f"Batch kept rate-limiting the request{tries}: audience {audience} was not deleted"
        else:
            what = (
                f"Batch kept answering with a server error{tries} and did not confirm the deletion of "
                f"{audience}: it was most likely not deleted"
            )
        return f"{what} from app {app}. Try again in a few minutes." + said
    # UNKNOWN
    return (
        f"The outcome is unknown: the request to delete {audience} from app {app} was sent, but "
        f"{REASONS.get(result.reason, 'no answer came back')}. Batch may or may not have deleted "
        "it. Check whether the audience still exists in Batch before trying again." + said
    )


# --- security events, connection tests, key rotation ------------------------------------------------


def security_event_record(
    *,
    kind: str,
    ip: str | None,
    actor: AbstractBaseUser | None = None,
    username: str = "",
    app: BatchApp | None = None,
    audience: str = "",
    message: str = "",
) -> AuditEvent:
    """Failed logins, lockouts, permission denials: who (or which username was tried), from where."""
    return AuditEvent.objects.create(
        kind=kind,
        ip=ip,
        app=app,
        app_name=app.name if app else "",
        audience=audience,
        message=message[:500],
        **_actor_fields(actor, username[:150]),
    )


@dataclass(frozen=True)
class ConnectionTest:
    ok: bool
    message: str


def app_test_connection(*, actor: AbstractBaseUser, app: BatchApp, ip: str | None) -> ConnectionTest:
    """Call Batch's list route with the stored keys (read-only) and say whether they work."""
    name = f"“{app.name}”"
    status, error_name, error_code, batch_message = None, "", "", ""
    try:
        credentials = app_credentials(app)
        response = batch.get_client().list_audiences(credentials, limit=1)
    except DecryptionError:
        result = ConnectionTest(False, f"The stored keys of app {name} cannot be decrypted with FIELD_ENCRYPTION_KEYS.")
    except batch.BatchApiError as exc:
        status, error_name, error_code, batch_message = exc.http_status, exc.name, exc.code, exc.message
        if exc.http_status == 401:
            text = f"Batch rejected the keys of app {name}: replace the REST API key or the API key."
        else:
            text = f"Batch refused the test request for app {name}."
        result = ConnectionTest(False, text + batch_said(status, exc.name))
    except batch.BatchError as exc:
        status, error_name, error_code, batch_message = exc.http_status, exc.name, exc.code, exc.message
        why = REASONS.get(exc.reason, exc.reason) + (f" (HTTP {status})" if status else "")
        result = ConnectionTest(False, f"Could not check app {name}: {why}. Try again later.")
    else:
        result = ConnectionTest(True, f"The keys of app {name} work: Batch answered HTTP {response.status}.")
    AuditEvent.objects.create(
        kind=Kind.CONNECTION_TESTED,
        app=app,
        app_name=app.name,
        ip=ip,
        http_status=status if not result.ok else 200,
        error_name=error_name,
        error_code=error_code,
        message=("ok" if result.ok else "failed") + (f": {batch_message}" if batch_message else ""),
        **_actor_fields(actor, ""),
    )
    return result


@dataclass
class RotationReport:
    reencrypted: int = 0
    already_current: int = 0
    unreadable: list[str] = dataclasses.field(default_factory=list)


def encryption_keys_rotate(*, batch_size: int = 100, actor_label: str = "system") -> RotationReport:
    """Re-encrypt every stored secret under the first key of FIELD_ENCRYPTION_KEYS.

    Safe to run twice (secrets already under the newest key are left alone) and while the site
    runs: each row is rewritten with a compare-and-swap on its old ciphertext, so a key replaced
    meanwhile in the dashboard is never overwritten with the older value.
    """
    report = RotationReport()
    table = connection.ops.quote_name(BatchApp._meta.db_table)
    columns = ("api_key", "rest_api_key")
    last_id = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, name, api_key, rest_api_key FROM {table} WHERE id > %s ORDER BY id LIMIT %s",  # noqa: S608
                [last_id, batch_size],
            )
            rows = cursor.fetchall()
        if not rows:
            break
        for pk, name, *tokens in rows:
            last_id = pk
            for column, token in zip(columns, tokens, strict=True):
                if fields.is_current(token):
                    report.already_current += 1
                    continue
                try:
                    new_token = fields.rotate(token)
                except DecryptionError:
                    report.unreadable.append(f"{name} ({column})")
                    continue
                with connection.cursor() as cursor:
                    column_sql = connection.ops.quote_name(column)
                    cursor.execute(
                        f"UPDATE {table} SET {column_sql} = %s WHERE id = %s AND {column_sql} = %s",  # noqa: S608
                        [new_token, pk, token],
                    )
                    # 0 rows: the key was replaced meanwhile, under the newest key already.
                    report.reencrypted += cursor.rowcount
                    report.already_current += 1 - cursor.rowcount
    AuditEvent.objects.create(
        kind=Kind.KEYS_REENCRYPTED,
        actor_username=actor_label,
        message=(
            f"{report.reencrypted} re-encrypted, {report.already_current} already current, "
            f"{len(report.unreadable)} unreadable"
        ),
    )
    return report


# --- the audit chain ---------------------------------------------------------------------------------


def audit_log_verify(*, expect_head: str | None = None) -> audit.Verdict:
    """Stream the whole chain in id order (constant memory), record and return the verdict."""
    started = time.monotonic()
    verdict = audit.verify(audit.chain_rows(), expect_head=expect_head, lookup=selectors.audit_event_id_by_mac)
    AuditVerification.objects.create(
        ok=verdict.ok,
        events=verdict.events,
        head_mac=verdict.head_mac,
        problem=verdict.problem,
        seconds=time.monotonic() - started,
    )
    return verdict


# --- reading audiences from Batch (the browser and the impact preview) -------------------------------


@dataclass(frozen=True)
class AudienceList:
    audiences: list[dict]
    offset: int
    limit: int
    error: str = ""

    @property
    def has_next(self) -> bool:
        return len(self.audiences) == self.limit

    @property
    def has_previous(self) -> bool:
        return self.offset > 0


def _read_error(exc: batch.BatchError, app: BatchApp) -> str:
    if exc.http_status == 401:
        text = f"Batch rejected the keys of app “{app.name}”: a key administrator should check them."
    elif isinstance(exc, batch.BatchApiError):
        text = "Batch refused the request."
    else:
        text = f"Batch could not answer ({REASONS.get(exc.reason, exc.reason)}); try again in a moment."
    return text + batch_said(exc.http_status, exc.name, exc.message)


def audience_list(*, app: BatchApp, offset: int = 0, limit: int = 50) -> AudienceList:
    """A page of the app's audiences as Batch lists them (newest first). Failures are a message."""
    try:
        response = batch.get_client().list_audiences(app_credentials(app), offset=offset, limit=limit)
    except DecryptionError:
        return AudienceList([], offset, limit, f"The stored keys of app “{app.name}” cannot be decrypted.")
    except batch.BatchError as exc:
        return AudienceList([], offset, limit, _read_error(exc, app))
    data = response.data if isinstance(response.data, dict) else {}
    items = [a for a in data.get("custom_audiences") or [] if isinstance(a, dict) and isinstance(a.get("name"), str)]
    return AudienceList(items, offset, limit)


@dataclass(frozen=True)
class Preview:
    """What Batch says of an audience before it is deleted. ``exists`` is None when Batch could not say."""

    exists: bool | None
    nb_ids: int | None = None
    type: str = ""
    updated: str = ""
    indexing_state: str = ""
    warning: str = ""

    def as_details(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in ("", None)}


def audience_preview(*, app: BatchApp, name: str) -> Preview:
    try:
        response = batch.get_client().get_audience(app_credentials(app), name)
    except DecryptionError:
        return Preview(None, warning="The app's stored keys cannot be decrypted.")
    except batch.BatchApiError as exc:
        if exc.http_status == 404:
            return Preview(False)
        return Preview(None, warning=_read_error(exc, app))
    except batch.BatchError as exc:
        return Preview(None, warning=_read_error(exc, app))
    data = response.data if isinstance(response.data, dict) else {}
    nb_ids = data.get("nb_ids")
    return Preview(
        True,
        nb_ids=nb_ids if isinstance(nb_ids, int) and not isinstance(nb_ids, bool) else None,
        type=str(data.get("type") or "")[:40],
        updated=str(data.get("updated") or "")[:40],
        indexing_state=str(data.get("indexing_state") or "")[:40],
    )
