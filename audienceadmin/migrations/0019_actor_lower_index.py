"""The history's "Who" filter matches the start of a name, whatever its case: indexes on
lower(actor_username), with the kind first (a view) and without (Everything), ending in the id (the
pages' keyset). On PostgreSQL, text_pattern_ops serves `LIKE 'prefix%'` whatever the collation."""

from django.db import migrations

TABLE = "audienceadmin_auditevent"
INDEXES = {
    "postgresql": [
        f"CREATE INDEX audit_kind_actor_lower ON {TABLE} (kind, lower(actor_username) text_pattern_ops, id)",
        f"CREATE INDEX audit_actor_lower ON {TABLE} (lower(actor_username) text_pattern_ops, id)",
    ],
    "sqlite": [
        f"CREATE INDEX audit_kind_actor_lower ON {TABLE} (kind, lower(actor_username), id)",
        f"CREATE INDEX audit_actor_lower ON {TABLE} (lower(actor_username), id)",
    ],
}


def create(apps, schema_editor):
    for sql in INDEXES.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor in INDEXES:
        schema_editor.execute("DROP INDEX IF EXISTS audit_kind_actor_lower")
        schema_editor.execute("DROP INDEX IF EXISTS audit_actor_lower")


class Migration(migrations.Migration):
    dependencies = [("audienceadmin", "0018_app_restored")]

    operations = [migrations.RunPython(create, drop)]
