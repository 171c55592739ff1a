"""Receivers that turn authentication signals into audit events (the services write them; a burst
from one address is counted, not written one by one: ``services.logins``)."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from audienceadmin import services
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
