from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

from audienceadmin.models import AuditEvent, BatchApp


@admin.register(BatchApp)
class BatchAppAdmin(admin.ModelAdmin):
    """Keys are edited in the dashboard (write-only); the admin never shows or edits them."""

    list_display = ["name", "api_key_hint", "rest_api_key_hint", "created_at", "archived_at"]
    search_fields = ["name"]
    fields = readonly_fields = ("name", "api_key_hint", "rest_api_key_hint", "created_at", "archived_at")
    # read-only: renames, key changes and archiving are audited, so they are done in the dashboard

    def has_add_permission(self, request) -> bool:
        return False  # an app needs keys: add it from the dashboard

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the audit trail points to apps: archive instead


class AuditPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        if isinstance(self.object_list, QuerySet) and not self.object_list.query.where:
            # Audit ids are contiguous from 1 (AuditEvent.save): the last id is the count, no scan.
            return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        return super().count


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only. For searching, the dashboard's History is faster (keyset pages, indexed filters)."""

    paginator = AuditPaginator
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
