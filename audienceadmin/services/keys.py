"""The encryption keys of stored secrets: re-encrypting every secret under the newest key."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django.db import connection

from audienceadmin import fields, wording
from audienceadmin.fields import DecryptionError
from audienceadmin.models import AuditEvent, BatchApp


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
        kind=AuditEvent.Kind.KEYS_REENCRYPTED,
        actor_username=actor_label,
        message=wording.keys_reencrypted(report.reencrypted, report.already_current, len(report.unreadable)),
    )
    return report
