"""System checks: run by `manage.py check`, `runserver`, `migrate` and at the start of the tests."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection
from django.db.migrations.recorder import MigrationRecorder

from audienceadmin import audit, fields

# The migration that sealed the keys stored before it: until it has run, an unsealed key is expected.
KEYS_SEALED_MIGRATION = "0013_bind_keys_to_their_rows"


@register()
def check_encryption_keys(app_configs, **kwargs) -> list[Error]:
    try:
        fields.multifernet()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="Generate a key with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="audienceadmin.E002",
            )
        ]
    return []


@register()
def check_audit_keys(app_configs, **kwargs) -> list[Error]:
    try:
        audit.keys()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
                id="audienceadmin.E005",
            )
        ]
    return []


@register(deploy=True)
def check_batch_url(app_configs, **kwargs) -> list[Error]:
    if not settings.BATCH_API_URL.startswith("https://"):
        return [
            Error(
                "BATCH_API_URL is not an https:// URL: the REST API key would travel in clear.",
                id="audienceadmin.E003",
            )
        ]
    return []


@register()
def check_stored_secrets_decrypt(app_configs, **kwargs) -> list[Error]:
    """Every stored key must be readable with the configured keys (E004) and sealed for the row and
    field it is stored in (E006: a ciphertext copied from elsewhere). Names the app, never a key."""
    from audienceadmin.models import BatchApp

    try:
        fields.multifernet()
    except ImproperlyConfigured:
        return []  # reported by E002
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, name, api_key, rest_api_key FROM audienceadmin_batchapp ORDER BY name")
            rows = cursor.fetchall()
    except DatabaseError:
        return []  # no database or not migrated yet: nothing stored to check
    sealing_migrated = (BatchApp._meta.app_label, KEYS_SEALED_MIGRATION) in MigrationRecorder(
        connection
    ).applied_migrations()
    errors = []
    columns = {name: cast(fields.EncryptedTextField, BatchApp._meta.get_field(name)) for name in BatchApp.KEY_FIELDS}
    app_names = {pk: name for pk, name, *_ in rows}
    for pk, name, *tokens in rows:
        for column, token in zip(columns.values(), tokens, strict=True):
            label = column.verbose_name
            try:
                fields.SealedKey(token, model=column.model_label, field=column.attname).open(row=pk)
            except fields.MisboundKeyError as exc:
                if exc.bound_to is None and not sealing_migrated:
                    continue  # stored before keys were sealed: migration 0013 seals it (migrate runs this check)
                errors.append(_misbound(exc, f"The {label} stored for app “{name}”", columns, app_names))
            except fields.DecryptionError:
                errors.append(
                    Error(
                        f"The {label} of app “{name}” cannot be decrypted with FIELD_ENCRYPTION_KEYS.",
                        hint="Put back the key that encrypted it (anywhere in the list), or re-enter the "
                        "app's keys in the dashboard.",
                        id="audienceadmin.E004",
                    )
                )
    return errors


def _misbound(exc: fields.MisboundKeyError, key: str, columns: dict, app_names: dict[int, str]) -> Error:
    """E006: where a key that does not belong to its row came from, in words."""
    if exc.bound_to is None:
        return Error(
            f"{key} is not sealed for its app: it was stored before keys were sealed, and yet migration "
            f"{KEYS_SEALED_MIGRATION} has run (so it comes from an old backup, or was written there).",
            hint="Re-enter the app's keys in the dashboard.",
            id="audienceadmin.E006",
        )
    _, other, field = exc.bound_to
    owner = f"app “{app_names[other]}”" if other in app_names else f"app #{other}, which no longer exists"
    label = columns[field].verbose_name if field in columns else field
    return Error(
        f"{key} was encrypted as the {label} of {owner}: it was copied there, not set through the dashboard.",
        hint="Someone with write access to the database put it there: find out who, then re-enter the app's keys "
        "in the dashboard.",
        id="audienceadmin.E006",
    )


@register()
def check_single_sign_on(app_configs, **kwargs) -> list[Error]:
    """SSO needs its client, the domains allowed in, and roles that exist; turning passwords off
    needs SSO (superusers keep their break-glass login either way)."""
    from audienceadmin import roles

    errors = []
    if settings.OIDC_ISSUER_URL:
        if not (settings.OIDC_CLIENT_ID and settings.OIDC_CLIENT_SECRET):
            errors.append(
                Error("OIDC_ISSUER_URL is set without OIDC_CLIENT_ID and OIDC_CLIENT_SECRET.", id="audienceadmin.E007")
            )
        if not settings.OIDC_ALLOWED_DOMAINS:
            errors.append(
                Error(
                    "OIDC_ALLOWED_DOMAINS is empty: single sign-on would let nobody in.",
                    hint="List the company's e-mail domains, e.g. OIDC_ALLOWED_DOMAINS=example.com,example.fr",
                    id="audienceadmin.E007",
                )
            )
    unknown = sorted({role for role in settings.OIDC_GROUP_ROLES.values() if role not in roles.ROLES})
    if unknown:
        errors.append(
            Error(
                f"OIDC_GROUP_ROLES names roles that do not exist: {', '.join(unknown)}.",
                hint=f"Roles: {', '.join(roles.ROLES)}.",
                id="audienceadmin.E008",
            )
        )
    if settings.OIDC_GROUP_ROLES and not settings.OIDC_GROUPS_CLAIM:
        errors.append(Error("OIDC_GROUP_ROLES is set but OIDC_GROUPS_CLAIM is empty.", id="audienceadmin.E008"))
    if not settings.LOCAL_PASSWORD_LOGIN and not settings.OIDC_ISSUER_URL:
        errors.append(
            Error(
                "LOCAL_PASSWORD_LOGIN is off but single sign-on is not configured: only superusers could sign in.",
                id="audienceadmin.E009",
            )
        )
    return errors


@register(deploy=True)
def check_single_sign_on_https(app_configs, **kwargs) -> list[Error]:
    if settings.OIDC_ISSUER_URL and not settings.OIDC_ISSUER_URL.startswith("https://"):
        return [Error("OIDC_ISSUER_URL is not an https:// URL.", id="audienceadmin.E010")]
    return []
