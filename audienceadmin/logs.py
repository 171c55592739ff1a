"""Structured logs: a request id on every log record of a request, and JSON lines for production.

``RequestIdMiddleware`` (first in ``MIDDLEWARE``) takes the request id from ``X-Request-ID`` when it
is well-formed (else makes one), returns it in the response's ``X-Request-ID``, keeps it in a
context variable for the duration of the request and logs one ``request finished`` line.
``RequestContextFilter`` (on the handler) copies it, with the user, path and method, onto every
record; ``JsonFormatter`` writes one JSON object per line. Only a fixed set of ``extra=`` fields
is written (never the whole record), so nothing is logged by accident.

**One record, one line, in both formats.** A value logged may come from anyone (an app name, an
audience, a tried username, a path): a newline in it must not start what looks like another record.
Both formatters escape the characters that end a line or hide text (``LINE_BREAKERS``: C0 and C1
controls, DEL, the Unicode line and paragraph separators, the bidirectional overrides) as ``\\n``,
``\\x85``, ``\\u2028``...; the plain format prefixes each line of a traceback with ``  | ``.

This module imports nothing from Django at import time: gunicorn's master uses the formatter too.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Paths probed every few seconds by load balancers: logged at DEBUG when they succeed.
QUIET_PATHS = frozenset({"/healthz", "/readyz"})
# What ``extra=`` may add to a JSON line, in this order. Anything else on a record is left out.
EXTRA_FIELDS = ("status", "duration_ms", "app", "audience", "outcome", "attempt", "tries")
CONTEXT_FIELDS = ("request_id", "user", "path", "method")

request_logger = logging.getLogger("audienceadmin.requests")

# Everything that ends a line somewhere (str.splitlines, terminals, log shippers) or hides text:
# C0 controls, DEL, C1 controls (NEL among them), the line and paragraph separators, bidi controls.
LINE_BREAKERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def one_line(text: str) -> str:
    """``text`` with every line-breaking or hiding character escaped (``\\n``, ``\\x1b``, ``\\u2028``)."""
    return LINE_BREAKERS.sub(_escape_one, text)


def _json_escape_one(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    method: str
    path: str
    request: Any = None  # the HttpRequest, to read the user once authentication has loaded it


_context: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("audienceadmin_request", default=None)


def current_request_id() -> str | None:
    context = _context.get()
    return context.request_id if context else None


def request_id_from(header_value: str | None) -> str:
    """The client's request id if it is safe to log and echo back, else a new one."""
    if header_value and REQUEST_ID_RE.fullmatch(header_value):
        return header_value
    return uuid.uuid4().hex


def _username(request: Any) -> str | None:
    """The user's name, but only if authentication already loaded it: a log call must never run a
    query (which would log, and recurse) just to say who was logged in."""
    from django.utils.functional import empty

    user = getattr(request, "__dict__", {}).get("user")
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is None or wrapped is empty:
        return None
    if not getattr(wrapped, "is_authenticated", False):
        return None
    return str(wrapped.get_username())


class RequestContextFilter(logging.Filter):
    """Puts request_id, user, path and method on every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        if context is None:
            for name in CONTEXT_FIELDS:
                if not hasattr(record, name):
                    setattr(record, name, None)
            return True
        values = {
            "request_id": context.request_id,
            "user": _username(context.request),
            "path": context.path,
            "method": context.method,
        }
        for name, value in values.items():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


class ClientErrorFilter(logging.Filter):
    """Django logs each refused request (403, 404, 400: ``django.request``, below 500) with the
    exception that refused it, a framework traceback for what is no fault at all, beside the line
    ``RequestIdMiddleware`` logs for every request (method, path, status, duration). That line is
    enough: the refusal is left out (a refused permission is an audit event too). Server errors stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        return not (record.name == "django.request" and isinstance(status, int) and status < 500)


class PlainFormatter(logging.Formatter):
    """The human format (development), with the request id when there is one. The message is one
    line (``one_line``); a traceback follows on lines that each start with ``  | ``, so that no
    text inside it can pass for a record of its own. The line each request ends with says what
    happened: ``GET /history/ 200 5.3 ms``."""

    CONTINUATION = "  | "

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(rid)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.rid = f" [{one_line(str(request_id))}]" if request_id else ""
        record.message = one_line(self._message(record))
        record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        blocks = []
        if record.exc_info:
            blocks.append(self.formatException(record.exc_info))
        elif record.exc_text:
            blocks.append(record.exc_text)
        if record.stack_info:
            blocks.append(self.formatStack(record.stack_info))
        for block in blocks:
            text += "".join(f"\n{self.CONTINUATION}{one_line(line)}" for line in block.split("\n"))
        return text

    @staticmethod
    def _message(record: logging.LogRecord) -> str:
        status = getattr(record, "status", None)
        if record.name == request_logger.name and status is not None:
            method, path, took = (getattr(record, name, "?") for name in ("method", "path", "duration_ms"))
            return f"{method} {path} {status} {took} ms"
        return record.getMessage()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request context, known extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in (*CONTEXT_FIELDS, *EXTRA_FIELDS):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            entry["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        # json.dumps escapes C0 controls but keeps DEL, C1 controls and U+2028/2029, which split
        # lines in some readers: escaped too (inside strings only, where they can only be).
        return LINE_BREAKERS.sub(_json_escape_one, json.dumps(entry, ensure_ascii=False, default=str))


class RequestIdMiddleware:
    """Request id in, request id out, on every log line in between, and one line per request."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        token = _context.set(RequestContext(request_id, request.method, request.path[:200], request))
        started = time.monotonic()
        try:
            try:
                response = self.get_response(request)
            except Exception:  # not even an error page could be made: the server answers 500
                self._log(request, 500, started)
                raise
            response[REQUEST_ID_HEADER] = request_id
            self._log(request, response.status_code, started)
            return response
        finally:
            _context.reset(token)

    @staticmethod
    def _log(request, status: int, started: float) -> None:
        quiet = request.path in QUIET_PATHS and status < 400
        request_logger.log(
            logging.DEBUG if quiet else logging.INFO,
            "request finished",
            extra={"status": status, "duration_ms": round((time.monotonic() - started) * 1000, 1)},
        )
