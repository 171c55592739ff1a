"""System checks: run by `manage.py check`, `runserver`, `migrate` and at the start of the tests."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection

from audienceadmin import audit, fields


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
    """Every stored key must be readable with the configured keys (names the app, never a key)."""
    try:
        fields.multifernet()
    except ImproperlyConfigured:
        return []  # reported by E002
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT name, api_key, rest_api_key FROM audienceadmin_batchapp ORDER BY name")
            rows = cursor.fetchall()
    except DatabaseError:
        return []  # no database or not migrated yet: nothing stored to check
    errors = []
    for name, *tokens in rows:
        for label, token in zip(("Batch API key", "REST API key"), tokens, strict=True):
            try:
                fields.decrypt(token)
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


@register()
def check_single_sign_on(app_configs, **kwargs) -> list[Error]:
    """SSO needs its client, the domains allowed in, and roles that exist; turning passwords off
    needs SSO (superusers keep their break-glass login either way)."""
    from audienceadmin import roles

    errors = []
    if settings.OIDC_ISSUER_URL:
        if not (settings.OIDC_CLIENT_ID and settings.OIDC_CLIENT_SECRET):
            errors.append(
                Error("OIDC_ISSUER_URL is set without OIDC_CLIENT_ID and OIDC_CLIENT_SECRET.", id="audienceadmin.E006")
            )
        if not settings.OIDC_ALLOWED_DOMAINS:
            errors.append(
                Error(
                    "OIDC_ALLOWED_DOMAINS is empty: single sign-on would let nobody in.",
                    hint="List the company's e-mail domains, e.g. OIDC_ALLOWED_DOMAINS=example.com,example.fr",
                    id="audienceadmin.E006",
                )
            )
    unknown = sorted({role for role in settings.OIDC_GROUP_ROLES.values() if role not in roles.ROLES})
    if unknown:
        errors.append(
            Error(
                f"OIDC_GROUP_ROLES names roles that do not exist: {', '.join(unknown)}.",
                hint=f"Roles: {', '.join(roles.ROLES)}.",
                id="audienceadmin.E007",
            )
        )
    if settings.OIDC_GROUP_ROLES and not settings.OIDC_GROUPS_CLAIM:
        errors.append(Error("OIDC_GROUP_ROLES is set but OIDC_GROUPS_CLAIM is empty.", id="audienceadmin.E007"))
    if not settings.LOCAL_PASSWORD_LOGIN and not settings.OIDC_ISSUER_URL:
        errors.append(
            Error(
                "LOCAL_PASSWORD_LOGIN is off but single sign-on is not configured: only superusers could sign in.",
                id="audienceadmin.E008",
            )
        )
    return errors


@register(deploy=True)
def check_single_sign_on_https(app_configs, **kwargs) -> list[Error]:
    if settings.OIDC_ISSUER_URL and not settings.OIDC_ISSUER_URL.startswith("https://"):
        return [Error("OIDC_ISSUER_URL is not an https:// URL.", id="audienceadmin.E009")]
    return []
