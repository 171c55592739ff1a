"""What the simulator holds in memory: apps and their audiences, the settings, and the recorded requests.

Every read and write goes through ``State.lock``; the routes in mep.py take it for the length of a call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .protocol import MAX_HANG_SECONDS, NAME_RULE, check_number, is_valid_name, mep_timestamp


@dataclass(frozen=True)
class RecordedRequest:
    """An API request as the server received it, with the fault applied and the status sent (None: none)."""

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
class Entry:
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
class MepAudience:
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


MEP_VERSIONS = ("1.0", "1.1")
# What each version holds, per Batch's docs; the first is what an audience gets when no type is given.
MEP_TYPES = {"1.0": ("custom_ids", "advertising_ids"), "1.1": ("install_ids",)}


@dataclass
class App:
    """A MEP app (one API key): 1.0 and 1.1 keep separate audiences, so one name may exist in both."""

    rest_api_key: str
    versions: dict[str, dict[str, MepAudience]] = field(default_factory=lambda: {v: {} for v in MEP_VERSIONS})

    def newest_first(self, version: str) -> list[MepAudience]:
        return sorted(self.versions[version].values(), key=lambda a: a.seq, reverse=True)


def audience_specs(audiences: Iterable[str | dict[str, Any]]) -> list[dict[str, Any]]:
    """Audience names or dicts of fields, as a list of dicts (a lone string or dict is refused)."""
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
    return specs


def check_version(version: Any) -> str:
    if version not in MEP_VERSIONS:
        raise ValueError(f"version must be one of {', '.join(MEP_VERSIONS)}")
    return version


def check_key(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return value


def check_audience_fields(name: Any, type: Any, nb_ids: Any, stamps: Iterable[Any]) -> None:
    if not is_valid_name(name):
        raise ValueError(f"audience names: {NAME_RULE}")
    if not isinstance(type, str) or not type:
        raise ValueError("audience type must be a non-empty string")
    if isinstance(nb_ids, bool) or not isinstance(nb_ids, int) or nb_ids < 0:
        raise ValueError("nb_ids must be a non-negative integer")
    if any(stamp is not None and not isinstance(stamp, str) for stamp in stamps):
        raise ValueError("created/updated must be strings")


class State:
    """Apps, settings and the request log, behind one lock."""

    def __init__(self, latency: float) -> None:
        self.lock = threading.Lock()
        self.apps: dict[str, App] = {}
        self.log: list[Entry] = []
        self.seq = 0
        self._initial_latency = check_number(latency, "latency", low=0, high=MAX_HANG_SECONDS)
        self.latency = self._initial_latency

    def next_seq(self) -> int:
        """A creation order shared by every audience (lock held)."""
        self.seq += 1
        return self.seq

    # -- MEP apps ---------------------------------------------------------------------------------

    def add_app(self, api_key: str, rest_api_key: str, audiences: Iterable[str | dict[str, Any]], version: str) -> None:
        check_key(api_key, "api_key")
        check_key(rest_api_key, "rest_api_key")
        specs = [{"version": version, **spec} for spec in audience_specs(audiences)]
        app = App(rest_api_key=rest_api_key)
        with self.lock:
            for spec in specs:
                audience = self.new_mep_audience(**spec)
                app.versions[spec["version"]][audience.name] = audience
            self.apps[api_key] = app

    def add_audience(self, api_key: str, name: str, **fields: Any) -> None:
        with self.lock:
            app = self.apps.get(api_key)
            if app is None:
                raise KeyError("unknown api_key: register it with add_app() first")
            audience = self.new_mep_audience(name=name, **fields)
            audiences = app.versions[fields["version"]]
            audiences.pop(name, None)
            audiences[name] = audience

    def audience_names(self, api_key: str, version: str) -> list[str]:
        check_version(version)
        with self.lock:
            app = self.apps.get(api_key)
            return [] if app is None else [a.name for a in app.newest_first(version)]

    def new_mep_audience(
        self,
        name: Any,
        version: Any,
        type: Any = None,
        description: Any = "",
        nb_ids: Any = 0,
        created: Any = None,
        updated: Any = None,
    ) -> MepAudience:
        """Build an audience of `version` (lock held); any type is accepted, the version's first by default."""
        type = MEP_TYPES[check_version(version)][0] if type is None else type
        check_audience_fields(name, type, nb_ids, (created, updated))
        if not isinstance(description, str):
            raise ValueError("audience description must be a string")
        now = mep_timestamp()
        return MepAudience(
            name=name,
            type=type,
            description=description,
            created=created or now,
            updated=updated or created or now,
            seq=self.next_seq(),
            base_ids=nb_ids,
        )

    # -- the request log --------------------------------------------------------------------------

    def record(self, entry: Entry) -> None:
        with self.lock:
            self.log.append(entry)

    def set_outcome(self, entry: Entry, *, fault: str | None = None, status: int | None) -> None:
        with self.lock:
            if fault is not None:
                entry.fault = fault
            entry.status = status

    def requests(self) -> list[RecordedRequest]:
        with self.lock:
            return [entry.snapshot() for entry in self.log]

    def clear_requests(self) -> None:
        with self.lock:
            self.log.clear()

    def secrets(self) -> list[str]:
        """Every key the simulator knows (4 characters or more), for scrubbing log lines."""
        with self.lock:
            keys = [k for k in self.apps if len(k) >= 4]
            keys += [a.rest_api_key for a in self.apps.values() if len(a.rest_api_key) >= 4]
        return keys

    def reset(self) -> None:
        with self.lock:
            self.apps.clear()
            self.log.clear()
            self.latency = self._initial_latency
