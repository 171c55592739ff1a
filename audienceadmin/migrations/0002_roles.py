"""Create the three roles (Viewers, Operators, Key administrators) with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from audienceadmin.roles import KEY_ADMINISTRATORS, OPERATORS, VIEWERS, ensure_roles


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    # The roles of that time (later ones have their own migration, once their permissions exist).
    names = [VIEWERS, OPERATORS, KEY_ADMINISTRATORS]
    ensure_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), names)


class Migration(migrations.Migration):
    dependencies = [
        ("audienceadmin", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
