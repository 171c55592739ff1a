"""Read queries. Views and commands read through these, never through ad-hoc ORM calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

from audienceadmin.models import AuditEvent, BatchApp

Kind = AuditEvent.Kind


def apps_for_delete(*, user) -> QuerySet[BatchApp]:
    """Apps an operator may delete audiences in: the active ones."""
    return BatchApp.objects.filter(archived_at__isnull=True)


def apps_all() -> QuerySet[BatchApp]:
    return BatchApp.objects.order_by("archived_at", "name")


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
