"""Receivers that turn authentication signals into audit events (the services write them): Django's
and django-axes' (failed logins, lockouts: a burst from one address is counted, not written one by one,
``services.logins``), allauth's (sign-ins, SSO, MFA)."""

from __future__ import annotations

from allauth.account import signals as allauth_signals
from allauth.account.authentication import get_authentication_records
from allauth.mfa import signals as mfa_signals
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from audienceadmin import reauth, selectors, services
from audienceadmin.access import client_ip


def _ip(request: HttpRequest | None) -> str | None:
    return client_ip(request) if request is not None else None


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # `credentials` is already cleansed by Django: only the username is kept here, never a password.
    services.login_failure_record(username=str(credentials.get("username", ""))[:150], ip=_ip(request))


@receiver(user_locked_out, dispatch_uid="audit_locked_out")
def audit_locked_out(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    services.lockout_record(username=str(username or "")[:150], ip=ip_address or _ip(request))


# Signing in through allauth (password, MFA, SSO): successes, MFA failures, MFA changes, SSO roles.


def _methods(request: HttpRequest, user) -> list[str]:
    records = get_authentication_records(request, user)
    return [
        "sso" if r.get("method") == "socialaccount" else str(r.get("type") or r.get("method", "?")) for r in records
    ]


@receiver(allauth_signals.user_logged_in, dispatch_uid="audit_signed_in")
def audit_signed_in(sender, request, user, sociallogin=None, **kwargs) -> None:
    if sociallogin is not None:
        services.sso_roles_sync(user=user, claims=selectors.sso_claims(sociallogin), ip=_ip(request))
    services.sign_in_recorded(user=user, methods=_methods(request, user), ip=_ip(request))


@receiver(allauth_signals.authentication_step_completed, dispatch_uid="audit_reauthenticated")
def audit_reauthenticated(sender, request, user, method, reauthenticated=False, **kwargs) -> None:
    if reauthenticated:
        kind = kwargs.get("type") or method
        services.sign_in_recorded(user=user, methods=[f"re-authenticated: {kind}"], ip=_ip(request))


@receiver(allauth_signals.user_signed_up, dispatch_uid="audit_sso_person_created")
def audit_sso_person_created(sender, request, user, sociallogin=None, **kwargs) -> None:
    services.sso_person_created(user=user, ip=_ip(request))


@receiver(mfa_signals.authentication_failed, dispatch_uid="audit_mfa_failed")
def audit_mfa_failed(sender, request, user, authenticator, reauthentication=False, **kwargs) -> None:
    services.mfa_failure_recorded(
        user=user, kind=str(authenticator.type), reauthentication=bool(reauthentication), ip=_ip(request)
    )


def _mfa_change(change: str):
    def record(sender, request, user, authenticator, **kwargs) -> None:
        services.mfa_change_recorded(user=user, kind=str(authenticator.type), change=change, ip=_ip(request))

    return record


audit_mfa_added = _mfa_change("added")
audit_mfa_removed = _mfa_change("removed")
audit_mfa_reset = _mfa_change("regenerated")
mfa_signals.authenticator_added.connect(audit_mfa_added, dispatch_uid="audit_mfa_added")
mfa_signals.authenticator_removed.connect(audit_mfa_removed, dispatch_uid="audit_mfa_removed")
mfa_signals.authenticator_reset.connect(audit_mfa_reset, dispatch_uid="audit_mfa_reset")


# Re-authenticating through SSO logs out and in within one request: what was typed survives it.


@receiver(user_logged_out, dispatch_uid="carry_kept_input")
def carry_kept_input(sender, request=None, user=None, **kwargs) -> None:
    if request is not None:
        reauth.carry_over_logout(request, user)


@receiver(user_logged_in, dispatch_uid="restore_kept_input")
def restore_kept(sender, request=None, user=None, **kwargs) -> None:
    if request is not None and user is not None:
        reauth.restore_after_login(request, user)
