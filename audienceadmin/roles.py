"""The three roles, as Django groups. Used by the data migration and by tests' fixtures."""

from __future__ import annotations

VIEWERS = "Viewers"
OPERATORS = "Operators"
KEY_ADMINISTRATORS = "Key administrators"

# Group name -> permission codenames (all in the audienceadmin app).
ROLES: dict[str, list[str]] = {
    VIEWERS: ["view_auditevent"],
    OPERATORS: ["view_auditevent", "delete_audience"],
    KEY_ADMINISTRATORS: ["view_auditevent", "view_batchapp", "add_batchapp", "change_batchapp"],
}


def ensure_roles(group_model, permission_model) -> None:
    """Create the groups and give each exactly its permissions. Idempotent."""
    for group_name, codenames in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=group_name)
        perms = permission_model.objects.filter(content_type__app_label="audienceadmin", codename__in=codenames)
        missing = set(codenames) - set(perms.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"Permissions missing for {group_name}: {sorted(missing)}")
        group.permissions.set(perms)
