"""The connection test; what the audit trail says of key administration and bulk jobs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from audienceadmin.models import AuditEvent

if TYPE_CHECKING:
    pass

from audienceadmin.wording.outcomes import batch_answer_sentence, reason_text

Outcome = AuditEvent.Outcome


# The connection test.

CONNECTION_OK, CONNECTION_FAILED = "ok", "failed"  # the audit event's message, before Batch's own


def connection_undecryptable(app_name: str) -> str:
    return (
        f"The stored keys of app “{app_name}” cannot be decrypted with FIELD_ENCRYPTION_KEYS, or were copied "
        "there from another app (manage.py check says which)."
    )


def connection_refused(app_name: str, status: int | None, error_name: str) -> str:
    """Batch answered the test with an error status."""
    if status == 401:
        text = f"Batch rejected the keys of app “{app_name}”: replace the REST API key or the API key."
    else:
        text = f"Batch refused the test request for app “{app_name}”."
    return text + batch_answer_sentence(status, error_name)


def connection_unavailable(app_name: str, reason: str, status: int | None) -> str:
    """Batch could not be reached, or did not answer."""
    why = reason_text(reason) + (f" (HTTP {status})" if status else "")
    return f"Could not check app “{app_name}”: {why}. Try again later."


def connection_works(app_name: str, status: int) -> str:
    return f"The keys of app “{app_name}” work: Batch answered HTTP {status}."


def saved_and_tested(saved: str, test: str, ok: bool) -> str:
    """After new keys are saved, the connection test that follows: the app is saved either way."""
    if ok:
        return f"{saved} Connection test: {test}"
    return f"{saved} But the connection test failed: {test} The app is marked until a test passes."


def app_active(app_name: str) -> str:
    return f"App “{app_name}” is active: there is nothing to restore."


def app_restored(app_name: str) -> str:
    return f"App “{app_name}” was restored: operators may delete audiences in it again. Test its connection first."


# What the audit trail says of key administration and bulk jobs.


def access_description(usernames: Iterable[str]) -> str:
    names = sorted(usernames)
    return "restricted to " + ", ".join(names) if names else "open to every operator"


def renamed_from(old_name: str) -> str:
    return f"was “{old_name}”"


API_KEY_LABEL, REST_API_KEY_LABEL = "Batch API key", "REST API key"
PROJECT_KEY_LABEL = "Project key"
KIND_IS_FIXED = "An app's kind cannot change: add the CEP project (or MEP app) as a new app."
API_KEY_FIELD_LABEL = "Batch API key (MEP app) or project key (CEP project)"
APP_KIND_HELP = (
    "MEP app: an app of Batch's Mobile Engagement Platform (Custom Audience API 1.0 and 1.1). "
    "CEP project: a project of Batch's Customer Engagement Platform (Audience API 2.x). "
    "Chosen once: it says what the two keys are."
)
API_KEY_FIELD_HELP = (
    "MEP app: the app's Live, Dev or SDK API key (Batch dashboard → Settings → General). "
    "CEP project: the project key, which starts with “project_” (the project's Settings → General)."
)
REST_KEY_FIELD_HELP = (
    "The company REST API key (Batch dashboard → Settings → General, or Account settings → API keys): "
    "sent as X-Authorization to an MEP app, as a Bearer token to a CEP project."
)


def api_key_label(kind: str) -> str:
    """What the first of an app's two keys is called, for its kind."""
    return PROJECT_KEY_LABEL if kind == "cep" else API_KEY_LABEL


def keys_replaced(labels: list[str]) -> str:
    return " and ".join(labels)


def keys_reencrypted(reencrypted: int, already_current: int, unreadable: int) -> str:
    return f"{reencrypted} re-encrypted, {already_current} already current, {unreadable} unreadable"


def bulk_job_event(job_id: int, message: str = "") -> str:
    return f"Bulk job {job_id}" + (f": {message}" if message else "")


RETRY_NOT_ENDED = "Only an ended job of the same app can be retried."
NOTHING_TO_RETRY = "Nothing to retry: every item of this job was deleted, or Batch does not have it."


def bulk_job_retry(size: str, job_id: int) -> str:
    return f"{size}, a retry of bulk job {job_id}"


def bulk_job_size(count: int) -> str:
    return f"{count} audiences"
