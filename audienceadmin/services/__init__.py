"""The operations of Audience Admin, a module per sub-domain. Each writes its own audit events,
where the action happens. Call sites use the names re-exported here: ``services.audience_delete(...)``.

- ``deletion``: deleting one audience (the two audit events around the call);
- ``attempts``: the sweep of attempts whose process died, bulk items kept equal to the audit;
- ``late_records``: what must wait for the database to come back;
- ``apps``: adding, changing, archiving apps; their keys decrypted for a call; the connection test;
- ``keys``: re-encrypting stored keys under the newest encryption key;
- ``events``: security and app events; verifying the audit chain;
- ``logins``: failed logins and lockouts, a burst from one address counted in one event;
- ``audiences``: the audience browser's pages; ``audience_lists``: an app's whole list (search, sorts,
  a bulk list's existence check); ``previews``: the impact preview and the MEP version it resolves;
- ``removals``: following a CEP removal Batch accepted until it is applied;
- ``bulk``: creating, cancelling and resuming bulk jobs (``audienceadmin.bulk_runner`` runs them);
- ``approvals``: the two-person rule's deletion requests (``approval_gate``: the gate before Batch);
- ``people``: invitations, roles, deactivation, lockouts; the audit of every way of signing in.
"""

from audienceadmin.services.approval_gate import require_approval
from audienceadmin.services.approvals import (
    ApprovalRequired,
    RequestClosed,
    approval_needed,
    deletion_request_create,
    notifications_send,
    request_approve,
    request_break_glass,
    request_bulk_finished,
    request_execute,
    request_reject,
    request_withdraw,
    requests_expire,
)
from audienceadmin.services.apps import (
    ConnectionTest,
    app_archive,
    app_create,
    app_credentials,
    app_restore,
    app_test_connection,
    app_update,
)
from audienceadmin.services.attempts import (
    attempt_close_interrupted,
    attempts_sweep,
    attempts_sweep_now_and_then,
    item_follow_audit,
    stale_attempt_age,
    sweep_throttle_reset,
)
from audienceadmin.services.audience_lists import (
    Existence,
    FullList,
    all_audiences,
    all_audiences_cached,
    all_audiences_forget,
    audiences_existence,
)
from audienceadmin.services.audiences import BROWSE_SORTS as AUDIENCE_SORTS
from audienceadmin.services.audiences import PAGE_SIZE as AUDIENCE_PAGE_SIZE
from audienceadmin.services.audiences import PAGE_SIZES as AUDIENCE_PAGE_SIZES
from audienceadmin.services.audiences import AudienceList, audience_browse, audience_list
from audienceadmin.services.bulk import bulk_items_skip_pending, bulk_job_cancel, bulk_job_create, bulk_jobs_resume
from audienceadmin.services.deletion import (
    AttemptAlreadyMade,
    BatchAnswer,
    BulkItemRef,
    DeletionResult,
    LeaseLost,
    audience_delete,
    audience_delete_prechecked,
    job_client,
)
from audienceadmin.services.events import app_event_record, audit_log_verify, security_event_record
from audienceadmin.services.keys import RotationReport, encryption_keys_rotate
from audienceadmin.services.logins import lockout_record, login_bursts_close, login_failure_record
from audienceadmin.services.pacing import expected_seconds, project_pacer
from audienceadmin.services.people import (
    lockout_clear,
    mfa_change_recorded,
    mfa_failure_recorded,
    password_link,
    person_deactivate,
    person_invite,
    person_invite_again,
    person_reactivate,
    person_roles_set,
    sign_in_recorded,
    sign_in_refused,
    sso_person_created,
    sso_roles_sync,
)
from audienceadmin.services.previews import Preview, audience_preview, delete_version, mep_resolve, mep_versions_in_use
from audienceadmin.services.removals import removal_check, removal_checks_queue, removal_follow_up_start

__all__ = [
    "ApprovalRequired",
    "RequestClosed",
    "approval_needed",
    "deletion_request_create",
    "notifications_send",
    "request_approve",
    "request_break_glass",
    "request_bulk_finished",
    "request_execute",
    "request_reject",
    "request_withdraw",
    "requests_expire",
    "require_approval",
    "AUDIENCE_PAGE_SIZE",
    "AUDIENCE_PAGE_SIZES",
    "AUDIENCE_SORTS",
    "audience_browse",
    "Existence",
    "FullList",
    "all_audiences",
    "all_audiences_cached",
    "all_audiences_forget",
    "audiences_existence",
    "AudienceList",
    "AttemptAlreadyMade",
    "BatchAnswer",
    "BulkItemRef",
    "LeaseLost",
    "ConnectionTest",
    "DeletionResult",
    "Preview",
    "RotationReport",
    "app_archive",
    "app_create",
    "app_credentials",
    "app_event_record",
    "app_restore",
    "app_test_connection",
    "app_update",
    "attempt_close_interrupted",
    "attempts_sweep",
    "attempts_sweep_now_and_then",
    "item_follow_audit",
    "audience_delete",
    "audience_delete_prechecked",
    "audience_list",
    "audience_preview",
    "delete_version",
    "mep_resolve",
    "mep_versions_in_use",
    "audit_log_verify",
    "bulk_items_skip_pending",
    "bulk_job_cancel",
    "bulk_job_create",
    "bulk_jobs_resume",
    "encryption_keys_rotate",
    "job_client",
    "expected_seconds",
    "project_pacer",
    "removal_check",
    "removal_checks_queue",
    "removal_follow_up_start",
    "lockout_record",
    "login_bursts_close",
    "login_failure_record",
    "lockout_clear",
    "mfa_change_recorded",
    "mfa_failure_recorded",
    "password_link",
    "person_deactivate",
    "person_invite",
    "person_invite_again",
    "person_reactivate",
    "person_roles_set",
    "security_event_record",
    "sign_in_recorded",
    "sign_in_refused",
    "sso_person_created",
    "sso_roles_sync",
    "stale_attempt_age",
    "sweep_throttle_reset",
]
