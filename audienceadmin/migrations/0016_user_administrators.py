"""The fourth role: User administrators (the People page) with the permission of the Person proxy."""

from django.db import migrations

from audienceadmin.roles import roles_migration


class Migration(migrations.Migration):
    dependencies = [("audienceadmin", "0015_people_and_sign_in")]

    operations = [
        migrations.RunPython(
            roles_migration({"User administrators": ["view_auditevent", "manage_people"]}),
            migrations.RunPython.noop,
        )
    ]
