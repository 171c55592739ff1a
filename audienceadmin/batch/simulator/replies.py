"""How each fault answers on the socket, in place of Batch (every fault but ``delay``).

A fault never touches the simulator's state: the audience a faulted call names is still there. Error
bodies take the shape of the dialect the request was for. The hostile replies (truncate, drip,
drip_headers, stall_body, redirect, raw) always close the connection afterwards.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, Protocol

from .faults import Fault
from .protocol import JSON_TYPE, MAX_HANG_SECONDS, dumps, error, error_for_status, reason

HUGE_BODY_BYTES = 5 * 1024 * 1024
DEFAULT_STATUS = {"malformed": 500, "html": 502, "empty": 503, "huge": 500, "redirect": 302}  # else 200
DEFAULT_LENGTH = 1000
DEFAULT_SEND = 7
DEFAULT_INTERVAL = 2.0
FILLER = "x" * 16

Headers = Iterable[tuple[str, str]]


class Connection(Protocol):
    """What a fault reply needs from the request handler."""

    close_connection: bool

    def wait(self, seconds: float) -> bool: ...

    def hold(self, seconds: float) -> None: ...

    def abort(self) -> None: ...

    def send(
        self, status: int, body: bytes, content_type: str | None, headers: Iterable[tuple[str, str]] = ()
    ) -> None: ...

    def send_head(
        self, status: int, headers: Iterable[tuple[str, str]], *, end: bool = True, own: bool = True
    ) -> None: ...

    def write_now(self, data: bytes) -> None: ...


class Context(NamedTuple):
    dialect: str  # whose error bodies to send
    keys: dict[str, str]  # the request's api_key, rest_api_key and project_key, for raw's placeholders
    record: Callable[[int | None], None]  # told the status sent (None: no status line)
    moved_to: str  # where redirect points by default


def reply(conn: Connection, fault: Fault, ctx: Context) -> None:
    action = fault.action
    if action == "timeout":
        conn.hold(MAX_HANG_SECONDS)
        conn.close_connection = True
        return
    if action == "drop":
        conn.abort()
        return
    status = _status(fault)
    headers = [("Retry-After", fault.retry_after)] if fault.retry_after else []
    ctx.record(status)
    if action in HOSTILE:
        conn.close_connection = True
        HOSTILE[action](conn, fault, ctx, status, headers)
    elif action == "error":
        conn.send(status, dumps(_payload(fault, status, ctx)), JSON_TYPE, headers)
    elif action == "malformed":
        conn.send(status, b'{"code": 1, "mess', JSON_TYPE, headers)
    elif action == "html":
        conn.send(status, html_page(status), "text/html; charset=utf-8", headers)
    elif action == "empty":
        conn.send(status, b"", None, headers)
    else:  # huge
        conn.send(status, sized_json(_payload(fault, status, ctx), HUGE_BODY_BYTES), JSON_TYPE, headers)


def _status(fault: Fault) -> int:
    if fault.status is not None:
        return fault.status
    if fault.error is not None and fault.action not in ("malformed", "html", "empty", "redirect", "raw"):
        return error(fault.error).status
    return DEFAULT_STATUS.get(fault.action, 200)


def _payload(fault: Fault, status: int, ctx: Context) -> dict[str, Any]:
    """The fault's error body in the request's dialect, or ``{}`` for a success status without an error."""
    name = fault.error or error_for_status(status) or ("SERVER_ERROR" if status >= 400 else None)
    return error(name, status=status, dialect=ctx.dialect).payload if name else {}


def _json_head(length: int, headers: Headers) -> Headers:
    return [("Content-Type", JSON_TYPE), ("Content-Length", str(length)), *headers, ("Connection", "close")]


def _truncate(conn: Connection, fault: Fault, ctx: Context, status: int, headers: Headers) -> None:
    """Announce `length` bytes, send the first `send`, close."""
    length = fault.length or DEFAULT_LENGTH
    send = min(DEFAULT_SEND if fault.send is None else fault.send, length - 1)
    conn.send_head(status, _json_head(length, headers))
    conn.write_now(sized_json(_payload(fault, status, ctx), length)[:send])


def _drip(conn: Connection, fault: Fault, ctx: Context, status: int, headers: Headers) -> None:
    """Head at once, then a `length`-byte JSON body one byte every `interval` seconds."""
    body = sized_json(_payload(fault, status, ctx), fault.length or DEFAULT_LENGTH)
    interval = DEFAULT_INTERVAL if fault.interval is None else fault.interval
    conn.send_head(status, _json_head(len(body), headers))
    for i in range(len(body)):
        if conn.wait(interval):
            return
        conn.write_now(body[i : i + 1])


def _drip_headers(conn: Connection, fault: Fault, ctx: Context, status: int, headers: Headers) -> None:
    """The status line, then a filler header every `interval` seconds (`length` of them, or until stopped)."""
    interval = DEFAULT_INTERVAL if fault.interval is None else fault.interval
    give_up = time.monotonic() + MAX_HANG_SECONDS
    conn.send_head(status, [], end=False)
    sent = 0
    while fault.length is None or sent < fault.length:
        if conn.wait(interval) or time.monotonic() > give_up:
            return
        sent += 1
        conn.write_now(f"X-Filler-{sent}: {FILLER}\r\n".encode())
    body = dumps(_payload(fault, status, ctx))
    conn.write_now(header_lines(_json_head(len(body), headers)) + b"\r\n" + body)


def _stall_body(conn: Connection, fault: Fault, ctx: Context, status: int, headers: Headers) -> None:
    """Announce a body, then send nothing until the peer hangs up or `latency` passes; close."""
    conn.send_head(status, _json_head(len(dumps(_payload(fault, status, ctx))), headers))
    conn.hold(fault.latency or MAX_HANG_SECONDS)


def _redirect(conn: Connection, fault: Fault, ctx: Context, status: int, headers: Headers) -> None:
    location = fill(fault.location, ctx.keys) if fault.location else ctx.moved_to
    body = html_page(status)
    conn.send_head(
        status,
        [("Location", _unframed(location)), ("Content-Type", "text/html; charset=utf-8")]
        + [("Content-Length", str(len(body))), *headers, ("Connection", "close")],
    )
    conn.write_now(body)


def _raw(conn: Connection, fault: Fault, ctx: Context, status: int, headers: Headers) -> None:
    """Exactly the fault's headers and body (placeholders filled), plus Content-Length and Connection if absent."""
    given = [(_unframed(fill(n, ctx.keys)), _unframed(fill(v, ctx.keys))) for n, v in fault.headers or ()]
    body = fill(fault.body or "", ctx.keys).encode()
    names = {name.lower() for name, _ in given}
    extra = [("Content-Length", str(len(body)))] if "content-length" not in names else []
    extra += [("Connection", "close")] if "connection" not in names else []
    conn.send_head(status, [*given, *headers, *extra], own=False)
    conn.write_now(body)


HOSTILE: dict[str, Callable[[Connection, Fault, Context, int, Headers], None]] = {
    "truncate": _truncate,
    "drip": _drip,
    "drip_headers": _drip_headers,
    "stall_body": _stall_body,
    "redirect": _redirect,
    "raw": _raw,
}

# -- placeholders: {api_key}, {rest_api_key}, {project_key}, each with _lower _upper _pct _zw _split --------

PLACEHOLDER = re.compile(r"\{(api_key|rest_api_key|project_key)(?:_(lower|upper|pct|zw|split))?\}")


def _halves(value: str, middle: str) -> str:
    half = len(value) // 2
    return value[:half] + middle + value[half:]


VARIANTS: dict[str | None, Callable[[str], str]] = {
    None: lambda v: v,
    "lower": str.lower,
    "upper": str.upper,
    "pct": lambda v: "".join(f"%{byte:02X}" for byte in v.encode()),
    "zw": lambda v: _halves(v, "\u200b"),
    "split": lambda v: _halves(v, " "),
}


def fill(text: str, keys: dict[str, str]) -> str:
    """`text` with each placeholder replaced by the request's key, transformed as its suffix says."""
    return PLACEHOLDER.sub(lambda m: VARIANTS[m.group(2)](keys.get(m.group(1), "")), text)


def _unframed(value: str) -> str:
    """Without CR, LF or NUL: a key from a request path may hold them once percent-decoded."""
    return re.sub(r"[\r\n\0]", "", value)


# -- bodies ------------------------------------------------------------------------------------------------


def header_lines(headers: Iterable[tuple[str, str]]) -> bytes:
    return "".join(f"{name}: {value}\r\n" for name, value in headers).encode()


def sized_json(payload: dict[str, Any], size: int) -> bytes:
    """Valid JSON of exactly `size` bytes: `payload` with a ``padding`` field, or ``{}`` and spaces if it is too big."""
    base = len(dumps({**payload, "padding": ""}))
    if base <= size:
        return dumps({**payload, "padding": "x" * (size - base)})
    return b"{}" + b" " * (size - 2)


def html_page(status: int) -> bytes:
    title = f"{status} {reason(status)}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()
