"""PostgreSQL: an index that serves `audience LIKE 'prefix%'` whatever the database's collation."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX audit_audience_prefix ON audienceadmin_auditevent (audience varchar_pattern_ops, id)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS audit_audience_prefix")


class Migration(migrations.Migration):
    dependencies = [("audienceadmin", "0005_history_indexes")]

    operations = [migrations.RunPython(create, drop)]
