"""The fault model: which faults exist, what parameters they take, and which request a fault matches.

How each fault answers on the socket is in replies.py.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any

from .protocol import ERRORS, MAX_HANG_SECONDS, check_number, check_optional_str, error_for_status

FAULT_ACTIONS = frozenset(
    {"error", "delay", "timeout", "drop", "malformed", "html", "empty", "huge"},
)
FAULT_FIELDS = frozenset(
    {"action", "api_key", "audience", "method", "error", "status", "times", "latency", "retry_after"},
)


@dataclass
class Fault:
    id: int
    action: str
    api_key: str | None
    audience: str | None
    method: str | None
    error: str | None
    status: int | None
    times: int | None
    remaining: int | None
    latency: float
    retry_after: str | None
    hits: int = 0

    def matches(self, key: str | None, audience: str | None, method: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.api_key is not None and self.api_key != key:
            return False
        if self.audience is not None and self.audience != audience:
            return False
        return self.method is None or self.method == method.upper()

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "api_key": self.api_key,
            "audience": self.audience,
            "method": self.method,
            "error": self.error,
            "status": self.status,
            "times": self.times,
            "remaining": self.remaining,
            "hits": self.hits,
            "latency": self.latency,
            "retry_after": self.retry_after,
        }


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
    value = check_optional_str(value, what)
    if value is not None and (not value.isprintable() or not value.strip() or not value.isascii()):
        raise ValueError(f"{what} must be a printable ASCII header value")
    return value


def build_fault(
    fault_id: int,
    *,
    action: str,
    api_key: str | None = None,
    audience: str | None = None,
    method: str | None = None,
    error: str | None = None,
    status: int | None = None,
    times: int | None = None,
    latency: float = 0.0,
    retry_after: str | None = None,
) -> Fault:
    """A checked fault; raises TypeError or ValueError naming the bad parameter."""
    if action not in FAULT_ACTIONS:
        raise ValueError(f"action must be one of {sorted(FAULT_ACTIONS)}")
    api_key = check_optional_str(api_key, "api_key")
    audience = check_optional_str(audience, "audience")
    method = check_optional_str(method, "method")
    error = check_optional_str(error, "error")
    if error is not None and error not in ERRORS:
        raise ValueError(f"error must be one of {sorted(ERRORS)}")
    try:
        status = _check_int(status, "status", low=200, high=599)
    except TypeError as exc:
        raise ValueError("status must be an integer between 200 and 599") from exc
    if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
        raise TypeError("times must be an integer or null")
    if times is not None and times < 1:
        raise ValueError("times must be at least 1 (or null for always)")
    if action == "error" and error is None:
        error = (error_for_status(status) if status is not None else None) or "SERVER_ERROR"
    return Fault(
        id=fault_id,
        action=action,
        api_key=api_key,
        audience=audience,
        method=method.upper() if method else None,
        error=error,
        status=status,
        times=times,
        remaining=times,
        latency=check_number(latency, "latency", low=0, high=MAX_HANG_SECONDS),
        retry_after=_check_header_value(retry_after, "retry_after"),
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

    def take(self, key: str | None, audience: str | None, method: str) -> Fault | None:
        """The first matching fault (a copy), counted as used."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(key, audience, method):
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
