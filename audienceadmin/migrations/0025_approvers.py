"""Operators may approve other operators' deletion requests (issue 16): the new permission joins the group."""

from django.db import migrations

from audienceadmin.roles import roles_migration


class Migration(migrations.Migration):
    dependencies = [("audienceadmin", "0024_two_person_rule")]

    operations = [
        migrations.RunPython(
            roles_migration({"Operators": ["view_auditevent", "delete_audience", "approve_deletion"]}),
            migrations.RunPython.noop,
        )
    ]
