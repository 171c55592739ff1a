"""The roles, as Django groups, and the permissions they grant.

Code checks a permission by its constant (``user.has_perm(roles.DELETE_AUDIENCE)``), never by a
string typed at the place of use. Used by the data migration, views, services, selectors and tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

APP_LABEL = "audienceadmin"

# Permission codenames (Permission.codename), as the groups are granted them.
DELETE_AUDIENCE_CODENAME = "delete_audience"  # BatchApp.Meta.permissions
VIEW_AUDIT_CODENAME = "view_auditevent"
VIEW_APPS_CODENAME = "view_batchapp"
ADD_APP_CODENAME = "add_batchapp"
CHANGE_APP_CODENAME = "change_batchapp"
# Auditors read the events of every app; without it, only those of the apps open to the user.
VIEW_EVERY_APP_HISTORY_CODENAME = "view_every_app_history"  # AuditEvent.Meta.permissions
MANAGE_PEOPLE_CODENAME = "manage_people"  # Person.Meta.permissions
# Approving another operator's deletion request in an app under the two-person rule (issue 16).
# Operators have it; an organisation may take it from the group and give it to a smaller one.
APPROVE_DELETION_CODENAME = "approve_deletion"  # DeletionRequest.Meta.permissions

# The same permissions as ``user.has_perm`` names them.
DELETE_AUDIENCE = f"{APP_LABEL}.{DELETE_AUDIENCE_CODENAME}"
VIEW_AUDIT = f"{APP_LABEL}.{VIEW_AUDIT_CODENAME}"
VIEW_APPS = f"{APP_LABEL}.{VIEW_APPS_CODENAME}"
ADD_APP = f"{APP_LABEL}.{ADD_APP_CODENAME}"
CHANGE_APP = f"{APP_LABEL}.{CHANGE_APP_CODENAME}"
VIEW_EVERY_APP_HISTORY = f"{APP_LABEL}.{VIEW_EVERY_APP_HISTORY_CODENAME}"
MANAGE_PEOPLE = f"{APP_LABEL}.{MANAGE_PEOPLE_CODENAME}"
APPROVE_DELETION = f"{APP_LABEL}.{APPROVE_DELETION_CODENAME}"

VIEWERS = "Viewers"
OPERATORS = "Operators"
KEY_ADMINISTRATORS = "Key administrators"
USER_ADMINISTRATORS = "User administrators"

# Group name -> permission codenames (all in the audienceadmin app). Viewers and key administrators
# are the auditors: they read the history of every app. Operators read that of the apps open to them
# (and the events of no app): an app restricted to other operators stays out of their sight.
ROLES: dict[str, list[str]] = {
    VIEWERS: [VIEW_AUDIT_CODENAME, VIEW_EVERY_APP_HISTORY_CODENAME],
    OPERATORS: [VIEW_AUDIT_CODENAME, DELETE_AUDIENCE_CODENAME, APPROVE_DELETION_CODENAME],
    KEY_ADMINISTRATORS: [
        VIEW_AUDIT_CODENAME,
        VIEW_EVERY_APP_HISTORY_CODENAME,
        VIEW_APPS_CODENAME,
        ADD_APP_CODENAME,
        CHANGE_APP_CODENAME,
    ],
    USER_ADMINISTRATORS: [VIEW_AUDIT_CODENAME, MANAGE_PEOPLE_CODENAME],
}
# Roles whose local accounts must enrol MFA when MFA_REQUIRED is on (superusers too: they can do
# everything, and the break-glass account is the one password login left when SSO is on).
MFA_REQUIRED_ROLES = frozenset({OPERATORS, KEY_ADMINISTRATORS, USER_ADMINISTRATORS})


def ensure_roles(group_model: Any, permission_model: Any, roles: dict[str, list[str]] = ROLES) -> None:
    """Create the groups and give each exactly its permissions. Idempotent.

    Takes the models as arguments: the data migrations pass their historical ones (and the roles
    as they were when the migration was written)."""
    for group_name, codenames in roles.items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        perms = permission_model.objects.filter(content_type__app_label=APP_LABEL, codename__in=codenames)
        missing = set(codenames) - set(perms.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"Permissions missing for {group_name}: {sorted(missing)}")
        group.permissions.set(perms)


def roles_migration(roles: dict[str, list[str]]) -> Callable[[Any, Any], None]:
    """A data migration step that sets the groups to ``roles``. It creates the permissions first,
    which Django would otherwise create only after every migration."""

    def migrate(apps: Any, schema_editor: Any) -> None:
        from django.contrib.auth.management import create_permissions

        for app_config in apps.get_app_configs():
            app_config.models_module = True
            create_permissions(app_config, apps=apps, verbosity=0)
            app_config.models_module = None
        ensure_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"), roles)

    return migrate
