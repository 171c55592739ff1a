"""Create the three roles (Viewers, Operators, Key administrators) with their permissions."""

from django.db import migrations

from audienceadmin.roles import roles_migration


class Migration(migrations.Migration):
    dependencies = [
        ("audienceadmin", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(
            roles_migration(
                {
                    "Viewers": ["view_auditevent"],
                    "Operators": ["view_auditevent", "delete_audience"],
                    "Key administrators": ["view_auditevent", "view_batchapp", "add_batchapp", "change_batchapp"],
                }
            ),
            migrations.RunPython.noop,
        )
    ]
