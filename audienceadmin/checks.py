"""System checks: run by `manage.py check`, `runserver`, `migrate` and at the start of the tests."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from audienceadmin import fields


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
