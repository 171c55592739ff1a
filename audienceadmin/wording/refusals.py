"""Refusals before anything is sent, and the confirmation page's ticket."""

from __future__ import annotations

from typing import TYPE_CHECKING

from audienceadmin.models import AuditEvent

if TYPE_CHECKING:
    pass

Outcome = AuditEvent.Outcome


# Refusals before anything is sent.

INVALID_NAME = "Invalid audience name."
MAY_NOT_DELETE = "You may not delete audiences in this app."
MAY_NOT_DELETE_AUDITED = "delete refused: the user may not delete audiences in this app"
BULK_LIST_INVALID = "The list must hold between 1 and BULK_MAX_ITEMS valid names."


def app_archived(app_name: str) -> str:
    return f"App “{app_name}” is archived."


def cli_needs_operator_role(username: str) -> str:
    return f"User {username!r} may not delete audiences (needs the Operators role)."


def cli_app_restricted(username: str, app_name: str) -> str:
    return (
        f"User {username!r} may not delete audiences in app {app_name!r}: the app is restricted to other "
        "operators. A key administrator can add them to its list."
    )


def cli_origin(details: dict[str, object]) -> str:
    """Where a command-line deletion came from, from its *requested* event's details: "" if unknown."""
    if not details.get("cli_os_user"):
        return ""
    on_behalf = f", on behalf of {details['on_behalf_of']}" if details.get("on_behalf_of") else ""
    return f"command line, run by OS user {details['cli_os_user']}{on_behalf}"


# The confirmation page's ticket.

CONFIRMATION_INVALID = (
    "That deletion request was not valid (its confirmation is missing, altered, or for another audience or "
    "user); nothing was deleted."
)
CONFIRMATION_EXPIRED = (
    "This confirmation page was open for too long: look at Batch's preview again, then type the name to confirm. "
    "Nothing was deleted."
)


def attempt_already_made(outcome_label: str) -> str:
    """A second submission of the same confirmation (a double click, another tab, a replayed form)."""
    if not outcome_label:
        return (
            "This deletion was already submitted and is still in progress: nothing more was sent to Batch. "
            "Its outcome will show here when Batch answers."
        )
    return (
        f"This deletion was already submitted (outcome: {outcome_label}): nothing more was sent to Batch. "
        "To try again, start a new deletion."
    )
