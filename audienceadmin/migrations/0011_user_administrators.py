"""The fourth role: User administrators (the People page) with the permission of the Person proxy."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from audienceadmin.roles import USER_ADMINISTRATORS, ensure_roles


def create_role(apps, schema_editor):
    # Permissions are normally created after all migrations; the group needs Person's now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    ensure_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), [USER_ADMINISTRATORS])


class Migration(migrations.Migration):
    dependencies = [("audienceadmin", "0010_people_and_sign_in")]

    operations = [migrations.RunPython(create_role, migrations.RunPython.noop)]
