"""Failed logins, signing in and the People page (what people read, and what the audit trail says)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from audienceadmin.models import AuditEvent

if TYPE_CHECKING:
    pass

Outcome = AuditEvent.Outcome


# Failed logins (audienceadmin/services/logins.py).

LOCKED_OUT = "login refused: too many failed attempts"


def login_failures_counted(failures: int, ip: str, first: datetime, last: datetime, refused: int) -> str:
    span = f"{first.astimezone(UTC):%Y-%m-%d %H:%M:%S} and {last.astimezone(UTC):%H:%M:%S} UTC"
    refusals = f" ({refused} of them refused while locked out)" if refused else ""
    return (
        f"{failures} failed login{'s' if failures != 1 else ''} from {ip} between {span}, counted rather than "
        f"recorded one by one{refusals}."
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
