"""Seal every stored key with the row and field it belongs to (``audienceadmin.fields``).

Keys stored before were encrypted alone: each is decrypted and encrypted again inside its envelope
``{"model", "row", "field", "key"}``. A key that no configured FIELD_ENCRYPTION_KEYS key can decrypt is
left as it is (`manage.py check` reports it, E004/E006: re-enter it in the dashboard). Reversible: going
back takes the keys out of their envelopes again, for the previous release.

The previous release cannot read the envelopes: stop its instances before migrating (README, Deploying).
"""

import json

from django.db import migrations

from audienceadmin import fields

MODEL = "audienceadmin.batchapp"
COLUMNS = ("api_key", "rest_api_key")


def _rewrite(schema_editor, change):
    connection = schema_editor.connection
    table = connection.ops.quote_name("audienceadmin_batchapp")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, api_key, rest_api_key FROM {table} ORDER BY id")  # noqa: S608
        rows = cursor.fetchall()
    for pk, *tokens in rows:
        for column, token in zip(COLUMNS, tokens, strict=True):
            try:
                plaintext = fields.decrypt(token)
            except fields.DecryptionError:
                continue
            new_plaintext = change(plaintext, pk, column)
            if new_plaintext is None:
                continue
            with connection.cursor() as cursor:
                column_sql = connection.ops.quote_name(column)
                cursor.execute(
                    f"UPDATE {table} SET {column_sql} = %s WHERE id = %s",  # noqa: S608
                    [fields.encrypt(new_plaintext), pk],
                )


def _sealed_key(plaintext):
    """The key inside an envelope, or None if ``plaintext`` is a bare key."""
    try:
        sealed = json.loads(plaintext)
    except ValueError:
        return None
    return sealed.get("key") if isinstance(sealed, dict) else None


def bind(apps, schema_editor):
    def sealed(plaintext, pk, column):
        if _sealed_key(plaintext) is not None:
            return None  # already in its envelope
        return fields.envelope(plaintext, model=MODEL, row=pk, field=column)

    _rewrite(schema_editor, sealed)


def unbind(apps, schema_editor):
    _rewrite(schema_editor, lambda plaintext, pk, column: _sealed_key(plaintext))


class Migration(migrations.Migration):
    dependencies = [
        ("audienceadmin", "0012_history_of_every_app"),
    ]

    operations = [migrations.RunPython(bind, unbind)]
