"""The audit trail's hash chain: how an event is sealed, and how the chain is verified.

Each event carries ``mac = HMAC-SHA256(key, prev_mac ‖ canonical(event))`` where ``prev_mac`` is the
previous event's mac (stored on the event too) and ``key`` is the first of ``AUDIT_HMAC_KEYS``;
``key_id`` (a short hash of the key) says which key sealed it, so keys can be rotated without
rewriting history. The id is not sealed: the chain, not the id, fixes the order, so moving rows
around breaks the links. Appends are serialised (PostgreSQL: an advisory transaction lock; SQLite:
its write lock, taken at BEGIN IMMEDIATE) so the chain never forks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

from audienceadmin import dbclock

GENESIS = "0" * 64
LOCK_ID = 0x4155444954  # "AUDIT"
# The sealed fields, in order. Changing this list is a new chain format: never do it in place.
SEALED_FIELDS = (
    "at",
    "kind",
    "attempt",
    "source",
    "actor_id",
    "actor_username",
    "app_id",
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
    "details",
    "key_id",
)

# Triggers that make the database itself refuse UPDATE and DELETE on the audit table.
TABLE = "audienceadmin_auditevent"
TRIGGERS_SQL = {
    "sqlite": [
        f"CREATE TRIGGER audit_no_update BEFORE UPDATE ON {TABLE} "
        "BEGIN SELECT RAISE(ABORT, 'audit events are insert-only'); END",
        f"CREATE TRIGGER audit_no_delete BEFORE DELETE ON {TABLE} "
        "BEGIN SELECT RAISE(ABORT, 'audit events are insert-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'audit events are insert-only'; END $$",
        f"CREATE TRIGGER audit_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
        f"CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {TABLE} "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
    ],
}
DROP_TRIGGERS_SQL = {
    "sqlite": ["DROP TRIGGER IF EXISTS audit_no_update", "DROP TRIGGER IF EXISTS audit_no_delete"],
    "postgresql": [
        f"DROP TRIGGER IF EXISTS audit_no_update_delete ON {TABLE}",
        f"DROP TRIGGER IF EXISTS audit_no_truncate ON {TABLE}",
    ],
}


@lru_cache(maxsize=8)
def _keys(raw: tuple[str, ...]) -> tuple[tuple[str, bytes], ...]:
    return tuple((hashlib.sha256(k.encode()).hexdigest()[:12], k.encode()) for k in raw if k)


def keys() -> tuple[tuple[str, bytes], ...]:
    """(key id, key) pairs, newest first."""
    found = _keys(tuple(settings.AUDIT_HMAC_KEYS))
    if not found:
        raise ImproperlyConfigured(
            "AUDIT_HMAC_KEYS is empty: set it to one or more comma-separated secrets (newest first). "
            "`make run` writes one into .env."
        )
    return found


def signing_key() -> tuple[str, bytes]:
    return keys()[0]


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_AT, _ATTEMPT, _KEY_ID = (SEALED_FIELDS.index(f) for f in ("at", "attempt", "key_id"))


def sealed_items(values: dict) -> list:
    """The sealed fields of an event being written, as JSON-ready values (times in ISO 8601)."""
    items = [values[f] for f in SEALED_FIELDS]
    items[_AT] = items[_AT].isoformat()
    if items[_ATTEMPT] is not None:
        items[_ATTEMPT] = str(items[_ATTEMPT])
    return items


def seal(key: bytes, prev_mac: str, items: list) -> str:
    message = prev_mac.encode() + b"\n" + _ENCODER.encode(items).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def chain_rows(using: str = "default", batch: int = 20_000) -> Iterator[tuple[int, str, str, list]]:
    """(id, prev_mac, mac, sealed items) for every event in id order, read in keyset batches
    (constant memory) with raw SQL: the ORM's per-value conversions would triple the time."""
    connection = connections[using]
    sqlite = connection.vendor == "sqlite"
    # SQLite: the text as stored, not through the driver's datetime converter (a third of the time).
    columns = ", ".join(
        ("id", "prev_mac", "mac", *("CAST(at AS text)" if f == "at" and sqlite else f for f in SEALED_FIELDS))
    )
    sql = f"SELECT {columns} FROM {TABLE} WHERE id > %s ORDER BY id LIMIT %s"  # noqa: S608
    details_at, ip_at = SEALED_FIELDS.index("details"), SEALED_FIELDS.index("ip")
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [last, batch])
            rows = cursor.fetchall()
        if not rows:
            return
        for event_id, prev_mac, mac, *items in rows:
            at, attempt, details, ip = items[_AT], items[_ATTEMPT], items[details_at], items[ip_at]
            if isinstance(at, str):  # SQLite text "YYYY-MM-DD HH:MM:SS[.ffffff]", in UTC
                items[_AT] = at.replace(" ", "T", 1) + "+00:00"
            elif at.tzinfo is None:  # SQLite through its datetime converter: naive UTC
                items[_AT] = at.replace(tzinfo=UTC).isoformat()
            else:
                items[_AT] = at.astimezone(UTC).isoformat()
            if sqlite:  # uuid as 32 hex digits
                if attempt is not None:
                    items[_ATTEMPT] = f"{attempt[:8]}-{attempt[8:12]}-{attempt[12:16]}-{attempt[16:20]}-{attempt[20:]}"
            else:
                if attempt is not None:
                    items[_ATTEMPT] = str(attempt)
                if ip is not None and not isinstance(ip, str):
                    items[ip_at] = str(ip)
            if isinstance(details, str):
                items[details_at] = {} if details == "{}" else json.loads(details)
            yield event_id, prev_mac, mac, items
        last = rows[-1][0]


def lock_chain(using: str) -> datetime:
    """Serialise appends until the end of the current transaction; the database's time once the lock
    is held (one round trip: the lock is held from here to the commit, so every trip counts)."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        return dbclock.db_now(using, after_lock=LOCK_ID)
    if connection.vendor == "sqlite":
        # The transaction began with BEGIN IMMEDIATE (settings: transaction_mode), which already
        # holds the write lock; inside a test's outer transaction the lock is held as well.
        return dbclock.db_now(using)
    raise ImproperlyConfigured(f"The audit chain does not support {connection.vendor}.")  # pragma: no cover


# --- verification ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    ok: bool
    events: int
    head_mac: str
    problem: str = ""
    event_id: int | None = None


def verify(rows: Iterator[tuple], *, expect_head: str | None = None, lookup=None) -> Verdict:
    """Check ``chain_rows()`` output in id order. Stops at the first problem.

    ``lookup(mac) -> id | None`` finds an event by its mac, to tell a reorder from a removal.
    """
    key_by_id = dict(keys())
    previous_mac, previous_id, count = GENESIS, None, 0
    pending = None  # a row whose own seal failed: decided by the next row's link
    for event_id, prev_mac, mac, items in rows:
        if pending is not None:
            bad_id, before_bad = pending
            if prev_mac == before_bad:
                return Verdict(False, count, previous_mac, f"event {bad_id} was inserted: the chain skips it", bad_id)
            return Verdict(False, count, previous_mac, f"event {bad_id} was modified: its seal does not match", bad_id)
        key = key_by_id.get(items[_KEY_ID])
        if key is None:
            problem = f"event {event_id} was sealed with key id {items[_KEY_ID]!r}, which is not in AUDIT_HMAC_KEYS"
            return Verdict(False, count, previous_mac, problem, event_id)
        if not hmac.compare_digest(seal(key, prev_mac, items), mac):
            pending = (event_id, previous_mac)
            continue
        if prev_mac != previous_mac:
            where = lookup(prev_mac) if lookup else None
            if where is not None and (previous_id is None or where > previous_id or where == event_id):
                problem = f"event {event_id} is out of order: its predecessor is event {where}"
            elif where is not None:
                problem = f"event {event_id} is out of order or a copy: it links back to event {where}"
            elif previous_id is None:
                problem = f"events before event {event_id} were removed (the chain's start is missing)"
            else:
                problem = f"events between event {previous_id} and event {event_id} were removed"
            return Verdict(False, count, previous_mac, problem, event_id)
        previous_mac, previous_id, count = mac, event_id, count + 1
    if pending is not None:
        bad_id, _ = pending
        problem = f"event {bad_id} was modified or inserted: its seal does not match"
        return Verdict(False, count, previous_mac, problem, bad_id)
    if expect_head and expect_head != previous_mac and (lookup is None or lookup(expect_head) is None):
        # A head recorded earlier must still be in the chain (later events may follow it).
        problem = (
            f"the expected head is not in the chain, which ends at event {previous_id}: "
            "events at the end were removed (or the head was recorded from another database)"
        )
        return Verdict(False, count, previous_mac, problem, previous_id)
    return Verdict(True, count, previous_mac)
