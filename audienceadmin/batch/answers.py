"""Reading Batch's answers: an error body (whatever dialect or proxy sent it) and ``Retry-After``."""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from audienceadmin.batch.redaction import Redactor

MAX_MESSAGE_CHARS = 500
_ERROR_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]{1,63}")


def parse_retry_after(value: str | None, now: Callable[[], datetime]) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def _clean_message(text: str, redactor: Redactor) -> str:
    text = " ".join(redactor.field(text).split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


def parse_error_body(
    status: int, body: bytes, redactor: Redactor, known_errors: Mapping[int, tuple[str, str]]
) -> tuple[str, str, str]:
    """(error name, error code, message) from whatever Batch or a proxy sent; never raises.

    Batch's MEP error body is not documented (public clients read ``message``, some ``code``,
    ``error_code`` or ``error_message``); CEP's is ``{"error_message", "error_code"}`` with a string
    code. Names are taken from string values that look like ``UPPER_SNAKE``, codes from integers and
    short digit strings; a value that holds a key is dropped; the dialect's table fills what is missing.
    """
    name = code = message = ""
    data: Any = None
    try:
        data = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        data = None
    if isinstance(data, dict):
        for key in ("error_code", "code", "error", "name"):
            value = data.get(key)
            if isinstance(value, bool):
                continue
            if isinstance(value, int) and not code:
                code = str(value)[:32]
            elif isinstance(value, str) and not redactor.contains_key(value):
                if not name and _ERROR_NAME_RE.fullmatch(value):
                    name = value
                elif not code and value.isdigit() and len(value) <= 6:
                    code = value
        for key in ("message", "error_message"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                message = _clean_message(value, redactor)
                break
    known_name, known_code = known_errors.get(status, ("", ""))
    if not name:
        name = known_name
    if not code and name == known_name:
        code = known_code
    return name, code, message
