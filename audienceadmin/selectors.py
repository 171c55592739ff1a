"""Read queries. Views and commands read through these, never through ad-hoc ORM calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from audienceadmin.models import AuditEvent, AuditVerification, BatchApp

Kind = AuditEvent.Kind


def apps_for_delete(*, user) -> QuerySet[BatchApp]:
    """Active apps the user may delete audiences in: those open to every operator, and those
    restricted to a list of operators that names the user (superusers: all)."""
    apps = BatchApp.objects.filter(archived_at__isnull=True)
    if user.is_superuser:
        return apps
    restricted = BatchApp.allowed_operators.through.objects.filter(batchapp=OuterRef("pk"))
    return apps.filter(~Exists(restricted) | Exists(restricted.filter(user=user)))


def app_usable_by(app: BatchApp, user) -> bool:
    return apps_for_delete(user=user).filter(pk=app.pk).exists()


def apps_all() -> QuerySet[BatchApp]:
    """Every app, with who last changed its keys (from the audit) and whom it is restricted to."""
    last_key_event = AuditEvent.objects.filter(
        app=OuterRef("pk"), kind__in=[Kind.APP_CREATED, Kind.APP_KEYS_CHANGED]
    ).order_by("-id")
    return (
        BatchApp.objects.order_by("archived_at", "name")
        .annotate(
            keys_changed_by=Subquery(last_key_event.values("actor_username")[:1]),
            keys_changed_at=Subquery(last_key_event.values("at")[:1]),
        )
        .prefetch_related("allowed_operators")
    )


def operators() -> QuerySet:
    """Active users who may delete audiences (through a group or directly), for restricting apps."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__permissions__codename="delete_audience") | Q(user_permissions__codename="delete_audience"))
        .distinct()
        .order_by("username")
    )


def app_by_name(name: str) -> BatchApp | None:
    return BatchApp.objects.filter(name=name).first()


@dataclass(frozen=True)
class AttemptRow:
    """One deletion attempt: its *requested* event joined with its *completed* one (if any)."""

    requested: AuditEvent
    completed: AuditEvent | None

    @property
    def at(self) -> datetime:
        return self.requested.at

    @property
    def outcome(self) -> str:
        return self.completed.outcome if self.completed else ""


def deletion_attempts_page(*, page: int | str | None, per_page: int = 50) -> Page:
    """Attempts newest first; each page's rows carry their outcome (two queries plus a count)."""
    requested = AuditEvent.objects.filter(kind=Kind.DELETE_REQUESTED).order_by("-id")
    page_obj = Paginator(requested, per_page).get_page(page)
    events = list(page_obj.object_list)
    completions = {
        e.attempt: e
        for e in AuditEvent.objects.filter(kind=Kind.DELETE_COMPLETED, attempt__in=[e.attempt for e in events])
    }
    page_obj.object_list = [AttemptRow(e, completions.get(e.attempt)) for e in events]
    return page_obj


def key_events(*, limit: int = 20) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        kind__in=[Kind.APP_CREATED, Kind.APP_KEYS_CHANGED, Kind.APP_RENAMED, Kind.APP_ARCHIVED]
    ).order_by("-id")[:limit]


def audit_event_id_by_mac(mac: str) -> int | None:
    return AuditEvent.objects.filter(mac=mac).values_list("id", flat=True).first()


def last_verification() -> AuditVerification | None:
    return AuditVerification.objects.order_by("-id").first()
