"""Reading from Batch (the browser, the preview), the API versions and a CEP removal's follow-up."""

from __future__ import annotations

from typing import TYPE_CHECKING

from audienceadmin.models import AuditEvent

if TYPE_CHECKING:
    pass

from audienceadmin.wording.outcomes import batch_answer_sentence, reason_text

Outcome = AuditEvent.Outcome


# Reading from Batch (the audience browser, the impact preview).

BULK_VERSION_UNDECIDED = (
    "Not attempted: the name is in both Custom Audience API 1.1 and 1.0, or one of them could not be asked. "
    "Delete it from the single-delete page, where you choose the version."
)
AUDIENCE_CONTENTS = {
    "install_ids": "install IDs",
    "custom_ids": "custom user IDs",
    "advertising_ids": "advertising IDs",
    "CUSTOM_ID": "custom IDs",
}
VERSION_CHOICE_HELP = (
    "Custom Audience API 1.1 holds audiences of install IDs; 1.0 those of custom user IDs and advertising IDs. "
    "The delete goes to the version you choose."
)


def audience_where(api: str, version: str, audience_type: str) -> str:
    """Which API holds an audience, and what it contains: "install IDs, Custom Audience API 1.1"."""
    if not version:
        return ""
    contents = AUDIENCE_CONTENTS.get(audience_type, audience_type)
    if api == "cep":
        where = f"Audience API {version}"
    elif version == "1.1":
        where = "Custom Audience API 1.1"
    else:
        where = f"API {version}"
    return f"{contents}, {where}" if contents else where


PREVIEW_UNDECRYPTABLE = "The app's stored keys cannot be decrypted."


def list_undecryptable(app_name: str) -> str:
    return f"The stored keys of app “{app_name}” cannot be decrypted."


def list_too_long(limit: int, *, paced: bool = False) -> str:
    why = (
        "Batch allows this CEP project about one call a second, so no page waits for more"
        if paced
        else ("AUDIENCE_LIST_MAX")
    )
    return f"The app has more than {limit:,} audiences: only the first {limit:,} were read ({why})."


def read_error(app_name: str, *, status: int | None, refused: bool, reason: str, error_name: str, message: str) -> str:
    """Why a read (list, preview) failed. ``refused``: Batch answered with an error of its own."""
    if status == 401:
        text = f"Batch rejected the keys of app “{app_name}”: a key administrator should check them."
    elif refused:
        text = "Batch refused the request."
    else:
        text = f"Batch could not answer ({reason_text(reason)}); try again in a moment."
    return text + batch_answer_sentence(status, error_name, message)


def cli_version_for_project(app_name: str) -> str:
    return f"{app_name!r} is a CEP project: --api-version is for MEP apps (its Audience API version is a setting)."


def cli_version_undecided(audience: str, warning: str) -> str:
    why = warning or f"audience {audience!r} exists in both Custom Audience API 1.1 and 1.0"
    return f"Cannot tell which API version to delete through: {why.rstrip('.')}. Pass --api-version 1.1 or 1.0."


def removal_event_message(state: str, answer: str, *, checks: int) -> str:
    """The follow-up's audit message: what Batch said at the last of ``checks`` checks."""
    asked = f" ({checks} check{'s' if checks != 1 else ''}; Batch's last answer: {answer})" if answer else ""
    if state == "applied":
        return "Batch applied the removal" + asked
    return "Batch did not confirm the removal within the follow-up window" + asked


def removal_state(state: str, applied_at_text: str = "") -> str:
    """What the history, an attempt's page and a bulk job say of a CEP removal after Batch accepted it."""
    if state == "applied":
        return f"removal applied at {applied_at_text}" if applied_at_text else "removal applied"
    if state == "unconfirmed":
        return "removal not confirmed by Batch within the follow-up window"
    return "removal not confirmed yet"


def project_rate(rate: float) -> str:
    """ "1 request a second" (BATCH_PROJECT_RATE)."""
    shown = f"{rate:g}"
    return f"{shown} request{'s' if rate != 1 else ''} a second"
