"""The database's clock: the one every instance and worker agrees on.

Decisions about age (the sweep of interrupted attempts, bulk job leases) and the audit's event times
use it, never the process's clock: an instance whose clock is ahead or behind can then neither close
an attempt that is still in flight nor stamp events in the future. (SQLite is one file on one host:
its clock is that host's.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import DateTimeField, Func

_SQL = {
    "postgresql": "SELECT clock_timestamp()",
    "sqlite": "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')",
}


def db_now(using: str = DEFAULT_DB_ALIAS, *, after_lock: int | None = None) -> datetime:
    """The database's current time (aware, UTC). ``after_lock``: on PostgreSQL, first take this
    advisory transaction lock, in the same round trip (the time is read once the lock is held)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if after_lock is not None and connection.vendor == "postgresql":
            cursor.execute("SELECT clock_timestamp() FROM (SELECT pg_advisory_xact_lock(%s)) AS locked", [after_lock])
        else:
            cursor.execute(_SQL[connection.vendor])
        (value,) = cursor.fetchone()
    if isinstance(value, str):  # SQLite: "YYYY-MM-DD HH:MM:SS.SSS", UTC
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if not isinstance(value, datetime):
        raise TypeError(f"the database's clock answered {type(value).__name__}")
    return value.astimezone(UTC)


class DbNow(Func):
    """The database's clock inside a query (``lease_until__lt=DbNow()``): read when the statement
    runs, not when its transaction began (unlike PostgreSQL's ``now()``)."""

    output_field = DateTimeField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, tuple[str | int, ...]]:
        return "clock_timestamp()", ()

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> tuple[str, tuple[str | int, ...]]:
        return "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now')", ()
