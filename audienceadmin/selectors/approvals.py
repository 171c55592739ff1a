"""Reads about deletion requests (the two-person rule): who may approve, what waits for whom."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from audienceadmin import dbclock, roles
from audienceadmin.models import AuditEvent, BatchApp, DeletionRequest
from audienceadmin.selectors.apps import apps_open_to, may_delete_in

if TYPE_CHECKING:
    from django.contrib.auth.models import User

State = DeletionRequest.State


def may_approve_in(app: BatchApp, user: User) -> bool:
    """An approver of the app: active, holds the approval permission, and is one of its operators.
    (Not the requester: the services check that against the request.)"""
    return user.is_active and user.has_perm(roles.APPROVE_DELETION) and may_delete_in(app, user)


def approvers_of(request: DeletionRequest) -> list[User]:
    """Who may decide ``request``: the app's approvers, the requester left out."""
    perm = Q(groups__permissions__codename=roles.APPROVE_DELETION_CODENAME) | Q(
        user_permissions__codename=roles.APPROVE_DELETION_CODENAME
    )
    users = get_user_model().objects.filter(is_active=True).filter(perm | Q(is_superuser=True)).distinct()
    return [u for u in users.exclude(pk=request.requested_by_id) if may_approve_in(request.app, u)]


def requests_for(*, user: User) -> QuerySet[DeletionRequest]:
    """The requests of the apps open to ``user`` (an app restricted to others stays out of sight)."""
    return DeletionRequest.objects.filter(app__in=apps_open_to(user)).select_related(
        "app", "requested_by", "decided_by", "bulk_job"
    )


def requests_awaiting(*, user: User) -> QuerySet[DeletionRequest]:
    """Pending, unexpired requests ``user`` may decide (none for someone who may not approve)."""
    if not user.has_perm(roles.APPROVE_DELETION):
        return DeletionRequest.objects.none()
    return (
        requests_for(user=user)
        .filter(state=State.PENDING, expires_at__gt=dbclock.DbNow(), app__archived_at__isnull=True)
        .exclude(requested_by=user)
        .order_by("expires_at")
    )


def requests_awaiting_count(*, user: User) -> int:
    return requests_awaiting(user=user).count()


def request_events(request: DeletionRequest) -> list[AuditEvent]:
    """The request's audit events, oldest first, with the deletion's own (its attempt)."""
    return list(AuditEvent.objects.filter(Q(details__request=request.pk) | Q(attempt=request.attempt)).order_by("id"))
