from django.contrib import admin

from audienceadmin.models import AuditEvent, BatchApp


@admin.register(BatchApp)
class BatchAppAdmin(admin.ModelAdmin):
    """Keys are edited in the dashboard (write-only); the admin never shows or edits them."""

    list_display = ["name", "api_key_hint", "rest_api_key_hint", "created_at", "archived_at"]
    search_fields = ["name"]
    fields = ["name", "api_key_hint", "rest_api_key_hint", "created_at", "archived_at"]
    readonly_fields = fields  # renames, key changes and archiving are audited: do them in the dashboard

    def has_add_permission(self, request) -> bool:
        return False  # an app needs keys: add it from the dashboard

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the audit trail points to apps: archive instead


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "at",
        "kind",
        "actor_username",
        "app_name",
        "audience",
        "outcome",
        "http_status",
    ]
    list_filter = ["kind", "outcome", "source"]
    search_fields = ["audience", "actor_username", "app_name"]
    list_select_related = ["actor", "app"]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
