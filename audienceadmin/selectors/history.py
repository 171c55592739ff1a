"""Reads of the audit trail: history pages (keyset-paginated), the CSV export's rows, an event's
detail, the last verification."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, TextField
from django.db.models.functions import Cast, Lower

from audienceadmin import audit, wording
from audienceadmin.models import AuditEvent, AuditVerification, BatchApp, RemovalFollowUp
from audienceadmin.selectors.apps import apps_hidden_in_history
from audienceadmin.selectors.removals import removal_follow_ups

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Kind = AuditEvent.Kind


@dataclass(frozen=True)
class AttemptRow:
    """One deletion attempt: its *requested* event joined with its *completed* one (if any)."""

    requested: EventRow
    completed: EventRow | None
    removal: RemovalFollowUp | None = None  # a CEP removal Batch accepted: where it stands

    @property
    def at(self) -> datetime:
        return self.requested.at

    @property
    def outcome(self) -> str:
        return self.completed.outcome if self.completed else ""


KEY_KINDS = [
    Kind.APP_CREATED,
    Kind.APP_KEYS_CHANGED,
    Kind.APP_RENAMED,
    Kind.APP_ARCHIVED,
    Kind.APP_RESTORED,
    Kind.APP_ACCESS_CHANGED,
    Kind.CONNECTION_TESTED,
    Kind.KEYS_REENCRYPTED,
]
SECURITY_KINDS = [
    Kind.LOGIN_FAILED,
    Kind.LOGIN_FAILURES_COUNTED,
    Kind.LOCKED_OUT,
    Kind.PERMISSION_DENIED,
    Kind.LOGIN_SUCCEEDED,
    Kind.SSO_REFUSED,
    Kind.MFA_FAILED,
]
PEOPLE_KINDS = [
    Kind.USER_INVITED,
    Kind.USER_CREATED,
    Kind.ROLES_CHANGED,
    Kind.USER_DEACTIVATED,
    Kind.USER_REACTIVATED,
    Kind.LOCKOUT_CLEARED,
    Kind.MFA_CHANGED,
]


class HistoryView(NamedTuple):
    label: str  # the tab's name
    kinds: Sequence[str]  # the event kinds listed; empty: every kind


# The history's views (its tabs), in the order of the tabs; the filter form's choices too.
# The two-person rule: the app's policy and every step of its deletion requests (break glass included).
REQUEST_KINDS = [
    Kind.APP_POLICY_CHANGED,
    Kind.REQUEST_CREATED,
    Kind.REQUEST_APPROVED,
    Kind.REQUEST_REJECTED,
    Kind.REQUEST_WITHDRAWN,
    Kind.REQUEST_EXPIRED,
    Kind.REQUEST_EXECUTED,
    Kind.BREAK_GLASS,
]
HISTORY_VIEWS: dict[str, HistoryView] = {
    "deletions": HistoryView("Deletions", [Kind.DELETE_REQUESTED]),
    "keys": HistoryView("Key changes", KEY_KINDS),
    "security": HistoryView("Security events", SECURITY_KINDS),
    "people": HistoryView("People", PEOPLE_KINDS),
    "requests": HistoryView("Approvals", REQUEST_KINDS),
    "all": HistoryView("Everything", []),
}
HISTORY_VIEW_CHOICES = [(name, view.label) for name, view in HISTORY_VIEWS.items()]


@dataclass(frozen=True, slots=True)
class EventRow:
    """What a history list shows of an event: a plain row, ~10x cheaper to build than a model."""

    id: int
    at: datetime
    kind: str
    attempt: object
    source: str
    actor_username: str
    app_name: str
    ip: str | None
    audience: str
    outcome: str
    http_status: int | None
    error_name: str
    error_code: str
    message: str
    tries: int | None
    duration_ms: int | None
    details: dict[str, Any]

    @property
    def pk(self) -> int:
        return self.id

    def get_outcome_display(self) -> str:
        return _OUTCOME_LABELS.get(self.outcome, self.outcome)

    def get_kind_display(self) -> str:
        return _KIND_LABELS.get(self.kind, self.kind)


ROW_FIELDS = tuple(EventRow.__dataclass_fields__)
_OUTCOME_LABELS = dict(AuditEvent.Outcome.choices)
_KIND_LABELS = dict(AuditEvent.Kind.choices)


def _rows(qs: QuerySet[AuditEvent]) -> list[EventRow]:
    return [EventRow(*values) for values in qs.values_list(*ROW_FIELDS)]


@dataclass(frozen=True)
class HistoryFilter:
    view: str = "deletions"
    app: int | None = None
    actor: str = ""
    outcome: str = ""
    audience: str = ""
    prefix: bool = False
    since: date | None = None  # the days, as the operator chose them (shown in the form)
    until: date | None = None  # inclusive
    start: datetime | None = None  # the same, as times in the operator's zone (the queries use these)
    end: datetime | None = None  # exclusive: the start of the day after ``until``


@dataclass(frozen=True)
class HistoryPage:
    rows: list[AttemptRow] | list[EventRow]  # AttemptRow for deletions, EventRow otherwise
    newer: int | None  # cursor for ?after=
    older: int | None  # cursor for ?before=


def _visible(qs: QuerySet[AuditEvent], user: User) -> QuerySet[AuditEvent]:
    """The events ``user`` may read: all of them for auditors; for operators, the events of the apps
    open to them and those of no app. Every path to an event (pages, CSV, detail, home) goes here."""
    hidden = apps_hidden_in_history(user)
    return qs.exclude(app_id__in=hidden) if hidden else qs


def _filtered(f: HistoryFilter, kinds: Sequence[str], user: User) -> QuerySet[AuditEvent]:
    """The events of ``kinds`` matching the filter that ``user`` may read, but for "Who" (``_ordered``
    adds it); every branch is served by an index on (kind, …, id)."""
    qs: QuerySet[AuditEvent]
    if not kinds:
        qs = AuditEvent.objects.all()
    elif len(kinds) == 1:
        qs = AuditEvent.objects.filter(kind=kinds[0])
    else:
        qs = AuditEvent.objects.filter(kind__in=kinds)
    qs = _visible(qs, user)
    if f.app:
        qs = qs.filter(app_id=f.app)
    if f.audience:
        if not f.prefix:
            qs = qs.filter(audience=f.audience)
        elif connection.vendor == "sqlite":
            # A byte-wise range, case-sensitive like Batch's names ("\x7f" sorts after every allowed character).
            qs = qs.filter(audience__gte=f.audience, audience__lt=f.audience + "\x7f")
        else:
            qs = qs.filter(audience__startswith=f.audience)
    # Times grow with ids (AuditEvent.save), so a date range is an id range: two index look-ups.
    if f.start:
        first = AuditEvent.objects.filter(at__gte=f.start).order_by("at").values_list("id", flat=True)
        qs = qs.filter(id__gte=first.first() or 1 << 62)
    if f.end:
        last = AuditEvent.objects.filter(at__lt=f.end).order_by("-at").values_list("id", flat=True)
        qs = qs.filter(id__lte=last.first() or 0)
    return qs


def lowered(text: str) -> str:
    """``text`` lower-cased as the database's ``lower()`` does it: SQLite's folds ASCII letters only."""
    if connection.vendor == "sqlite":
        return "".join(c.lower() if c.isascii() else c for c in text)
    return text.lower()


ACTOR_NAMES_MERGED = 12  # past this many names matching "Who", the range is read as it is


def _actor_range(typed: str, after: str | None = None) -> Q:
    """``lower(actor_username)`` starts with ``typed`` lower-cased (the ``actor_lower`` alias), and
    sorts after ``after`` if given. On SQLite a byte-wise range ("\U0010ffff" sorts after every
    character) whose one lower bound is the tighter one (SQLite seeks to one bound and filters on the
    other); on PostgreSQL ``LIKE 'prefix%'``, which text_pattern_ops serves, the bounds merged."""
    prefix = lowered(typed)
    if connection.vendor == "sqlite":
        low = Q(actor_lower__gt=after) if after is not None else Q(actor_lower__gte=prefix)
        return low & Q(actor_lower__lt=prefix + "\U0010ffff")
    return Q(actor_lower__startswith=prefix) & (Q(actor_lower__gt=after) if after is not None else Q())


def actor_names(typed: str) -> list[str]:
    """The lower-cased actor names that start with ``typed`` (at most ACTOR_NAMES_MERGED + 1), each
    found by one probe of the ``lower(actor_username)`` index: the next name after the one before."""
    named = AuditEvent.objects.annotate(actor_lower=Lower("actor_username"))
    names: list[str] = []
    while len(names) <= ACTOR_NAMES_MERGED:
        after = named.filter(_actor_range(typed, names[-1] if names else None))
        name = after.order_by("actor_lower").values_list("actor_lower", flat=True).first()
        if name is None:
            break
        names.append(name)
    return names


def _actor_starting_with(qs: QuerySet[AuditEvent], typed: str, names: list[str]) -> QuerySet[AuditEvent]:
    """Events whose actor's name starts with ``typed``, whatever the case ("ot", "Otto", "OTTO" all find
    otto), served by the indexes on ``lower(actor_username)`` (migration 0019) on both databases. One
    name is an equality, which the index returns in id order: a page reads 51 index entries however
    many events that person has (``_ordered`` merges a few names, one such read each)."""
    qs = qs.alias(actor_lower=Lower("actor_username"))
    if not names:
        return qs.none()
    if len(names) == 1:
        return qs.filter(actor_lower=names[0])
    if len(names) <= ACTOR_NAMES_MERGED:
        return qs.filter(actor_lower__in=names)
    return qs.filter(_actor_range(typed))


def _ordered(qs: QuerySet[AuditEvent], f: HistoryFilter, names: list[str], order: str, n: int) -> QuerySet[AuditEvent]:
    """``qs`` with the "Who" filter, in ``order`` (by id); the caller takes its first ``n``. With a few
    actor names, their first ``n`` ids are merged here from one index read per name: a database would
    read every event of those names to sort them."""
    if not f.actor:
        return qs.order_by(order)
    if not 1 < len(names) <= ACTOR_NAMES_MERGED:
        return _actor_starting_with(qs, f.actor, names).order_by(order)
    named = qs.alias(actor_lower=Lower("actor_username"))
    ids: list[int] = []
    for name in names:
        ids += named.filter(actor_lower=name).order_by(order).values_list("id", flat=True)[:n]
    return qs.filter(id__in=sorted(ids, reverse=order.startswith("-"))[:n]).order_by(order)


def _drivers(f: HistoryFilter, user: User) -> QuerySet[AuditEvent]:
    if f.view == "deletions" and f.outcome:
        return _filtered(f, [Kind.DELETE_COMPLETED], user).filter(outcome=f.outcome)
    return _filtered(f, HISTORY_VIEWS[f.view].kinds, user)


def history_page(
    f: HistoryFilter, *, user: User, before: int | None = None, after: int | None = None, limit: int = 50
) -> HistoryPage:
    """One page of the history that ``user`` may read, newest first, by keyset on the event id: no
    OFFSET, no COUNT."""
    names = actor_names(f.actor) if f.actor else []
    drivers = _drivers(f, user)
    newer: int | None
    older: int | None
    if after is not None:
        found = _rows(_ordered(drivers.filter(id__gt=after), f, names, "id", limit + 1)[: limit + 1])
        more_newer = len(found) > limit
        events = list(reversed(found[:limit]))
        newer = events[0].id if more_newer and events else None
        older = events[-1].id if events else after + 1
    else:
        qs = drivers.filter(id__lt=before) if before is not None else drivers
        found = _rows(_ordered(qs, f, names, "-id", limit + 1)[: limit + 1])
        events = found[:limit]
        older = events[-1].id if len(found) > limit else None
        newer = events[0].id if before is not None and events else None
    if f.view == "deletions":
        return HistoryPage(rows=_as_attempts(events), newer=newer, older=older)
    return HistoryPage(rows=events, newer=newer, older=older)


def _as_attempts(events: list[EventRow]) -> list[AttemptRow]:
    """Join each driver event with the other event of its attempt (one query for the page)."""
    others = AuditEvent.objects.filter(attempt__in=[e.attempt for e in events]).exclude(id__in=[e.id for e in events])
    other = {e.attempt: e for e in _rows(others)}
    removals = removal_follow_ups(e.attempt for e in events)
    rows: list[AttemptRow] = []
    for event in events:
        if event.kind == Kind.DELETE_REQUESTED:
            rows.append(AttemptRow(event, other.get(event.attempt), removals.get(event.attempt)))
        else:
            rows.append(AttemptRow(other.get(event.attempt) or event, event, removals.get(event.attempt)))
    return rows


def history_export_rows(f: HistoryFilter, *, user: User, batch: int = 5000) -> Iterator[list[Any]]:
    """Every event of the rows the page lists for the same filter (an attempt is two rows: with an
    outcome filter, both events of the attempts that ended so), in chain order, in keyset batches.

    The ORM builds each batch's SQL; the rows are read raw and only the time and the attempt are
    normalised (to ISO 8601 and the dashed UUID form, as on both databases): the ORM's per-value
    converters would halve the export's speed.

    The query is built here, during the request (what ``user`` may read is decided now); the
    rows are read as the response streams.
    """
    names = actor_names(f.actor) if f.actor else []
    if f.view != "deletions":
        qs = _filtered(f, HISTORY_VIEWS[f.view].kinds, user)
    else:
        qs = _filtered(f, [Kind.DELETE_REQUESTED, Kind.DELETE_COMPLETED], user)
        if f.outcome:
            completed = AuditEvent.objects.filter(attempt=OuterRef("attempt"), kind=Kind.DELETE_COMPLETED)
            qs = qs.filter(Exists(completed.filter(outcome=f.outcome)))
    return _export_batches(qs, f, names, batch)


def _export_batches(qs: QuerySet[AuditEvent], f: HistoryFilter, names: list[str], batch: int) -> Iterator[list[Any]]:
    sqlite = connection.vendor == "sqlite"
    at_i, attempt_i = EXPORT_FIELDS.index("at"), EXPORT_FIELDS.index("attempt")
    outcome_i, status_i = EXPORT_FIELDS.index("outcome"), EXPORT_FIELDS.index("http_status")
    fields = {name: Cast(name, TextField()) for name in ("at",)} if sqlite else {}
    kinds = {pk: BatchApp.Kind(kind).label for pk, kind in BatchApp.objects.values_list("pk", "kind")}
    last = 0
    while True:
        page = _ordered(qs.filter(id__gt=last), f, names, "id", batch)
        try:
            columns = [fields.get(n, n) for n in EXPORT_FIELDS] + ["app_id"]
            sql, params = page.values_list(*columns)[:batch].query.sql_with_params()
        except EmptyResultSet:  # no more events of these names
            return
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if not rows:
            return
        for raw in rows:
            row, app_id = list(raw[:-1]), raw[-1]
            at, attempt = row[at_i], row[attempt_i]
            row[at_i] = at.replace(" ", "T", 1) + "+00:00" if sqlite else at.astimezone(UTC).isoformat()
            if attempt is not None:
                row[attempt_i] = (
                    f"{attempt[:8]}-{attempt[8:12]}-{attempt[12:16]}-{attempt[16:20]}-{attempt[20:]}"
                    if sqlite
                    else str(attempt)
                )
            outcome = row[outcome_i]
            label = _OUTCOME_LABELS.get(outcome, "")
            row.append(wording.outcome_shown(outcome, row[status_i], label)[1] if outcome else "")
            row.append(kinds.get(app_id, ""))
            yield row
        last = rows[-1][0]


# The CSV export's columns: the id; the sealed fields, but for the row ids and the JSON details; the chain links.
NOT_EXPORTED = ("actor_id", "app_id", "details")
EXPORT_FIELDS = ("id", *(f for f in audit.SEALED_FIELDS if f not in NOT_EXPORTED), "prev_mac", "mac")
# ...and, after them, the outcome in words ("Not found (already deleted?)" for a 404; the outcome column
# keeps what the audit recorded) and the app's kind ("MEP app", "CEP project").
EXPORT_COLUMNS = (*EXPORT_FIELDS, "result", "app_kind")


def audit_event_with_attempt(pk: int, *, user: User) -> tuple[AuditEvent, list[AuditEvent]]:
    """An event ``user`` may read, and every event of its attempt (itself included), oldest first.
    An event they may not read does not exist for them (``AuditEvent.DoesNotExist``)."""
    event = _visible(AuditEvent.objects.select_related("app"), user).get(pk=pk)
    if event.attempt is None:
        return event, [event]
    return event, list(AuditEvent.objects.filter(attempt=event.attempt).order_by("id"))


def attempt_events(attempt: uuid.UUID) -> dict[str, AuditEvent]:
    """The events of one attempt by kind (*requested*, and *completed* once there is one)."""
    return {e.kind: e for e in AuditEvent.objects.filter(attempt=attempt)}


def audiences_deleted(*, app: BatchApp) -> set[str]:
    """The audiences of ``app`` that Batch confirmed deleted, as the audit says (the demo's restarts)."""
    done = AuditEvent.objects.filter(kind=Kind.DELETE_COMPLETED, app=app, outcome=AuditEvent.Outcome.DELETED)
    return set(done.values_list("audience", flat=True))


def recent_attempts(*, user: User, limit: int = 5) -> list[AttemptRow]:
    return cast(list[AttemptRow], history_page(HistoryFilter(), user=user, limit=limit).rows)  # the deletions view


def audit_event_id_by_mac(mac: str) -> int | None:
    return AuditEvent.objects.filter(mac=mac).values_list("id", flat=True).first()


def last_verification() -> AuditVerification | None:
    return AuditVerification.objects.order_by("-id").first()
