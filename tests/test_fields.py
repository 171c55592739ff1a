from __future__ import annotations

import importlib
import json
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction

from audienceadmin import checks, fields, services
from audienceadmin.fields import DecryptionError, MisboundKeyError
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
    sealed = json.loads(Fernet(new_key.encode()).decrypt(api_col.encode()))
    assert sealed == {
        "model": "audienceadmin.batchapp",
        "row": batch_app.pk,
        "field": "api_key",
        "key": "NEWAPIKEY-0123456789",
    }
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


# --- each ciphertext is bound to its row and field ----------------------------------------------------


def copy_column(*, from_app: BatchApp, from_column: str, to_app: BatchApp, to_column: str) -> None:
    """What someone with write access to the database can do: move a ciphertext elsewhere."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {from_column} FROM audienceadmin_batchapp WHERE id = %s", [from_app.pk])  # noqa: S608
        (token,) = cursor.fetchone()
        cursor.execute(f"UPDATE audienceadmin_batchapp SET {to_column} = %s WHERE id = %s", [token, to_app.pk])  # noqa: S608


@pytest.fixture
def other_app(keyadmin):
    return services.app_create(
        actor=keyadmin, name="Other app", api_key="OTHERAPIKEY-0123456", rest_api_key="OTHERREST-0123456", ip=None
    )


def test_a_key_copied_into_another_apps_row_is_refused_and_reported(batch_app, other_app, app_keys):
    copy_column(from_app=batch_app, from_column="api_key", to_app=other_app, to_column="api_key")
    with pytest.raises(MisboundKeyError) as excinfo:
        services.app_credentials(other_app)
    message = str(excinfo.value)
    assert f"encrypted for audienceadmin.batchapp #{batch_app.pk}'s api_key" in message and "copied" in message
    assert "gAAAA" not in message and app_keys.api_key not in message
    assert isinstance(excinfo.value, DecryptionError)  # every caller already treats it as unreadable keys
    [error] = checks.check_stored_secrets_decrypt(None)
    assert error.id == "audienceadmin.E006"
    assert "The Batch API key stored for app “Other app” was encrypted as the Batch API key of app “Shop iOS”" in (
        error.msg
    )
    assert services.app_credentials(batch_app).api_key.reveal() == app_keys.api_key  # the original still opens


def test_a_key_moved_to_the_other_column_of_its_row_is_refused(batch_app):
    copy_column(from_app=batch_app, from_column="api_key", to_app=batch_app, to_column="rest_api_key")
    with pytest.raises(MisboundKeyError, match="rest_api_key"):
        services.app_credentials(batch_app)
    [error] = checks.check_stored_secrets_decrypt(None)
    assert error.id == "audienceadmin.E006" and "REST API key stored for app “Shop iOS”" in error.msg


def test_a_delete_with_a_copied_key_sends_nothing(batch_app, other_app, operator, fast_client, simulator):
    copy_column(from_app=batch_app, from_column="rest_api_key", to_app=other_app, to_column="rest_api_key")
    result = services.audience_delete(actor=operator, app=other_app, name="spring-sale", ip=None)
    assert (result.outcome, result.tries) == ("failed", 0)
    assert simulator.requests == []


def test_the_binding_survives_rotation(batch_app, other_app, settings, app_keys):
    copy_column(from_app=batch_app, from_column="api_key", to_app=other_app, to_column="api_key")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), settings.FIELD_ENCRYPTION_KEYS[0]]
    services.encryption_keys_rotate()
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    assert services.app_credentials(batch_app).api_key.reveal() == app_keys.api_key
    with pytest.raises(MisboundKeyError):
        services.app_credentials(other_app)
    assert [e.id for e in checks.check_stored_secrets_decrypt(None)] == ["audienceadmin.E006"]


def test_keys_stored_before_binding_are_migrated_into_their_envelopes(batch_app, app_keys, monkeypatch):
    migration = importlib.import_module("audienceadmin.migrations.0013_bind_keys_to_their_rows")
    editor = SimpleNamespace(connection=connection)
    migration.unbind(None, editor)  # as the previous release stored them: bare keys
    api_col, _ = raw_columns(batch_app)
    assert fields.decrypt(api_col) == app_keys.api_key
    with pytest.raises(MisboundKeyError, match="not bound to its row"):
        services.app_credentials(batch_app)
    assert {e.id for e in checks.check_stored_secrets_decrypt(None)} == {"audienceadmin.E006"}
    with monkeypatch.context() as m:  # before 0013 has run, unsealed keys are expected: `migrate` must not stop
        m.setattr(checks.MigrationRecorder, "applied_migrations", lambda self: {})
        assert checks.check_stored_secrets_decrypt(None) == []
    migration.bind(None, editor)
    migration.bind(None, editor)  # twice: nothing more to do
    credentials = services.app_credentials(batch_app)
    assert (credentials.api_key.reveal(), credentials.rest_api_key.reveal()) == (
        app_keys.api_key,
        app_keys.rest_api_key,
    )
    assert checks.check_stored_secrets_decrypt(None) == []


def test_a_key_cannot_be_written_without_its_row(batch_app):
    with pytest.raises(TypeError, match="bound to its row"), transaction.atomic():
        BatchApp.objects.filter(pk=batch_app.pk).update(api_key="NEWKEY-0123456789")
    assert "SealedKey" in repr(BatchApp.objects.values_list("api_key", flat=True).get(pk=batch_app.pk))
