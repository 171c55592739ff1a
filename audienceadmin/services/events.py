"""Audit events that are not deletions: security events, app events, and verifying the chain."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from django.contrib.auth.base_user import AbstractBaseUser

from audienceadmin import audit, selectors
from audienceadmin.models import AuditEvent, AuditVerification, BatchApp

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

# Who acts: a user, or nobody (the command line, the system: then a label says who).
type Actor = User | AnonymousUser | None


def actor_fields(actor: Actor, actor_label: str) -> dict[str, Any]:
    """Who acted, as an audit event records it: the user and their name, or a label (``cli:…``)."""
    if isinstance(actor, AbstractBaseUser):
        return {"actor": actor, "actor_username": actor.get_username()}
    return {"actor": None, "actor_username": actor_label}


def app_event_record(
    kind: str,
    *,
    actor: Actor,
    app: BatchApp,
    ip: str | None,
    message: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """An audit event about an app (its keys, its access, its bulk jobs): never the keys themselves."""
    AuditEvent.objects.create(
        kind=kind, app=app, app_name=app.name, ip=ip, message=message, details=details or {}, **actor_fields(actor, "")
    )


def security_event_record(
    *,
    kind: str,
    ip: str | None,
    actor: Actor = None,
    username: str = "",
    app: BatchApp | None = None,
    audience: str = "",
    message: str = "",
) -> AuditEvent:
    """Failed logins, lockouts, permission denials: who (or which username was tried), from where."""
    return AuditEvent.objects.create(
        kind=kind,
        ip=ip,
        app=app,
        app_name=app.name if app else "",
        audience=audience,
        message=message[:500],
        **actor_fields(actor, username[:150]),
    )


def audit_log_verify(*, expect_head: str | None = None) -> audit.Verdict:
    """Stream the whole chain in id order (constant memory), record and return the verdict."""
    started = time.monotonic()
    verdict = audit.verify(audit.chain_rows(), expect_head=expect_head, lookup=selectors.audit_event_id_by_mac)
    AuditVerification.objects.create(
        ok=verdict.ok,
        events=verdict.events,
        head_mac=verdict.head_mac,
        problem=verdict.problem,
        seconds=time.monotonic() - started,
    )
    return verdict
