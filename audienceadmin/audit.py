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
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

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
CHAIN_FIELDS = ("id", "prev_mac", "mac", *SEALED_FIELDS)

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


def _plain(value):
    if value is None or isinstance(value, str | int | dict | list):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def canonical(values: dict) -> bytes:
    return json.dumps(
        [_plain(values[f]) for f in SEALED_FIELDS], ensure_ascii=False, separators=(",", ":"), sort_keys=True
    ).encode()


def seal(key: bytes, prev_mac: str, values: dict) -> str:
    return hmac.new(key, prev_mac.encode() + b"\n" + canonical(values), hashlib.sha256).hexdigest()


def lock_chain(using: str) -> None:
    """Serialise appends until the end of the current transaction."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ID])
    elif connection.vendor == "sqlite":
        # The transaction began with BEGIN IMMEDIATE (settings: transaction_mode), which already
        # holds the write lock; inside a test's outer transaction the lock is held as well.
        pass
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise ImproperlyConfigured(f"The audit chain does not support {connection.vendor}.")


# --- verification ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    ok: bool
    events: int
    head_mac: str
    problem: str = ""
    event_id: int | None = None


def verify(rows: Iterator[tuple], *, expect_head: str | None = None, lookup=None) -> Verdict:
    """Check a stream of CHAIN_FIELDS tuples in id order. Stops at the first problem.

    ``lookup(mac) -> id | None`` finds an event by its mac, to tell a reorder from a removal.
    """
    key_by_id = dict(keys())
    names = CHAIN_FIELDS
    previous_mac, previous_id, count = GENESIS, None, 0
    pending = None  # a row whose own seal failed: decided by the next row's link
    for row in rows:
        values = dict(zip(names, row, strict=True))
        event_id, prev_mac, mac = values["id"], values["prev_mac"], values["mac"]
        if pending is not None:
            bad_id, before_bad = pending
            if prev_mac == before_bad:
                return Verdict(False, count, previous_mac, f"event {bad_id} was inserted: the chain skips it", bad_id)
            return Verdict(False, count, previous_mac, f"event {bad_id} was modified: its seal does not match", bad_id)
        key = key_by_id.get(values["key_id"])
        if key is None:
            return Verdict(
                False,
                count,
                previous_mac,
                f"event {event_id} was sealed with key id {values['key_id']!r}, which is not in AUDIT_HMAC_KEYS",
                event_id,
            )
        sealed_ok = hmac.compare_digest(seal(key, prev_mac, values), mac)
        if not sealed_ok:
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
