"""How each fault answers on the socket, in place of Batch (every fault but ``delay``).

A fault never touches the simulator's state: the audience a faulted DELETE names is still there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from .faults import Fault
from .protocol import JSON_TYPE, MAX_HANG_SECONDS, MEP, dumps, error, reason

HUGE_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_STATUS = {"malformed": 500, "html": 502, "empty": 503, "huge": 500}


class Connection(Protocol):
    """What a fault reply needs from the request handler."""

    close_connection: bool

    def wait(self, seconds: float) -> bool: ...

    def abort(self) -> None: ...

    def send(
        self, status: int, body: bytes, content_type: str | None, headers: Iterable[tuple[str, str]] = ()
    ) -> None: ...


def reply(conn: Connection, fault: Fault, record: Callable[[int | None], None], dialect: str | None) -> None:
    """Answer with `fault`, error bodies in `dialect`'s shape; `record` is told the status sent (None: none)."""
    dialect = dialect or MEP
    action = fault.action
    if action == "timeout":
        conn.wait(MAX_HANG_SECONDS)
        conn.close_connection = True
        return
    if action == "drop":
        conn.abort()
        return
    status = _status(fault)
    headers = [("Retry-After", fault.retry_after)] if fault.retry_after else []
    record(status)
    if action == "error":
        payload = error(fault.error or "SERVER_ERROR", status=status, dialect=dialect).payload
        conn.send(status, dumps(payload), JSON_TYPE, headers)
    elif action == "malformed":
        conn.send(status, b'{"code": 1, "mess', JSON_TYPE, headers)
    elif action == "html":
        conn.send(status, html_page(status), "text/html; charset=utf-8", headers)
    elif action == "empty":
        conn.send(status, b"", None, headers)
    else:  # huge
        payload = error(fault.error or "SERVER_ERROR", status=status, dialect=dialect).payload
        conn.send(status, padded_json(payload, HUGE_BODY_BYTES), JSON_TYPE, headers)


def _status(fault: Fault) -> int:
    if fault.status is not None:
        return fault.status
    if fault.error is not None and fault.action in ("error", "huge"):
        return error(fault.error).status
    return DEFAULT_STATUS.get(fault.action, 500)


def padded_json(payload: dict, size: int) -> bytes:
    """`payload` as JSON with a ``padding`` field that brings it to `size` bytes (or just over)."""
    base = len(dumps({**payload, "padding": ""}))
    return dumps({**payload, "padding": "x" * max(0, size - base)})


def html_page(status: int) -> bytes:
    title = f"{status} {reason(status)}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()
