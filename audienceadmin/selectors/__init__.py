"""Read queries, a module per subject. Views and forms read through these, never through ad-hoc ORM
calls, and services and commands share them; call sites use the names re-exported here
(``selectors.history_page(...)``).

- ``apps``: which apps a user may act in; the apps pages; the operators;
- ``history``: the audit trail's pages, CSV rows and detail; the last verification;
- ``bulk``: bulk jobs a user may follow, a job's progress, items and results.
"""

from audienceadmin.selectors.apps import (
    app_allowed_operators,
    app_by_name,
    app_name_refusal,
    app_usable_by,
    apps_active,
    apps_all,
    apps_for_delete,
    apps_for_filter,
    apps_hidden_in_history,
    apps_in_history,
    apps_open_to,
    apps_with_key_status,
    may_delete_in,
    operators,
)
from audienceadmin.selectors.bulk import (
    RESULTS_FIELDS,
    Progress,
    bulk_items_started,
    bulk_job_items,
    bulk_job_progress,
    bulk_job_results_rows,
    bulk_jobs_active,
    bulk_jobs_for,
    bulk_jobs_recent,
)
from audienceadmin.selectors.history import (
    EXPORT_FIELDS,
    HISTORY_VIEW_CHOICES,
    HISTORY_VIEWS,
    AttemptRow,
    EventRow,
    HistoryFilter,
    HistoryPage,
    HistoryView,
    audit_event_id_by_mac,
    audit_event_with_attempt,
    history_export_rows,
    history_page,
    last_verification,
    recent_attempts,
)

__all__ = [
    "EXPORT_FIELDS",
    "HISTORY_VIEWS",
    "HISTORY_VIEW_CHOICES",
    "RESULTS_FIELDS",
    "AttemptRow",
    "EventRow",
    "HistoryFilter",
    "HistoryPage",
    "HistoryView",
    "Progress",
    "app_allowed_operators",
    "app_by_name",
    "app_name_refusal",
    "app_usable_by",
    "apps_active",
    "apps_all",
    "apps_for_delete",
    "apps_for_filter",
    "apps_hidden_in_history",
    "apps_in_history",
    "apps_open_to",
    "apps_with_key_status",
    "audit_event_id_by_mac",
    "audit_event_with_attempt",
    "bulk_items_started",
    "bulk_job_items",
    "bulk_job_progress",
    "bulk_job_results_rows",
    "bulk_jobs_active",
    "bulk_jobs_for",
    "bulk_jobs_recent",
    "history_export_rows",
    "history_page",
    "last_verification",
    "may_delete_in",
    "operators",
    "recent_attempts",
]
