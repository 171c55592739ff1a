"""People and signing in: invitations, roles, deactivation, lockouts, and the audit of every way in.

Every change writes its audit event here, where it happens. Nothing here checks who may do it: the
views check ``roles.MANAGE_PEOPLE`` (or superuser) first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from audienceadmin import roles, selectors, wording
from audienceadmin.models import AuditEvent
from audienceadmin.services.events import Actor, actor_fields

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Kind = AuditEvent.Kind
SSO_ACTOR = "sso"  # who changes roles from the IdP's groups


def _record(
    kind: str,
    *,
    actor: Actor,
    ip: str | None,
    subject: User | None = None,
    message: str = "",
    label: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """One event about signing in or a person: who acted (or ``label``: ``sso``, a tried username),
    and the person concerned by id and name in ``details``."""
    extra = dict(details or {})
    if subject is not None:
        extra.update({"person_id": subject.pk, "person": subject.get_username()})
        message = f"{subject.get_username()}: {message}" if message else subject.get_username()
    return AuditEvent.objects.create(
        kind=kind, ip=ip, message=message[:500], details=extra, **actor_fields(actor, label)
    )


# Signing in.


def sign_in_recorded(*, user: User, methods: list[str], ip: str | None) -> AuditEvent:
    return _record(Kind.LOGIN_SUCCEEDED, actor=user, ip=ip, message=wording.sign_in_method(methods))


def sign_in_refused(*, username: str, ip: str | None, message: str) -> AuditEvent:
    """A refused SSO round trip or a password login refused by policy (wrong passwords are
    ``login_failed``, written for django-axes' signal)."""
    return _record(Kind.SSO_REFUSED, actor=None, label=username[:150], ip=ip, message=message)


def mfa_failure_recorded(*, user: User, kind: str, reauthentication: bool, ip: str | None) -> AuditEvent:
    return _record(Kind.MFA_FAILED, actor=user, ip=ip, message=wording.mfa_failed_audit(kind, reauthentication))


def mfa_change_recorded(*, user: User, kind: str, change: str, ip: str | None) -> AuditEvent:
    return _record(Kind.MFA_CHANGED, actor=user, ip=ip, subject=user, message=wording.mfa_changed_audit(kind, change))


def sso_person_created(*, user: User, ip: str | None) -> AuditEvent:
    return _record(Kind.USER_CREATED, actor=None, label=SSO_ACTOR, ip=ip, subject=user, message=wording.NO_ROLE)


@transaction.atomic
def sso_roles_sync(*, user: User, claims: dict[str, Any], ip: str | None) -> bool:
    """At each SSO sign-in, when OIDC_GROUPS_CLAIM is set: the user's roles become exactly those the
    claim's groups map to (no claim: no role). Superuser status never comes from the IdP. Returns
    whether anything changed."""
    if not settings.OIDC_GROUPS_CLAIM:
        return False
    wanted = selectors.roles_for_groups(claims.get(settings.OIDC_GROUPS_CLAIM, []))
    return _roles_set(user, wanted, actor=None, label=SSO_ACTOR, ip=ip, by_idp=True)


# The People page.


def _roles_set(user: User, wanted: set[str], *, actor: Actor, label: str, ip: str | None, by_idp: bool = False) -> bool:
    before = set(selectors.role_names(user))
    if before == wanted:
        return False
    user.groups.remove(*selectors.role_groups(before - wanted))
    user.groups.add(*selectors.role_groups(wanted - before))
    _record(
        Kind.ROLES_CHANGED,
        actor=actor,
        label=label,
        ip=ip,
        subject=user,
        message=wording.roles_changed_audit(before, wanted, by_idp),
        details={"before": sorted(before), "after": sorted(wanted)},
    )
    return True


@transaction.atomic
def person_roles_set(*, actor: User, person: User, role_names: list[str], ip: str | None) -> bool:
    unknown = set(role_names) - set(roles.ROLES)
    if unknown:
        raise ValidationError(f"Unknown roles: {', '.join(sorted(unknown))}")
    return _roles_set(person, set(role_names), actor=actor, label="", ip=ip)


def password_link(person: User, *, base_url: str) -> str:
    """allauth's set-a-new-password link (single use: the token is bound to the current password)."""
    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(person), "key": default_token_generator.make_token(person)},
    )
    return base_url.rstrip("/") + path


@transaction.atomic
def person_invite(
    *, actor: User, username: str, email: str, role_names: list[str], base_url: str, ip: str | None
) -> User:
    """A new local account with no usable password, its roles, and an e-mail with the link that sets
    the password (sent once the transaction commits)."""
    if selectors.username_taken(username):
        raise ValidationError("That username is taken.")
    person = get_user_model().objects.create_user(username=username, email=email, password=None)
    _record(
        Kind.USER_INVITED,
        actor=actor,
        ip=ip,
        subject=person,
        message=f"{email}; {wording.roles_description(role_names)}",
        details={"email": email},
    )
    person_roles_set(actor=actor, person=person, role_names=role_names, ip=ip)
    _send_invitation(person, inviter=actor.get_username(), base_url=base_url)
    return person


def _send_invitation(person: User, *, inviter: str, base_url: str) -> None:
    link = password_link(person, base_url=base_url)
    body = wording.invitation_body(
        username=person.get_username(), inviter=inviter, link=link, hours=settings.PASSWORD_RESET_TIMEOUT // 3600
    )
    email = person.email
    transaction.on_commit(lambda: send_mail(wording.invitation_subject(), body, None, [email]))


@transaction.atomic
def person_invite_again(*, actor: User, person: User, base_url: str, ip: str | None) -> None:
    """A new set-password link (a lost password, an expired invitation): the public reset page is closed."""
    _record(Kind.USER_INVITED, actor=actor, ip=ip, subject=person, message=f"{person.email}; link sent again")
    _send_invitation(person, inviter=actor.get_username(), base_url=base_url)


@transaction.atomic
def person_deactivate(*, actor: User, person: User, ip: str | None) -> None:
    """Never deleted (the audit points to them): inactive users cannot sign in, and their open
    sessions end at their next request (Django refuses inactive users)."""
    if person.pk == actor.pk:
        raise ValidationError("You cannot deactivate yourself.")
    if person.is_active:
        person.is_active = False
        person.save(update_fields=["is_active"])
        _record(Kind.USER_DEACTIVATED, actor=actor, ip=ip, subject=person)


@transaction.atomic
def person_reactivate(*, actor: User, person: User, ip: str | None) -> None:
    if not person.is_active:
        person.is_active = True
        person.save(update_fields=["is_active"])
        _record(Kind.USER_REACTIVATED, actor=actor, ip=ip, subject=person)


@transaction.atomic
def lockout_clear(*, actor: User, person: User, ip: str | None) -> int:
    """Lift django-axes' lockout of this username, from every address; returns the records cleared."""
    count = axes_reset(username=person.get_username())
    _record(Kind.LOCKOUT_CLEARED, actor=actor, ip=ip, subject=person, message=f"{count} lockout record(s) cleared")
    return count
