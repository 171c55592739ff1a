"""What Batch answered, a deletion's outcome, interrupted attempts and bulk items, an outcome as
the pages show it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from audienceadmin import batch
from audienceadmin.models import AuditEvent

if TYPE_CHECKING:
    from audienceadmin.services.deletion import DeletionResult

Outcome = AuditEvent.Outcome


# What Batch answered.

# What the audit's message column says when Batch sent no message of its own (keyed by the
# client's reason for an outcome).
REASONS = {
    "deleted": "",
    "removal_accepted": "Batch accepted the removal",
    "undecryptable_keys": "the app's stored keys cannot be decrypted or belong to another app; nothing was sent",
    "timeout": "no answer before the read timeout",
    "connection_lost": "connection lost after the request was sent",
    "gateway_timeout": "a proxy timed out waiting for Batch",
    "connect": "could not connect to Batch",
    "tls": "TLS handshake with Batch failed",
    "invalid_request": "the request could not be made (check BATCH_API_URL)",
    "redirect": "Batch answered with a redirect instead of an answer (not followed)",
    "http": "Batch answered with an error",
    "rejected": "Batch rejected the request",
    "deadline": "no complete answer within BATCH_API_DEADLINE",
    "body_truncated": "Batch's answer body was cut short (its status stands)",
    "body_timeout": "Batch's answer body was too slow to read (its status stands)",
    "body_deadline": "Batch's answer body did not arrive within the deadline (its status stands)",
    "cancelled": "not sent: the bulk job was cancelled",
    "shutting_down": "not sent: the server was shutting down",
    "pause_too_long": "not sent: Batch asked to wait longer than the deadline allows",
    "lease_lost": "not sent: the bulk job's run could no longer be sure it held the job (another worker carries on)",
}


def reason_text(reason: str) -> str:
    """A reason in words (an unknown reason is shown as it is)."""
    return REASONS.get(reason, reason)


def answer_label(status: int | None, error_name: str) -> str:
    """How the pages name an answer from Batch: "HTTP 503 MAINTENANCE_ERROR", "HTTP 200", or ""."""
    return batch.answer_label(status, error_name)


def batch_answer_sentence(status: int | None, error_name: str, message: str = "") -> str:
    """ " Batch said: HTTP 503 MAINTENANCE_ERROR — its message.", or "": appended to a message."""
    label = answer_label(status, error_name)
    if not label:
        return ""
    return f" Batch said: {label}" + (f" — {message.rstrip('.')}" if message else "") + "."


# A deletion's outcome.

NOT_RECORDED_WARNING = (
    " Warning: the database failed as this outcome was being recorded; it will be written as soon as "
    "the database is back (until then the history shows the attempt without an answer)."
)


def describe_deletion(result: DeletionResult) -> str:
    """One paragraph for the operator: what happened, and what to do next."""
    app, audience = f"“{result.app_name}”", f"“{result.audience}”"
    said = (
        batch_answer_sentence(result.http_status, result.error_name, result.batch_message) if result.http_status else ""
    )
    tries = f" ({result.tries} tries)" if result.tries > 1 else ""

    text = _describe_outcome(result, app, audience, said, tries)
    if not result.recorded:
        text += NOT_RECORDED_WARNING
    return text


def _describe_outcome(result: DeletionResult, app: str, audience: str, said: str, tries: str) -> str:
    if result.outcome == Outcome.DELETED and result.is_project:
        return (
            f"Batch accepted the removal of audience {audience} from project {app} ({result.api_label}). "
            "Batch applies it within moments; the attempt's page says when it was applied."
        )
    if result.outcome == Outcome.DELETED:
        where = f" ({result.api_label})" if result.api_label.endswith("1.0") else ""
        return f"Audience {audience} was deleted from app {app}{where}."
    if result.outcome == Outcome.NOT_SENT:
        why = REASONS.get(result.reason, result.reason).removeprefix("not sent: ")
        return (
            f"Nothing was sent to Batch ({why}), so audience {audience} was not deleted from app {app}. "
            "Try again when you are ready."
        )
    if result.outcome == Outcome.REJECTED:
        return _describe_rejection(result, app, audience) + said
    if result.outcome == Outcome.FAILED:
        return _describe_failure(result, app, audience, said, tries)
    return (
        f"The outcome is unknown: the request to delete {audience} from app {app} was sent, but "
        f"{REASONS.get(result.reason, 'no answer came back')}. Batch may or may not have deleted "
        "it. Check whether the audience still exists in Batch before trying again." + said
    )


def _describe_rejection(result: DeletionResult, app: str, audience: str) -> str:
    status = result.http_status
    if status == 401 or result.error_name == "AUTHENTICATION_INVALID":
        return (
            f"Batch rejected the keys of app {app}: the REST API key or the API key is wrong "
            "or was revoked. Nothing was deleted. A key administrator should check the app's keys."
        )
    if status == 403 or result.error_name == "API_MISUSE":
        return (
            f"Batch refused this request for app {app} (not allowed with these keys). "
            "Nothing was deleted. A key administrator should check that the REST API key "
            "may manage custom audiences for this app."
        )
    if status == 404 or result.error_name == "ROUTE_NOT_FOUND":
        return (
            f"Batch has no audience {audience} in app {app}. Nothing was deleted. It may have "
            "been deleted already, or the name differs (names are case-sensitive)."
        )
    if status == 429:
        return "Batch is rate-limiting requests. Nothing was deleted. Wait a minute, then try again."
    return (
        f"Batch rejected the request to delete {audience} from app {app} as invalid. "
        "Nothing was deleted. Check the audience name; if it is right, report this error."
    )


def _describe_failure(result: DeletionResult, app: str, audience: str, said: str, tries: str) -> str:
    if result.reason == "undecryptable_keys":
        return (
            f"The stored keys of app {app} cannot be decrypted with the configured "
            "FIELD_ENCRYPTION_KEYS, or were copied there from another app (manage.py check says which). "
            "Nothing was sent to Batch and nothing was deleted. "
            "An administrator must restore the encryption key, or re-enter the app's keys."
        )
    if result.reason == "redirect":
        return (
            f"Batch answered with a redirect (HTTP {result.http_status}) instead of carrying out the request, "
            f"so audience {audience} was not deleted from app {app}. The redirect was not followed. An "
            "administrator should check BATCH_API_URL (for example http:// instead of https://, or a proxy "
            "in between)."
        )
    if result.reason in ("connect", "tls", "invalid_request", "deadline"):
        return (
            f"Could not reach Batch{tries}: {REASONS[result.reason]}. Nothing was sent, so "
            f"audience {audience} was not deleted. Try again later; if it persists, check the "
            "network and BATCH_API_URL."
        )
    if result.http_status == 503:
        what = f"Batch is in maintenance or temporarily unavailable{tries}: audience {audience} was not deleted"
    elif result.http_status == 429:
        what = f"Batch kept rate-limiting the request{tries}: audience {audience} was not deleted"
    else:
        what = (
            f"Batch kept answering with a server error{tries} and did not confirm the deletion of "
            f"{audience}: it was most likely not deleted"
        )
    return f"{what} from app {app}. Try again in a few minutes." + said


# Interrupted attempts and bulk jobs.

INTERRUPTED = "interrupted: no answer recorded"
NOT_SENT_DATABASE = "not sent: the database failed while the request was being recorded, so nothing reached Batch"
NO_ANSWER_YET = "No answer recorded yet"  # an attempt without its *completed* event, in the history
CHECK_UNKNOWN = "Batch may or may not have deleted it: check it in Batch before trying again."
NOT_RECORDED = "Not attempted: the database could not record the request, so it was not sent to Batch."
NOT_STARTED = "Not attempted: the job's worker stopped before starting it (see the worker's log); nothing was sent."
CANCELLING = " (cancelling: waiting for the deletions in flight)"


def bulk_item_message(outcome: str, message: str) -> str:
    """What a bulk job's page says of an item: Batch's message, and for an unknown outcome what to do."""
    if outcome == Outcome.UNKNOWN:
        return f"{message[:1].upper()}{message[1:]}. {CHECK_UNKNOWN}" if message else CHECK_UNKNOWN
    return message


def bulk_item_not_attempted(why: Iterable[str]) -> str:
    return "Not attempted: " + " ".join(why)


def bulk_job_app_archived(app_name: str) -> str:
    return f"app “{app_name}” was archived"


def bulk_job_access_withdrawn(username: str, app_name: str) -> str:
    return f"{username} may no longer delete audiences in app “{app_name}”"


# An outcome as the pages show it. A 404 on delete stays "rejected" in the audit (it is not "deleted"),
# but reads as what it most likely means, in a neutral colour.

NOT_FOUND = "not_found"  # the badge's kind (and the results CSV's word), never an audit outcome
NOT_FOUND_LABEL = "Not found (already deleted?)"


def outcome_shown(outcome: str, http_status: int | None, label: str) -> tuple[str, str]:
    """The badge kind and label of an attempt's outcome: ``("not_found", "Not found (already
    deleted?)")`` for a 404 rejection, else the outcome and its label as given."""
    if outcome == Outcome.REJECTED and http_status == 404:
        return NOT_FOUND, NOT_FOUND_LABEL
    return outcome, label


def outcome_counts(counts: dict[str, int]) -> str:
    """A job's items per outcome, those with none left out: "18 deleted · 2 not found · 1 failed"."""
    words = [
        ("deleted", "deleted"),
        ("not_found", "not found"),
        ("rejected", "rejected"),
        ("failed", "failed"),
        ("unknown", "unknown"),
        ("not_sent", "not sent"),
        ("skipped", "not attempted"),
    ]
    return " · ".join(f"{counts[key]:,} {word}" for key, word in words if counts.get(key))
