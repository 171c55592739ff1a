"""Auditors (Viewers, Key administrators) read the history of every app; operators only that of
the apps open to them. The permission that tells them apart, given to the two auditor roles."""

from django.db import migrations

from audienceadmin.roles import roles_migration


class Migration(migrations.Migration):
    dependencies = [
        ("audienceadmin", "0011_readiness_probe"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={
                "ordering": ["-id"],
                "permissions": [
                    ("view_every_app_history", "Can read the history of every app, restricted ones included")
                ],
            },
        ),
        migrations.RunPython(
            roles_migration(
                {
                    "Viewers": ["view_auditevent", "view_every_app_history"],
                    "Operators": ["view_auditevent", "delete_audience"],
                    "Key administrators": [
                        "view_auditevent",
                        "view_every_app_history",
                        "view_batchapp",
                        "add_batchapp",
                        "change_batchapp",
                    ],
                }
            ),
            migrations.RunPython.noop,
        ),
    ]
