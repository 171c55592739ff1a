from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from audienceadmin import checks, services
from audienceadmin.fields import DecryptionError
from audienceadmin.models import BatchApp

pytestmark = pytest.mark.django_db


def raw_columns(app: BatchApp) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key, rest_api_key FROM audienceadmin_batchapp WHERE id = %s", [app.pk])
        return cursor.fetchone()


def test_the_database_column_holds_only_ciphertext(batch_app, app_keys):
    api_col, rest_col = raw_columns(batch_app)
    assert app_keys.api_key not in api_col
    assert app_keys.rest_api_key not in rest_col
    assert api_col != rest_col
    # Fernet tokens, readable back with the configured key.
    assert services.app_credentials(batch_app).api_key.reveal() == app_keys.api_key
    assert services.app_credentials(batch_app).rest_api_key.reveal() == app_keys.rest_api_key


def test_loading_an_app_does_not_decrypt_its_keys(batch_app, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the old key is lost
    app = BatchApp.objects.get(pk=batch_app.pk)  # listing and loading still work
    assert app.name == "Shop iOS"
    with pytest.raises(DecryptionError) as excinfo:
        services.app_credentials(app)
    assert "gAAAA" not in str(excinfo.value)  # never the ciphertext


def test_a_new_key_in_front_encrypts_and_the_old_one_still_decrypts(batch_app, settings, app_keys):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    assert services.app_credentials(batch_app).api_key.reveal() == app_keys.api_key  # old rows readable

    services.app_update(actor=None, app=batch_app, name=batch_app.name, api_key="NEWAPIKEY-0123456789", ip=None)
    api_col, _ = raw_columns(batch_app)
    assert Fernet(new_key.encode()).decrypt(api_col.encode()) == b"NEWAPIKEY-0123456789"
    with pytest.raises(Exception):  # noqa: B017 - the old key alone cannot read the new token
        Fernet(old_key.encode()).decrypt(api_col.encode())


def test_lookups_on_encrypted_fields_are_refused(batch_app, app_keys):
    with pytest.raises(NotImplementedError, match="lookup"):
        list(BatchApp.objects.filter(api_key=app_keys.api_key))
    with pytest.raises(NotImplementedError):
        list(BatchApp.objects.filter(rest_api_key__contains="REST"))


def test_missing_or_malformed_keys_are_reported_by_the_system_check(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    errors = checks.check_encryption_keys(None)
    assert [e.id for e in errors] == ["audienceadmin.E002"]
    assert "FIELD_ENCRYPTION_KEYS" in errors[0].msg

    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    errors = checks.check_encryption_keys(None)
    assert [e.id for e in errors] == ["audienceadmin.E002"]
    assert "not-a-fernet-key" not in errors[0].msg


def test_saving_without_keys_configured_fails_clearly(settings, keyadmin):
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS"):
        services.app_create(actor=keyadmin, name="x", api_key="A" * 20, rest_api_key="B" * 20, ip=None)
    assert not BatchApp.objects.exists()
