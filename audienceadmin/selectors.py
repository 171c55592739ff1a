"""Read queries. Views and commands read through these, never through ad-hoc ORM calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

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


# The history's views: which event kinds each one lists.
KEY_KINDS = [
    Kind.APP_CREATED,
    Kind.APP_KEYS_CHANGED,
    Kind.APP_RENAMED,
    Kind.APP_ARCHIVED,
    Kind.APP_ACCESS_CHANGED,
    Kind.CONNECTION_TESTED,
    Kind.KEYS_REENCRYPTED,
]
SECURITY_KINDS = [Kind.LOGIN_FAILED, Kind.LOCKED_OUT, Kind.PERMISSION_DENIED]
VIEWS = {"deletions": [Kind.DELETE_REQUESTED], "keys": KEY_KINDS, "security": SECURITY_KINDS}


@dataclass(frozen=True)
class HistoryFilter:
    view: str = "deletions"
    app: int | None = None
    actor: str = ""
    outcome: str = ""
    audience: str = ""
    prefix: bool = False
    since: date | None = None
    until: date | None = None  # inclusive


@dataclass(frozen=True)
class HistoryPage:
    rows: list  # AttemptRow for deletions, AuditEvent otherwise
    newer: int | None  # cursor for ?after=
    older: int | None  # cursor for ?before=


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _filtered(f: HistoryFilter, kinds: list[str]) -> QuerySet[AuditEvent]:
    """The events of ``kinds`` matching the filter; every branch is served by an index on (kind, …, id)."""
    qs = AuditEvent.objects.filter(kind=kinds[0]) if len(kinds) == 1 else AuditEvent.objects.filter(kind__in=kinds)
    if f.app:
        qs = qs.filter(app_id=f.app)
    if f.actor:
        qs = qs.filter(actor_username=f.actor)
    if f.audience:
        if not f.prefix:
            qs = qs.filter(audience=f.audience)
        elif connection.vendor == "sqlite":
            # A byte-wise range, case-sensitive like Batch's names ("\x7f" sorts after every allowed character).
            qs = qs.filter(audience__gte=f.audience, audience__lt=f.audience + "\x7f")
        else:
            qs = qs.filter(audience__startswith=f.audience)
    # Times grow with ids (AuditEvent.save), so a date range is an id range: two index look-ups.
    if f.since:
        first = AuditEvent.objects.filter(at__gte=_day_start(f.since)).order_by("at").values_list("id", flat=True)
        qs = qs.filter(id__gte=first.first() or 1 << 62)
    if f.until:
        end = _day_start(f.until + timedelta(days=1))
        last = AuditEvent.objects.filter(at__lt=end).order_by("-at").values_list("id", flat=True)
        qs = qs.filter(id__lte=last.first() or 0)
    return qs


def _drivers(f: HistoryFilter) -> QuerySet[AuditEvent]:
    if f.view == "deletions" and f.outcome:
        return _filtered(f, [Kind.DELETE_COMPLETED]).filter(outcome=f.outcome)
    return _filtered(f, VIEWS[f.view])


def history_page(f: HistoryFilter, *, before: int | None = None, after: int | None = None, limit: int = 50):
    """One page of the history, newest first, by keyset on the event id: no OFFSET, no COUNT."""
    drivers = _drivers(f)
    if after is not None:
        found = list(drivers.filter(id__gt=after).order_by("id")[: limit + 1])
        more_newer = len(found) > limit
        events = list(reversed(found[:limit]))
        newer = events[0].id if more_newer and events else None
        older = events[-1].id if events else after + 1
    else:
        qs = drivers.filter(id__lt=before) if before is not None else drivers
        found = list(qs.order_by("-id")[: limit + 1])
        events = found[:limit]
        older = events[-1].id if len(found) > limit else None
        newer = events[0].id if before is not None and events else None
    if f.view == "deletions":
        events = _as_attempts(events)
    return HistoryPage(rows=events, newer=newer, older=older)


def _as_attempts(events: list[AuditEvent]) -> list[AttemptRow]:
    """Join each driver event with the other event of its attempt (one query for the page)."""
    other = {
        e.attempt: e
        for e in AuditEvent.objects.filter(attempt__in=[e.attempt for e in events]).exclude(
            id__in=[e.id for e in events]
        )
    }
    rows = []
    for event in events:
        if event.kind == Kind.DELETE_REQUESTED:
            rows.append(AttemptRow(event, other.get(event.attempt)))
        else:
            rows.append(AttemptRow(other.get(event.attempt) or event, event))
    return rows


def history_export_rows(f: HistoryFilter):
    """Every matching event (an attempt is two rows), in chain order, streamed in chunks."""
    kinds = [Kind.DELETE_REQUESTED, Kind.DELETE_COMPLETED] if f.view == "deletions" else VIEWS[f.view]
    qs = _filtered(f, kinds)
    if f.outcome:
        qs = qs.filter(outcome=f.outcome)
    return qs.order_by("id").values_list(*EXPORT_FIELDS).iterator(chunk_size=2000)


EXPORT_FIELDS = (
    "id",
    "at",
    "kind",
    "attempt",
    "source",
    "actor_username",
    "app_name",
    "ip",
    "audience",
    "outcome",
    "http_status",
    "error_name",
    "error_code",
    "message",
    "tries",
    "duration_ms",
    "key_id",
    "prev_mac",
    "mac",
)


def audit_event_with_attempt(pk: int) -> tuple[AuditEvent, list[AuditEvent]]:
    """An event, and every event of its attempt (itself included), oldest first."""
    event = AuditEvent.objects.select_related("app").get(pk=pk)
    if event.attempt is None:
        return event, [event]
    return event, list(AuditEvent.objects.filter(attempt=event.attempt).order_by("id"))


def history_actors(limit: int = 200) -> list[str]:
    """Usernames for the actor filter's suggestions."""
    from django.contrib.auth import get_user_model

    return list(get_user_model().objects.order_by("username").values_list("username", flat=True)[:limit])


def recent_attempts(limit: int = 5) -> list[AttemptRow]:
    return history_page(HistoryFilter(), limit=limit).rows


def audit_event_id_by_mac(mac: str) -> int | None:
    return AuditEvent.objects.filter(mac=mac).values_list("id", flat=True).first()


def last_verification() -> AuditVerification | None:
    return AuditVerification.objects.order_by("-id").first()
