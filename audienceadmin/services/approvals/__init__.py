"""The two-person rule (issue 16): deletion requests in the apps whose policy asks for a second
person. Every transition is here, in a transaction, on the request's row locked with
``select_for_update`` (SQLite: its write lock), with its audit event and its notifications:

- ``requests``: asking (one audience or a bulk list), withdrawing;
- ``decide``: approving, rejecting, breaking the glass (a superuser, with a reason);
- ``execute``: the deletion an approval starts at once, for the requester and the approver;
- ``expire``: the janitor's close of the requests nobody decided in time;
- ``notify``: the outbox of e-mails and webhook posts, drained with retries by the worker.

The gate in front of Batch is ``services.approval_gate``."""

from audienceadmin.services.approval_gate import ApprovalRequired, approval_needed
from audienceadmin.services.approvals.decide import (
    RequestClosed,
    request_approve,
    request_break_glass,
    request_reject,
)
from audienceadmin.services.approvals.execute import request_bulk_finished, request_execute
from audienceadmin.services.approvals.expire import requests_expire
from audienceadmin.services.approvals.notify import notifications_send
from audienceadmin.services.approvals.requests import deletion_request_create, request_withdraw

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
]
