"""A stdlib-only simulator of Batch's Custom Audience API, served over real HTTP.

Tests start it on port 0 in a thread (``with BatchSimulator() as sim: ...``); the demo mode runs it
with ``python -m audienceadmin.simulator``. State lives in memory, per Batch API key. Faults
(errors, delays, hung or dropped connections, broken bodies) can be injected from Python or over
HTTP through the unauthenticated control plane under ``/_sim/``, which answers loopback peers only.

Every API request (not the control plane) is recorded with the fault applied and the status sent,
so tests can assert on what the server actually received.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hmac
import http
import ipaddress
import json
import re
import secrets
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote

__all__ = [
    "AUDIENCE_TYPES",
    "ERRORS",
    "FAULT_ACTIONS",
    "BatchSimulator",
    "RecordedRequest",
    "main",
]

ERRORS: dict[str, tuple[int, int]] = {
    "AUTHENTICATION_INVALID": (401, 10),
    "API_MISUSE": (403, 12),
    "ROUTE_NOT_FOUND": (404, 20),
    "MISSING_PARAMETER": (400, 30),
    "MALFORMED_PARAMETER": (400, 31),
    "MALFORMED_JSON_BODY": (400, 32),
    "SERVER_ERROR": (500, 1),
    "MAINTENANCE_ERROR": (503, 2),
    "TOO_MANY_REQUESTS": (429, 60),
}

API_VERSIONS = frozenset({"1.0", "1.1"})
AUDIENCE_TYPES = frozenset({"custom_ids", "advertising_ids", "install_ids"})
FAULT_ACTIONS = frozenset(
    {"error", "delay", "timeout", "drop", "malformed", "html", "empty", "huge"},
)
FAULT_DEFAULT_STATUS = {"malformed": 500, "html": 502, "empty": 503, "huge": 500}

NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,255}")
LIST_DEFAULT_LIMIT = 10
LIST_MAX_LIMIT = 100
MAX_IDS_PER_CALL = 10_000
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_HANG_SECONDS = 600.0
HUGE_BODY_BYTES = 5 * 1024 * 1024
CONTROL_PREFIX = "/_sim"
JSON_TYPE = "application/json"
_AUTH_FAILED = "Authentication failed: check the API key and the X-Authorization header."
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    fault: str | None
    status: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": dict(self.headers),
            "body": self.body.decode("utf-8", errors="replace"),
            "received_at": self.received_at,
            "fault": self.fault,
            "status": self.status,
        }


@dataclass
class _Entry:
    """A request-log entry, filled in as the request progresses."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    fault: str | None = None
    status: int | None = None

    def snapshot(self) -> RecordedRequest:
        return RecordedRequest(
            method=self.method,
            path=self.path,
            query=self.query,
            headers=dict(self.headers),
            body=self.body,
            received_at=self.received_at,
            fault=self.fault,
            status=self.status,
        )


@dataclass
class _Audience:
    name: str
    type: str
    description: str
    created: str
    updated: str
    seq: int
    base_ids: int = 0
    ids: set[str] = field(default_factory=set)

    @property
    def nb_ids(self) -> int:
        return self.base_ids + len(self.ids)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "nb_ids": self.nb_ids,
            "created": self.created,
            "updated": self.updated,
        }

    def detail(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "created": self.created,
            "updated": self.updated,
            "nb_ids": self.nb_ids,
            "indexing_state": "APPLIED",
        }


@dataclass
class _App:
    rest_api_key: str
    audiences: dict[str, _Audience] = field(default_factory=dict)


@dataclass
class _Fault:
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

    def matches(self, api_key: str | None, audience: str | None, method: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.api_key is not None and self.api_key != api_key:
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


class _Route(NamedTuple):
    api_key: str | None  # None when the key segment is not valid percent-encoded UTF-8
    is_item: bool
    name: str | None  # None on the list route, or when not valid percent-encoded UTF-8


class _ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _timestamp() -> str:
    return datetime.now(UTC).strftime(TIMESTAMP_FORMAT)


def _error(name: str, message: str) -> tuple[int, dict[str, Any]]:
    status, code = ERRORS[name]
    return status, {"code": code, "error_code": name, "message": message}


def _error_for_status(status: int) -> str | None:
    if status == 400:
        return "MALFORMED_PARAMETER"
    for name, (http_status, _code) in ERRORS.items():
        if http_status == status:
            return name
    return None


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _canonical_header(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _decode_segment(segment: str) -> str | None:
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError:
        return None


def _parse_api_path(raw_path: str) -> _Route | None:
    """Match ``/{v}/{key}/custom-audience[/{name}]``, decoding the key and name segments."""
    parts = raw_path.split("/")
    if len(parts) not in (4, 5) or parts[0] != "" or parts[1] not in API_VERSIONS:
        return None
    if parts[3] != "custom-audience":
        return None
    api_key = _decode_segment(parts[2])
    if len(parts) == 4:
        return _Route(api_key, False, None)
    return _Route(api_key, True, _decode_segment(parts[4]))


def _is_valid_name(name: str | None) -> bool:
    return name is not None and NAME_RE.fullmatch(name) is not None


def _parse_json(body: bytes) -> Any:
    """Decode a JSON body; raise ValueError on anything that is not JSON."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError("the request body is not valid JSON") from exc


def _redact_path(path: str) -> str:
    raw_path = path.partition("?")[0]
    if raw_path.startswith(CONTROL_PREFIX):
        return raw_path
    parts = raw_path.split("/")
    if len(parts) > 2:
        parts[2] = "<key>"
    return "/".join(parts)


def _check_optional_str(value: Any, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{what} must be a string or null")
    return value


def _check_number(value: Any, what: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number")
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low} and {high}")
    return float(value)


class BatchSimulator:
    """Batch's Custom Audience API on a real socket, with in-memory state and fault injection."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        *,
        quiet: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.quiet = quiet
        self._initial_latency = _check_number(latency, "latency", low=0, high=MAX_HANG_SECONDS)
        self._latency = self._initial_latency
        self._lock = threading.Lock()
        self._lifecycle = threading.Lock()
        self._apps: dict[str, _App] = {}
        self._faults: list[_Fault] = []
        self._log: list[_Entry] = []
        self._seq = 0
        self._fault_seq = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._address: tuple[str, int] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> BatchSimulator:
        with self._lifecycle:
            if self._server is not None:
                return self
            server_class = _Server6 if ":" in self.host else _Server
            server = server_class((self.host, self.port), _Handler, self)
            self._address = server.server_address[:2]
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"batch-simulator-{self._address[1]}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; wakes requests hung in a fault and closes open connections."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.stop_event.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=2)

    def __enter__(self) -> BatchSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        if self._address is None:
            raise RuntimeError("the simulator has not been started")
        host, port = self._address
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        checked = _check_number(value, "latency", low=0, high=MAX_HANG_SECONDS)
        with self._lock:
            self._latency = checked

    # -- state -----------------------------------------------------------------------------------

    def add_app(
        self,
        api_key: str,
        rest_api_key: str,
        audiences: Iterable[str | dict[str, Any]] = (),
    ) -> None:
        """Register (or replace) an app; audiences are created in order, so the last is newest."""
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("api_key must be a non-empty string")
        if not isinstance(rest_api_key, str) or not rest_api_key:
            raise ValueError("rest_api_key must be a non-empty string")
        if isinstance(audiences, str | bytes | dict):
            raise TypeError("audiences must be a list of names or dicts")
        specs: list[dict[str, Any]] = []
        for item in audiences:
            if isinstance(item, str):
                specs.append({"name": item})
            elif isinstance(item, dict):
                specs.append(dict(item))
            else:
                raise TypeError("each audience must be a name or a dict")
        app = _App(rest_api_key=rest_api_key)
        with self._lock:
            for spec in specs:
                audience = self._new_audience(**spec)
                app.audiences[audience.name] = audience
            self._apps[api_key] = app

    def add_audience(
        self,
        api_key: str,
        name: str,
        *,
        type: str = "custom_ids",
        description: str = "",
        nb_ids: int = 0,
    ) -> None:
        """Create (or replace, as the newest) an audience of a registered app."""
        with self._lock:
            app = self._apps.get(api_key)
            if app is None:
                raise KeyError("unknown api_key: register it with add_app() first")
            audience = self._new_audience(
                name=name,
                type=type,
                description=description,
                nb_ids=nb_ids,
            )
            app.audiences.pop(name, None)
            app.audiences[name] = audience

    def audience_names(self, api_key: str) -> list[str]:
        """Names of the app's audiences, newest first ([] for an unknown key)."""
        with self._lock:
            app = self._apps.get(api_key)
            if app is None:
                return []
            return [a.name for a in self._newest_first(app)]

    def add_fault(
        self,
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
    ) -> dict[str, Any]:
        if action not in FAULT_ACTIONS:
            raise ValueError(f"action must be one of {sorted(FAULT_ACTIONS)}")
        api_key = _check_optional_str(api_key, "api_key")
        audience = _check_optional_str(audience, "audience")
        method = _check_optional_str(method, "method")
        error = _check_optional_str(error, "error")
        if error is not None and error not in ERRORS:
            raise ValueError(f"error must be one of {sorted(ERRORS)}")
        is_int = isinstance(status, int) and not isinstance(status, bool)
        if status is not None and not (is_int and 200 <= status <= 599):
            raise ValueError("status must be an integer between 200 and 599")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
            raise TypeError("times must be an integer or null")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or null for always)")
        latency = _check_number(latency, "latency", low=0, high=MAX_HANG_SECONDS)
        if isinstance(retry_after, int) and not isinstance(retry_after, bool):
            retry_after = str(retry_after)
        retry_after = _check_optional_str(retry_after, "retry_after")
        if retry_after is not None and (
            not retry_after.isprintable() or not retry_after.strip() or not retry_after.isascii()
        ):
            raise ValueError("retry_after must be a printable ASCII header value")
        if action == "error" and error is None:
            error = _error_for_status(status) if status is not None else None
            error = error or "SERVER_ERROR"
        with self._lock:
            self._fault_seq += 1
            fault = _Fault(
                id=self._fault_seq,
                action=action,
                api_key=api_key,
                audience=audience,
                method=method.upper() if method else None,
                error=error,
                status=status,
                times=times,
                remaining=times,
                latency=latency,
                retry_after=retry_after,
            )
            self._faults.append(fault)
            return fault.describe()

    def faults(self) -> list[dict[str, Any]]:
        """Every registered fault (spent ones too) with its remaining count and hits."""
        with self._lock:
            return [f.describe() for f in self._faults]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [entry.snapshot() for entry in self._log]

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def reset(self) -> None:
        """Forget apps, audiences, faults and the request log; restore the constructor latency."""
        with self._lock:
            self._apps.clear()
            self._faults.clear()
            self._log.clear()
            self._latency = self._initial_latency

    # -- internals (called with or without the lock, as noted) -----------------------------------

    def _new_audience(
        self,
        name: Any,
        type: Any = "custom_ids",
        description: Any = "",
        nb_ids: Any = 0,
        created: Any = None,
        updated: Any = None,
    ) -> _Audience:
        """Build an audience (lock held)."""
        if not isinstance(name, str) or not _is_valid_name(name):
            raise ValueError("audience names are 1-255 characters among A-Z a-z 0-9 _ -")
        if not isinstance(type, str) or not type:
            raise ValueError("audience type must be a non-empty string")
        if not isinstance(description, str):
            raise ValueError("audience description must be a string")
        if isinstance(nb_ids, bool) or not isinstance(nb_ids, int) or nb_ids < 0:
            raise ValueError("nb_ids must be a non-negative integer")
        for stamp in (created, updated):
            if stamp is not None and not isinstance(stamp, str):
                raise ValueError("created/updated must be strings like 2018-06-29T14:59:03")
        now = _timestamp()
        self._seq += 1
        return _Audience(
            name=name,
            type=type,
            description=description,
            created=created or now,
            updated=updated or created or now,
            seq=self._seq,
            base_ids=nb_ids,
        )

    @staticmethod
    def _newest_first(app: _App) -> list[_Audience]:
        return sorted(app.audiences.values(), key=lambda a: a.seq, reverse=True)

    def _record(self, entry: _Entry) -> None:
        with self._lock:
            self._log.append(entry)

    def _set_outcome(self, entry: _Entry, *, fault: str | None = None, status: int | None) -> None:
        with self._lock:
            if fault is not None:
                entry.fault = fault
            entry.status = status

    def _take_fault(self, api_key: str | None, audience: str | None, method: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(api_key, audience, method):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    fault.hits += 1
                    return dataclasses.replace(fault)
        return None

    def _secrets(self) -> list[str]:
        with self._lock:
            keys = [k for k in self._apps if len(k) >= 4]
            keys += [a.rest_api_key for a in self._apps.values() if len(a.rest_api_key) >= 4]
        return keys

    def _api(
        self,
        method: str,
        raw_path: str,
        query: str,
        auth: list[str],
        body: bytes,
    ) -> tuple[int, dict[str, Any]]:
        route = _parse_api_path(raw_path)
        if route is None:
            return _error("ROUTE_NOT_FOUND", "No route matches this request.")
        allowed = ("GET", "DELETE", "POST", "PATCH", "PUT") if route.is_item else ("GET",)
        if method not in allowed:
            return _error("ROUTE_NOT_FOUND", "No route matches this method and path.")
        with self._lock:
            app = self._apps.get(route.api_key) if route.api_key is not None else None
            if app is None or len(auth) != 1 or not auth[0]:
                return _error("AUTHENTICATION_INVALID", _AUTH_FAILED)
            if not hmac.compare_digest(auth[0].encode(), app.rest_api_key.encode()):
                return _error("AUTHENTICATION_INVALID", _AUTH_FAILED)
            if not route.is_item:
                return self._list(app, query)
        name = route.name
        if name is None or not _is_valid_name(name):
            return _error(
                "MALFORMED_PARAMETER",
                "Invalid custom audience name: use 1 to 255 characters among A-Z a-z 0-9 _ -.",
            )
        payload: Any = None
        if method in ("POST", "PATCH", "PUT"):
            try:
                payload = _parse_json(body)
            except ValueError:
                return _error("MALFORMED_JSON_BODY", "The request body is not valid JSON.")
            if not isinstance(payload, dict):
                return _error("MALFORMED_JSON_BODY", "The request body must be a JSON object.")
        with self._lock:
            app = self._apps.get(route.api_key or "")
            if app is None:  # removed by a concurrent reset
                return _error("AUTHENTICATION_INVALID", _AUTH_FAILED)
            if method == "POST":
                return self._create(app, name, payload)
            audience = app.audiences.get(name)
            if audience is None:
                return _error("ROUTE_NOT_FOUND", f"Custom audience {name} not found.")
            if method == "GET":
                return 200, audience.detail()
            if method == "DELETE":
                del app.audiences[name]
                return 200, {}
            return self._update(audience, payload, replace=method == "PUT")

    def _list(self, app: _App, query: str) -> tuple[int, dict[str, Any]]:
        """List audiences (lock held)."""
        params = parse_qs(query, keep_blank_values=True)
        from_s = params.get("from", ["0"])[0]
        limit_s = params.get("limit", [str(LIST_DEFAULT_LIMIT)])[0]
        if not re.fullmatch(r"[0-9]{1,9}", from_s):
            return _error("MALFORMED_PARAMETER", "'from' must be a non-negative integer.")
        if not re.fullmatch(r"[0-9]{1,4}", limit_s) or not (1 <= int(limit_s) <= LIST_MAX_LIMIT):
            message = f"'limit' must be an integer from 1 to {LIST_MAX_LIMIT}."
            return _error("MALFORMED_PARAMETER", message)
        start, limit = int(from_s), int(limit_s)
        page = self._newest_first(app)[start : start + limit]
        return 200, {"custom_audiences": [a.summary() for a in page]}

    def _create(self, app: _App, name: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Create an audience (lock held)."""
        if name in app.audiences:
            return _error("MALFORMED_PARAMETER", f"Custom audience {name} already exists.")
        if "type" not in payload:
            return _error("MISSING_PARAMETER", "Missing parameter: type.")
        kind, description = payload["type"], payload.get("description", "")
        if kind not in AUDIENCE_TYPES:
            message = f"'type' must be one of {', '.join(sorted(AUDIENCE_TYPES))}."
            return _error("MALFORMED_PARAMETER", message)
        if not isinstance(description, str):
            return _error("MALFORMED_PARAMETER", "'description' must be a string.")
        app.audiences[name] = self._new_audience(name=name, type=kind, description=description)
        return 200, {}

    def _update(
        self,
        audience: _Audience,
        payload: dict[str, Any],
        *,
        replace: bool,
    ) -> tuple[int, dict[str, Any]]:
        """Apply a PATCH (add/remove ids) or a PUT (replace ids) (lock held)."""
        if "ids" not in payload:
            return _error("MISSING_PARAMETER", "Missing parameter: ids.")
        items = payload["ids"]
        if not isinstance(items, list):
            return _error("MALFORMED_PARAMETER", "'ids' must be a list.")
        if len(items) > MAX_IDS_PER_CALL:
            message = f"At most {MAX_IDS_PER_CALL} ids can be sent per call."
            return _error("MALFORMED_PARAMETER", message)
        changes: list[tuple[str, str]] = []
        for item in items:
            if not isinstance(item, dict):
                return _error("MALFORMED_PARAMETER", "Each entry of 'ids' must be an object.")
            raw_id = item.get("id")
            if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or raw_id == "":
                return _error("MALFORMED_PARAMETER", "Each entry needs a non-empty 'id'.")
            action = "add" if replace else item.get("action")
            if action not in ("add", "remove"):
                return _error("MALFORMED_PARAMETER", "'action' must be 'add' or 'remove'.")
            changes.append((action, str(raw_id)))
        if replace:
            audience.base_ids = 0
            audience.ids = set()
        for action, member in changes:
            if action == "add":
                audience.ids.add(member)
            else:
                audience.ids.discard(member)
        audience.updated = _timestamp()
        return 200, {"indexing_token": secrets.token_hex(16)}

    def _control(
        self,
        method: str,
        raw_path: str,
        query: str,
        body: bytes,
    ) -> tuple[int, dict[str, Any]]:
        try:
            return self._control_route(method, raw_path, query, body)
        except _ControlError as exc:
            return exc.status, {"message": exc.message}
        except (KeyError, TypeError, ValueError) as exc:
            return 400, {"message": str(exc.args[0]) if exc.args else type(exc).__name__}

    def _control_route(
        self,
        method: str,
        raw_path: str,
        query: str,
        body: bytes,
    ) -> tuple[int, dict[str, Any]]:
        route = raw_path[len(CONTROL_PREFIX) :].rstrip("/")
        if (method, route) == ("GET", "/health"):
            return 200, {"status": "ok"}
        if (method, route) == ("POST", "/apps"):
            data = _control_json(body, required=("api_key", "rest_api_key"))
            extra = set(data) - {"api_key", "rest_api_key", "audiences"}
            if extra:
                raise _ControlError(400, f"unknown fields: {', '.join(sorted(extra))}")
            audiences = data.get("audiences", [])
            if not isinstance(audiences, list):
                raise _ControlError(400, "audiences must be a list")
            self.add_app(data["api_key"], data["rest_api_key"], audiences)
            return 200, {"audiences": self.audience_names(data["api_key"])}
        if (method, route) == ("POST", "/audiences"):
            data = _control_json(body, required=("api_key", "name"))
            api_key = data.pop("api_key")
            extra = set(data) - {"name", "type", "description", "nb_ids"}
            if extra:
                raise _ControlError(400, f"unknown fields: {', '.join(sorted(extra))}")
            if not isinstance(api_key, str):
                raise _ControlError(400, "api_key must be a string")
            self.add_audience(api_key, **data)
            return 200, {"audiences": self.audience_names(api_key)}
        if (method, route) == ("GET", "/audiences"):
            api_key = parse_qs(query).get("api_key", [""])[0]
            return 200, {"audiences": self.audience_names(api_key)}
        if (method, route) == ("GET", "/faults"):
            return 200, {"faults": self.faults()}
        if (method, route) == ("POST", "/faults"):
            data = _control_json(body, required=("action",))
            extra = set(data) - _FAULT_FIELDS
            if extra:
                raise _ControlError(400, f"unknown fields: {', '.join(sorted(extra))}")
            return 200, self.add_fault(**data)
        if (method, route) == ("DELETE", "/faults"):
            self.clear_faults()
            return 200, {}
        if (method, route) == ("GET", "/requests"):
            return 200, {"requests": [r.as_json() for r in self.requests]}
        if (method, route) == ("DELETE", "/requests"):
            self.clear_requests()
            return 200, {}
        if (method, route) == ("POST", "/reset"):
            self.reset()
            return 200, {}
        if (method, route) == ("GET", "/latency"):
            return 200, {"latency": self.latency}
        if (method, route) == ("POST", "/latency"):
            data = _control_json(body, required=("latency",))
            self.latency = data["latency"]
            return 200, {"latency": self.latency}
        raise _ControlError(404, "unknown control route")


_FAULT_FIELDS = frozenset(
    {
        "action",
        "api_key",
        "audience",
        "method",
        "error",
        "status",
        "times",
        "latency",
        "retry_after",
    }
)


def _control_json(body: bytes, *, required: tuple[str, ...]) -> dict[str, Any]:
    try:
        data = _parse_json(body)
    except ValueError as exc:
        raise _ControlError(400, "the body must be a JSON object") from exc
    if not isinstance(data, dict):
        raise _ControlError(400, "the body must be a JSON object")
    missing = [key for key in required if key not in data]
    if missing:
        raise _ControlError(400, f"missing fields: {', '.join(missing)}")
    return data


class _BadFraming(Exception):
    """The request body could not be delimited; the connection must be closed."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        sim: BatchSimulator,
    ) -> None:
        self.simulator = sim
        self.stop_event = threading.Event()
        self._connections: set[socket.socket] = set()
        self._aborted: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the FQDN, which can stall on hosts without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        request, address = super().get_request()
        with self._conn_lock:
            self._connections.add(request)
        return request, address

    def abort_connection(self, request: socket.socket) -> None:
        """Make the coming close send a TCP reset instead of an orderly shutdown."""
        with contextlib.suppress(OSError):
            request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self._conn_lock:
            self._aborted.add(request)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
            aborted = request in self._aborted
            self._aborted.discard(request)
        if aborted:
            self.close_request(request)
        else:
            super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or self.simulator.quiet:
            return
        sys.stderr.write(f"batch simulator: error handling a request: {type(exc).__name__}\n")


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "BatchSimulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    # -- plumbing ----------------------------------------------------------------------------

    def handle_one_request(self) -> None:
        self._response_started = False
        self.command, self.path = "", ""
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(http.HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._dispatch()
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        except Exception:  # noqa: BLE001 - a bug in the simulator answers 500, as a real server would
            self.close_connection = True
            if not self._response_started:
                with contextlib.suppress(OSError):  # the client may be gone
                    status, payload = _error("SERVER_ERROR", "Internal simulator error.")
                    self._send(status, _dumps(payload), JSON_TYPE)
            if not self.server.simulator.quiet:
                sys.stderr.write("batch simulator: unexpected error while handling a request\n")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Never echo the request line: it may carry an API key.
        self.close_connection = True
        name = _error_for_status(int(code))
        try:
            reason = http.HTTPStatus(code).phrase
        except ValueError:
            reason = "Error"
        payload = {
            "code": ERRORS[name][1] if name else 0,
            "error_code": name or "BAD_REQUEST",
            "message": f"{reason}.",
        }
        self._send(int(code), _dumps(payload), JSON_TYPE)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        self._response_started = True
        if self.request_version == "HTTP/0.9":
            # Unparseable or HTTP/0.9 request lines still get a status line and headers.
            self.request_version = "HTTP/1.0"
            self.close_connection = True
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers:
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(
        self,
        status: int,
        payload: Any,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        self._send(status, _dumps(payload), JSON_TYPE, headers)

    def _read_body(self) -> bytes:
        encodings = [v.strip().lower() for v in self.headers.get_all("Transfer-Encoding", [])]
        if encodings:
            if encodings != ["chunked"]:
                raise _BadFraming("unsupported Transfer-Encoding")
            return self._read_chunked()
        lengths = {v.strip() for v in self.headers.get_all("Content-Length", [])}
        if not lengths:
            return b""
        if len(lengths) != 1:
            raise _BadFraming("conflicting Content-Length headers")
        (length_s,) = lengths
        if not re.fullmatch(r"[0-9]{1,12}", length_s):
            raise _BadFraming("invalid Content-Length")
        length = int(length_s)
        if length > MAX_BODY_BYTES:
            raise _BadFraming("request body too large")
        body = self.rfile.read(length)
        if len(body) != length:
            raise _BadFraming("truncated request body")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1026)
            size_s = line.split(b";", 1)[0].strip()
            if not re.fullmatch(rb"[0-9A-Fa-f]{1,8}", size_s):
                raise _BadFraming("invalid chunk size")
            size = int(size_s, 16)
            if size == 0:
                break
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadFraming("request body too large")
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise _BadFraming("truncated chunk")
            chunks.append(chunk)
        for _ in range(100):  # trailers, up to the empty line
            trailer = self.rfile.readline(65537)
            if trailer in (b"\r\n", b"\n", b""):
                break
        return b"".join(chunks)

    def _wait(self, seconds: float) -> bool:
        """Sleep without holding any lock; True if the simulator is stopping."""
        if seconds <= 0:
            return self.server.stop_event.is_set()
        return self.server.stop_event.wait(seconds)

    def _is_loopback_peer(self) -> bool:
        try:
            return ipaddress.ip_address(str(self.client_address[0])).is_loopback
        except (ValueError, IndexError, TypeError):
            return False

    # -- dispatch ------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        sim = self.server.simulator
        received_at = time.monotonic()
        words = self.requestline.split()
        # http.server collapses a leading "//" in self.path; keep the target exactly as sent.
        target = words[1] if len(words) == 3 else self.path
        raw_path, _, query = target.partition("?")
        is_control = (
            raw_path == CONTROL_PREFIX or raw_path.startswith(CONTROL_PREFIX + "/")
        ) and self._is_loopback_peer()
        try:
            body = self._read_body()
        except _BadFraming as exc:
            self.close_connection = True
            if is_control:
                self._send_json(400, {"message": str(exc)})
                return
            entry = self._new_entry(raw_path, query, b"", received_at)
            sim._record(entry)
            status, payload = _error("MALFORMED_PARAMETER", f"Bad request: {exc}.")
            sim._set_outcome(entry, status=status)
            self._send_json(status, payload)
            return
        if is_control:
            status, payload = sim._control(self.command, raw_path, query, body)
            self._send_json(status, payload)
            return
        entry = self._new_entry(raw_path, query, body, received_at)
        sim._record(entry)
        self._api_request(entry, raw_path, query, body)

    def _new_entry(self, raw_path: str, query: str, body: bytes, received_at: float) -> _Entry:
        headers = {_canonical_header(k): v for k, v in self.headers.items()}
        return _Entry(
            method=self.command,
            path=raw_path,
            query=query,
            headers=headers,
            body=body,
            received_at=received_at,
        )

    def _api_request(self, entry: _Entry, raw_path: str, query: str, body: bytes) -> None:
        sim = self.server.simulator
        if self._wait(sim.latency):
            self._abandon(entry)
            return
        route = _parse_api_path(raw_path)
        api_key = route.api_key if route else None
        audience = route.name if route and route.is_item else None
        fault = sim._take_fault(api_key, audience, self.command)
        if fault is not None:
            sim._set_outcome(entry, fault=fault.action, status=None)
            if self._wait(fault.latency):
                self._abandon(entry)
                return
            if fault.action != "delay":
                self._apply_fault(entry, fault)
                return
        auth = self.headers.get_all("X-Authorization", [])
        status, payload = sim._api(self.command, raw_path, query, auth, body)
        sim._set_outcome(entry, status=status)
        self._send_json(status, payload)

    def _abandon(self, entry: _Entry) -> None:
        self.server.simulator._set_outcome(entry, status=None)
        self.close_connection = True

    def _apply_fault(self, entry: _Entry, fault: _Fault) -> None:
        sim = self.server.simulator
        action = fault.action
        if action == "timeout":
            self._wait(MAX_HANG_SECONDS)
            self.close_connection = True
            return
        if action == "drop":
            self.close_connection = True
            self.server.abort_connection(self.connection)
            return
        error = fault.error or "SERVER_ERROR"
        if fault.status is not None:
            status = fault.status
        elif action == "error" or (action == "huge" and fault.error):
            status = ERRORS[error][0]
        else:
            status = FAULT_DEFAULT_STATUS.get(action, 500)
        headers = [("Retry-After", fault.retry_after)] if fault.retry_after else []
        sim._set_outcome(entry, status=status)
        if action == "error":
            _status, payload = _error(error, _FAULT_MESSAGES.get(error, "Simulated error."))
            self._send_json(status, payload, headers)
        elif action == "malformed":
            self._send(status, b'{"code": 1, "mess', JSON_TYPE, headers)
        elif action == "html":
            self._send(status, _html_page(status), "text/html; charset=utf-8", headers)
        elif action == "empty":
            self._send(status, b"", None, headers)
        else:  # huge
            self._send(status, _huge_body(error), JSON_TYPE, headers)

    # -- logging (never print API keys) ------------------------------------------------------

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.simulator.quiet:
            return
        command = getattr(self, "command", None) or "-"
        path = _redact_path(getattr(self, "path", "") or "")
        code_s = str(int(code)) if isinstance(code, int) else str(code)
        self._write_log(f"{command} {path} {code_s}")

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.server.simulator.quiet:
            return
        try:
            message = fmt % args
        except (TypeError, ValueError):
            message = fmt
        self._write_log(re.sub(r"/[0-9]+\.[0-9]+/[^/\s?'\"]+", "/<version>/<key>", message))

    def _write_log(self, message: str) -> None:
        """Write one line to stderr, without known keys (even percent-encoded) or control bytes."""
        secrets_ = self.server.simulator._secrets()
        for secret in secrets_:
            message = message.replace(secret, "<key>")
        decoded = unquote(message)
        if any(secret in decoded for secret in secrets_):
            message = "<request line withheld: it contains a key>"
        message = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in message)
        sys.stderr.write(f"{self.address_string()} {message}\n")


_FAULT_MESSAGES = {
    "AUTHENTICATION_INVALID": _AUTH_FAILED,
    "API_MISUSE": "This API key cannot be used for this call.",
    "ROUTE_NOT_FOUND": "No route matches this request.",
    "MISSING_PARAMETER": "A required parameter is missing.",
    "MALFORMED_PARAMETER": "A parameter is malformed.",
    "MALFORMED_JSON_BODY": "The request body is not valid JSON.",
    "SERVER_ERROR": "An internal server error occurred.",
    "MAINTENANCE_ERROR": "The service is under maintenance, please retry later.",
    "TOO_MANY_REQUESTS": "Too many requests: wait at least 5 seconds before trying again.",
}


def _html_page(status: int) -> bytes:
    try:
        title = f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        title = f"{status} Error"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def _huge_body(error: str) -> bytes:
    payload = {
        "code": ERRORS[error][1],
        "error_code": error,
        "message": _FAULT_MESSAGES.get(error, "Simulated error."),
        "padding": "",
    }
    base = len(_dumps(payload))
    payload["padding"] = "x" * max(0, HUGE_BODY_BYTES - base)
    return _dumps(payload)


# -- command line ---------------------------------------------------------------------------------


def _split_pair(value: str, what: str, *, from_right: bool = False) -> tuple[str, str]:
    left, sep, right = value.rpartition(":") if from_right else value.partition(":")
    if not sep or not left or not right:
        raise argparse.ArgumentTypeError(f"{what} must look like A:B")
    return left, right


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m audienceadmin.simulator",
        description="Serve a simulated Batch Custom Audience API (in memory, for demos and tests).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port (default 8001; 0 = any)")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="delay every API answer",
    )
    parser.add_argument(
        "--app",
        action="append",
        default=[],
        metavar="API_KEY:REST_KEY",
        type=lambda v: _split_pair(v, "--app"),
        help="register an app (repeatable)",
    )
    parser.add_argument(
        "--audience",
        action="append",
        default=[],
        metavar="API_KEY:NAME",
        type=lambda v: _split_pair(v, "--audience", from_right=True),
        help="create an audience in a registered app (repeatable)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help='inject a fault, e.g. \'{"action": "error", "error": "SERVER_ERROR", "times": 1}\'',
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    return parser


def _configure(
    parser: argparse.ArgumentParser,
    sim: BatchSimulator,
    args: argparse.Namespace,
) -> None:
    try:
        for api_key, rest_key in args.app:
            sim.add_app(api_key, rest_key)
        for api_key, name in args.audience:
            sim.add_audience(api_key, name)
        for raw in args.fault:
            spec = json.loads(raw)
            if not isinstance(spec, dict) or not set(spec) <= _FAULT_FIELDS:
                parser.error(f"--fault takes a JSON object with keys among {sorted(_FAULT_FIELDS)}")
            sim.add_fault(**spec)
    except (KeyError, TypeError, ValueError) as exc:
        parser.error(str(exc.args[0]) if exc.args else "invalid configuration")


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.latency <= MAX_HANG_SECONDS or not 0 <= args.port <= 65535:
        parser.error(f"--latency must be 0-{MAX_HANG_SECONDS:g} and --port within 0-65535")
    sim = BatchSimulator(args.host, args.port, args.latency, quiet=args.quiet)
    _configure(parser, sim, args)
    stop = threading.Event()
    with _stop_on_signals(stop):
        try:
            sim.start()
        except OSError as exc:
            sys.stderr.write(f"batch simulator: cannot listen on {args.host}:{args.port}: {exc}\n")
            return 1
        print(f"Batch simulator listening on {sim.url}", flush=True)
        try:
            while not stop.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
