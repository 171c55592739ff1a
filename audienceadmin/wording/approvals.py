"""The two-person rule: deletion requests, their decisions and notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING

from audienceadmin.models import AuditEvent

if TYPE_CHECKING:
    pass

Outcome = AuditEvent.Outcome


# The two-person rule (issue 16): deletion requests, their decisions and notifications.

APPROVAL_REQUIRED = (
    "This app requires a second person to approve every deletion: nothing was sent to Batch. "
    "Ask for the deletion (with a reason) and wait for an approval."
)
REQUEST_EXPIRED = "This request has expired: nothing was sent to Batch. Ask again if the deletion is still needed."
REAUTH_DECISION = "Confirm it's you, then decide again: nothing was approved or executed."
REASON_REQUIRED = "Say why this deletion is needed: the approver reads it."
COMMENT_REQUIRED = "Say why you reject the request: the requester reads it."
NO_SELF_APPROVAL = "You asked for this deletion: another person must approve it."
MAY_NOT_APPROVE = "You may not approve deletions in this app."
REQUESTER_LOST_ACCESS = "The requester may no longer delete audiences in this app: the request cannot be approved."
BREAK_GLASS_SUPERUSERS_ONLY = "Only a superuser may break the glass."
BREAK_GLASS_REASON_REQUIRED = "Say why this deletion cannot wait for a second person: it is recorded as a break glass."
NOT_THE_REQUESTER = "Only the person who asked for the deletion may withdraw it."
NO_APPROVAL_NEEDED = "This app does not require approval: delete as usual."
CLI_NEEDS_REQUESTER = (
    "This app requires a second person to approve every deletion: pass --actor (the requester) and --reason "
    "to ask for it; the command cannot delete here on its own."
)


def bulk_request_outcome(*, deleted: int, failed: int, skipped: int, total: int) -> str:
    text = f"bulk job finished: {deleted} of {total} deleted"
    return text + (f", {failed} not deleted" if failed else "") + (f", {skipped} not attempted" if skipped else "")


def request_closed(state_label: str) -> str:
    return f"This request is no longer waiting for a decision ({state_label.lower()}): nothing was changed."


def request_waiting(pk: int, hours: float) -> str:
    return (
        f"Deletion request {pk} is waiting for approval by another operator; nothing was sent to Batch yet. "
        f"It expires in {hours:g} hours."
    )


def policy_changed(label: str) -> str:
    return f"Approval policy: {label}"


def request_event(pk: int, title: str, text: str = "") -> str:
    return f"Request {pk} ({title})" + (f": {text}" if text else "")


def notification_subject(event: str, pk: int, app: str, title: str) -> str:
    return f"[Audience Admin] Deletion request {pk} {event}: {title} in {app}"


def notification_body(*, event: str, pk: int, app: str, audiences: list[str], requested_by: str, reason: str,
                      state: str, outcome: str, decided_by: str, comment: str, link: str) -> str:  # fmt: skip
    names = ", ".join(audiences[:20]) + (f" and {len(audiences) - 20} more" if len(audiences) > 20 else "")
    lines = [
        f"Deletion request {pk} {event}.",
        "",
        f"App: {app}",
        f"Audience(s): {names}",
        f"Requested by: {requested_by}",
        f"Reason: {reason}",
        f"State: {state}",
    ]
    if decided_by:
        lines.append(f"Decided by: {decided_by}" + (f" ({comment})" if comment else ""))
    if outcome:
        lines.append(f"Outcome: {outcome}")
    lines += ["", f"Open it: {link}"]
    return "\n".join(lines)
