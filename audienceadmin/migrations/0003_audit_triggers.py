"""The database itself refuses UPDATE and DELETE (and TRUNCATE) on the audit table."""

from django.db import migrations

from audienceadmin.audit import DROP_TRIGGERS_SQL, TRIGGERS_SQL


def create_triggers(apps, schema_editor):
    for statement in TRIGGERS_SQL.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    for statement in DROP_TRIGGERS_SQL.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audienceadmin", "0002_roles")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
