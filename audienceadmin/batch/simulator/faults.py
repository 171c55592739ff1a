"""The fault model: which faults exist, what parameters they take, and which request a fault matches.

How each fault answers on the socket is in replies.py.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from dataclasses import dataclass
from typing import Any

from .protocol import ERRORS, MAX_HANG_SECONDS, check_number, check_optional_str, error_for_status

FAULT_ACTIONS = frozenset(
    {
        "error",
        "delay",
        "timeout",
        "drop",
        "malformed",
        "html",
        "empty",
        "huge",
        "truncate",
        "drip",
        "drip_headers",
        "stall_body",
        "redirect",
        "raw",
    },
)
# Parameters that shape only some actions' answers (the selectors, error, status, times, latency and
# retry_after apply to every action).
ACTION_PARAMETERS = {
    "truncate": frozenset({"length", "send"}),
    "drip": frozenset({"length", "interval"}),
    "drip_headers": frozenset({"length", "interval"}),
    "redirect": frozenset({"location"}),
    "raw": frozenset({"headers", "body"}),
}
SHAPING = frozenset().union(*ACTION_PARAMETERS.values())
FAULT_FIELDS = frozenset(
    {"action", "api_key", "project_key", "audience", "method", "path", "error", "status", "times", "latency"}
    | {"retry_after"}
    | SHAPING
)
MAX_LENGTH = 16 * 1024 * 1024
HEADER_NAME = re.compile(r"[^\x00-\x20:\x7f]+")  # a header name may hold placeholders, never framing bytes


@dataclass
class Fault:
    id: int
    action: str
    api_key: str | None  # MEP's API key or CEP's project key
    audience: str | None
    method: str | None
    path: str | None  # a substring of the request target (path and query)
    error: str | None
    status: int | None
    times: int | None
    remaining: int | None
    latency: float
    retry_after: str | None
    length: int | None = None
    send: int | None = None
    interval: float | None = None
    location: str | None = None
    headers: tuple[tuple[str, str], ...] | None = None
    body: str | None = None
    hits: int = 0

    def matches(self, key: str | None, audience: str | None, method: str, target: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.api_key is not None and self.api_key != key:
            return False
        if self.audience is not None and self.audience != audience:
            return False
        if self.path is not None and self.path not in target:
            return False
        return self.method is None or self.method == method.upper()

    def describe(self) -> dict[str, Any]:
        described = {
            "id": self.id,
            "action": self.action,
            "api_key": self.api_key,
            "audience": self.audience,
            "method": self.method,
            "path": self.path,
            "error": self.error,
            "status": self.status,
            "times": self.times,
            "remaining": self.remaining,
            "hits": self.hits,
            "latency": self.latency,
            "retry_after": self.retry_after,
        }
        for name in sorted(ACTION_PARAMETERS.get(self.action, ())):
            value = getattr(self, name)
            described[name] = [list(pair) for pair in value] if name == "headers" and value else value
        return described


def _check_int(value: Any, what: str, *, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an integer or null")
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low} and {high}")
    return value


def _check_header_value(value: Any, what: str) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    text = check_optional_str(value, what)
    if text is not None and (not text.isprintable() or not text.strip() or not text.isascii()):
        raise ValueError(f"{what} must be a printable ASCII header value")
    return text


def _check_raw_headers(headers: Any) -> tuple[tuple[str, str], ...] | None:
    """A list of [name, value] pairs; anything but the bytes that frame HTTP (CR, LF, NUL) is allowed."""
    if headers is None:
        return None
    if isinstance(headers, str | bytes | dict):
        raise TypeError("headers must be a list of [name, value] pairs")
    pairs = []
    for pair in headers:
        if not isinstance(pair, list | tuple) or len(pair) != 2 or not all(isinstance(p, str) for p in pair):
            raise TypeError("headers must be a list of [name, value] pairs of strings")
        name, value = pair
        if not HEADER_NAME.fullmatch(name) or any(c in value for c in "\r\n\0"):
            raise ValueError("a header name is a token and a value holds no CR, LF or NUL")
        pairs.append((name, value))
    return tuple(pairs)


def _check_shaping(action: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The answer-shaping parameters of `action`, checked; others given are an error."""
    given = {name for name, value in spec.items() if value is not None}
    stray = given - ACTION_PARAMETERS.get(action, frozenset())
    if stray:
        raise ValueError(f"{', '.join(sorted(stray))} does not apply to action {action}")
    length = _check_int(spec.get("length"), "length", low=2 if action == "drip" else 1, high=MAX_LENGTH)
    send = _check_int(spec.get("send"), "send", low=0, high=MAX_LENGTH - 1)
    if send is not None and send >= (length or 1000):
        raise ValueError("send must be less than length (default 1000)")
    location = check_optional_str(spec.get("location"), "location")
    if location is not None and (not location or not location.isprintable()):
        raise ValueError("location must be a non-empty printable string")
    interval = spec.get("interval")
    return {
        "length": length,
        "send": send,
        "interval": None if interval is None else check_number(interval, "interval", low=0, high=MAX_HANG_SECONDS),
        "location": location,
        "headers": _check_raw_headers(spec.get("headers")),
        "body": check_optional_str(spec.get("body"), "body"),
    }


def build_fault(
    fault_id: int,
    *,
    action: str,
    api_key: str | None = None,
    project_key: str | None = None,
    audience: str | None = None,
    method: str | None = None,
    path: str | None = None,
    error: str | None = None,
    status: int | None = None,
    times: int | None = None,
    latency: float = 0.0,
    retry_after: str | None = None,
    **shaping: Any,
) -> Fault:
    """A checked fault; raises TypeError or ValueError naming the bad parameter."""
    if action not in FAULT_ACTIONS:
        raise ValueError(f"action must be one of {sorted(FAULT_ACTIONS)}")
    if set(shaping) - SHAPING:
        raise TypeError(f"unknown parameters: {', '.join(sorted(set(shaping) - SHAPING))}")
    key = check_optional_str(api_key, "api_key")
    project_key = check_optional_str(project_key, "project_key")
    if key is not None and project_key is not None and key != project_key:
        raise ValueError("api_key and project_key are one selector (MEP's API key or CEP's project key)")
    method = check_optional_str(method, "method")
    error = check_optional_str(error, "error")
    if error is not None and error not in ERRORS:
        raise ValueError(f"error must be one of {sorted(ERRORS)}")
    low, high = (300, 399) if action == "redirect" else (200, 599)
    try:
        status = _check_int(status, "status", low=low, high=high)
    except TypeError as exc:
        raise ValueError(f"status must be an integer between {low} and {high}") from exc
    if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
        raise TypeError("times must be an integer or null")
    if times is not None and times < 1:
        raise ValueError("times must be at least 1 (or null for always)")
    if action == "error" and error is None:
        error = (error_for_status(status) if status is not None else None) or "SERVER_ERROR"
    return Fault(
        id=fault_id,
        action=action,
        api_key=key if key is not None else project_key,
        audience=check_optional_str(audience, "audience"),
        method=method.upper() if method else None,
        path=check_optional_str(path, "path") or None,
        error=error,
        status=status,
        times=times,
        remaining=times,
        latency=check_number(latency, "latency", low=0, high=MAX_HANG_SECONDS),
        retry_after=_check_header_value(retry_after, "retry_after"),
        **_check_shaping(action, shaping),
    )


class FaultBook:
    """The registered faults, in insertion order; the first active one that matches a request wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._seq = 0

    def add(self, **spec: Any) -> dict[str, Any]:
        with self._lock:
            fault = build_fault(self._seq + 1, **spec)
            self._seq += 1
            self._faults.append(fault)
            return fault.describe()

    def take(self, key: str | None, audience: str | None, method: str, target: str) -> Fault | None:
        """The first matching fault (a copy), counted as used."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(key, audience, method, target):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    fault.hits += 1
                    return dataclasses.replace(fault)
        return None

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.describe() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
