"""What operators read about outcomes, in one place: a copy change never touches logic.

Services, the bulk runner and the pages take their sentences from here. Functions take plain
values (names, statuses, reasons), never a request or a model, so any caller can use them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
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


# Audience names.

NAME_RULE = "Letters A–Z and a–z, digits, “_” and “-” only; 1 to 255 characters; case-sensitive."
NAME_NOT_ALLOWED_SHORT = "has characters Batch does not allow"


def name_too_long(length: int, most: int) -> str:
    return f"This name is {length} characters long; Batch allows at most {most}."


def name_too_long_short(most: int) -> str:
    return f"longer than {most} characters"


def name_not_allowed(name: str, bad_characters: list[str]) -> str:
    shown = ", ".join("a space" if c == " " else f"“{c}”" for c in bad_characters[:5])
    return (
        f"“{name[:60]}” is not a valid audience name: Batch does not allow {shown}. "
        "Use only letters, digits, “_” and “-”."
    )


# Failed logins (audienceadmin/services/logins.py).

LOCKED_OUT = "login refused: too many failed attempts"


def login_failures_counted(failures: int, ip: str, first: datetime, last: datetime, refused: int) -> str:
    span = f"{first.astimezone(UTC):%Y-%m-%d %H:%M:%S} and {last.astimezone(UTC):%H:%M:%S} UTC"
    refusals = f" ({refused} of them refused while locked out)" if refused else ""
    return (
        f"{failures} failed login{'s' if failures != 1 else ''} from {ip} between {span}, counted rather than "
        f"recorded one by one{refusals}."
    )


# App names (audienceadmin/app_names.py).

APP_NAME_EMPTY = "Type a name for the app."
APP_NAME_TAKEN = "An app with this name already exists."


def app_name_invisible(character: str) -> str:
    return (
        f"The name holds an invisible or control character ({character}): "
        "it would look like another name. Type the name again without it."
    )


def app_name_odd_space(character: str) -> str:
    return f"The name holds a space other than a plain space ({character}). Use plain spaces only."


def app_name_confusable(existing: str) -> str:
    return (
        f"This name looks like that of the app “{existing}” (same letters up to case, spacing or "
        "look-alike letters from another alphabet). Choose a name operators cannot mistake for it."
    )


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


def list_too_long(limit: int) -> str:
    return f"The app has more than {limit:,} audiences (AUDIENCE_LIST_MAX): only the first {limit:,} were read."


def read_error(app_name: str, *, status: int | None, refused: bool, reason: str, error_name: str, message: str) -> str:
    """Why a read (list, preview) failed. ``refused``: Batch answered with an error of its own."""
    if status == 401:
        text = f"Batch rejected the keys of app “{app_name}”: a key administrator should check them."
    elif refused:
        text = "Batch refused the request."
    else:
        text = f"Batch could not answer ({reason_text(reason)}); try again in a moment."
    return text + batch_answer_sentence(status, error_name, message)


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


# Signing in and the People page (what people read, and what the audit trail says).

SSO_DOMAIN_REFUSED_AUDIT = "SSO sign-in refused: e-mail domain not allowed"
LOCAL_LOGIN_OFF_AUDIT = "password sign-in refused: local login is off (only superusers may use it)"
MFA_ENROL_FIRST = "Your role requires two-factor authentication: add an authenticator app or a security key first."
REAUTH_NEEDED = "Confirm it's you before this step: your last sign-in was more than {minutes} minutes ago."
REAUTH_KEPT = "Confirm it's you, then check the page again: what you typed is kept."
REAUTH_KEYS_NOT_KEPT = (
    "Confirm it's you before changing keys or access. Keys are never kept between pages: type them again afterwards."
)
NO_ROLE = "no role"


def sso_again(company: str) -> str:
    return f"Sign in with {company} again"


def sso_domain_refused() -> str:
    return "This account's e-mail address is not in a domain allowed to use Audience Admin."


def sso_error_audit(error: str, exception: str) -> str:
    return "SSO sign-in failed: " + error + (f" ({exception})" if exception else "")


def local_login_off(company: str) -> str:
    return f"Password sign-in is turned off. Use “Sign in with {company}”."


def sign_in_method(methods: list[str]) -> str:
    """How someone signed in, from allauth's records: "password + totp", "sso (company)"."""
    return " + ".join(methods) or "unknown"


def mfa_failed_audit(kind: str, reauthentication: bool) -> str:
    return f"wrong {kind} code or key" + (" while re-authenticating" if reauthentication else "")


def mfa_changed_audit(kind: str, change: str) -> str:
    return f"{kind} {change}"


def roles_description(role_names: Iterable[str]) -> str:
    names = sorted(role_names)
    return ", ".join(names) if names else NO_ROLE


def roles_changed_audit(before: Iterable[str], after: Iterable[str], by_idp: bool = False) -> str:
    text = f"{roles_description(before)} → {roles_description(after)}"
    return text + (" (from the IdP's groups)" if by_idp else "")


def invited(email: str) -> str:
    return f"An invitation was sent to {email}. The link works for a limited time."


def invitation_subject() -> str:
    return "You are invited to Audience Admin"


def invitation_body(*, username: str, inviter: str, link: str, hours: int) -> str:
    return (
        f"{inviter} invited you to Audience Admin, the dashboard that deletes Batch audiences.\n\n"
        f"Your username: {username}\n"
        f"Choose your password here (the link works for {hours} hours, once):\n{link}\n\n"
        "If you did not expect this, ignore this message.\n"
    )


def person_saved(username: str) -> str:
    return f"The roles of {username} were saved."


def person_deactivated(username: str) -> str:
    return f"{username} was deactivated: they can no longer sign in. Their history stays."


def person_reactivated(username: str) -> str:
    return f"{username} was reactivated."


def lockout_cleared(username: str, count: int) -> str:
    return f"The lockout of {username} was lifted ({count} record{'s' if count != 1 else ''} cleared)."


def span_in_words(span: timedelta | None) -> str:
    """A lockout's length for people: "15 minutes", "1 hour", "1 hour 30 minutes"."""
    if span is None:
        return "a while"
    minutes = max(1, round(span.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def last_try_before_lockout(span: timedelta | None) -> str:
    return (
        f"One more wrong password and sign-in is locked for {span_in_words(span)} from this address. "
        "Not sure of it? Ask an administrator to send you a set-password link."
    )


# Reading a bulk list.


def csv_column_taken(number: int, title: str) -> str:
    """Which column of a several-column CSV the names were taken from."""
    return f"column {number}" + (f" (“{title}”)" if title else "")


def header_skipped(header: str) -> str:
    return f"The first line, “{header}”, is a column title: it was skipped, not taken as an audience."


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
