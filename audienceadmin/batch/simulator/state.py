"""What the simulator holds in memory: MEP apps, CEP projects, their audiences, the settings, the request log.

Every read and write goes through ``State.lock``; the routes in mep.py and cep.py take it for a call.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .protocol import MAX_HANG_SECONDS, NAME_RULE, cep_timestamp, check_number, is_valid_name, mep_timestamp
from .records import Entry, RecordedRequest


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


# What view answers, given a remove's indexing token, once the removal is applied (Batch's docs do not say).
REMOVED_VIEWS = ("404", "APPLIED")
MAX_RATE_LIMIT = 10_000.0
MAX_OPERATIONS = 10_000  # indexing tokens kept per project, newest


@dataclass
class Operation:
    """A create or a remove, which CEP indexes asynchronously; view takes its token."""

    token: str
    kind: str  # "create" or "remove"
    audience: CepAudience
    applies_at: float  # time.monotonic() when indexing is done

    def state(self, now: float) -> str:
        return "APPLIED" if now >= self.applies_at else "IN_PROGRESS"


@dataclass
class CepAudience:
    name: str
    display_name: str
    type: str
    nb_ids: int
    created: str
    updated: str
    seq: int
    last_op: Operation | None = None  # without a token, view shows the state of the last operation

    def body(self, indexing_state: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "type": self.type,
            "nb_ids": self.nb_ids,
            "indexing_state": indexing_state,
            "created": self.created,
            "updated": self.updated,
        }

    def current_state(self, now: float) -> str:
        return self.last_op.state(now) if self.last_op else "APPLIED"


@dataclass
class Project:
    """A CEP project (one project key). A removed audience stays, IN_PROGRESS, until its removal applies."""

    rest_api_key: str
    indexing_delay: float | None  # None: the simulator's
    removed_view: str | None  # None: the simulator's
    rate_limit: float | None  # requests per second; None: no limit
    audiences: dict[str, CepAudience] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    removals: dict[str, Operation] = field(default_factory=dict)  # pending, by audience name
    allowance: float = 0.0  # the rate limit's token bucket
    allowance_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.allowance = max(1.0, self.rate_limit or 0.0)

    def newest_first(self) -> list[CepAudience]:
        return sorted(self.audiences.values(), key=lambda a: a.seq, reverse=True)

    def settle(self, now: float) -> None:
        """Drop the audiences whose removal is applied."""
        for name, op in list(self.removals.items()):
            if op.state(now) == "APPLIED":
                del self.removals[name]
                if self.audiences.get(name) is op.audience:
                    del self.audiences[name]

    def operate(self, kind: str, audience: CepAudience, now: float, delay: float) -> Operation:
        op = Operation(secrets.token_hex(16), kind, audience, now + delay)
        audience.last_op = op
        self.operations[op.token] = op
        if len(self.operations) > MAX_OPERATIONS:
            del self.operations[next(iter(self.operations))]
        if kind == "remove":
            self.removals[audience.name] = op
        return op

    def take_request(self, now: float) -> int | None:
        """Count a request against the rate limit: None if allowed, else the seconds to wait."""
        rate = self.rate_limit
        if rate is None:
            return None
        self.allowance = min(max(1.0, rate), self.allowance + (now - self.allowance_at) * rate)
        self.allowance_at = now
        if self.allowance >= 1:
            self.allowance -= 1
            return None
        return max(1, math.ceil((1 - self.allowance) / rate))


def check_removed_view(value: Any) -> str:
    if not isinstance(value, str) or value not in REMOVED_VIEWS:
        raise ValueError(f"removed_view must be one of {', '.join(REMOVED_VIEWS)}")
    return value


def check_rate_limit(value: Any) -> float:
    return check_number(value, "rate_limit", low=0.001, high=MAX_RATE_LIMIT)


def check_delay(value: Any, what: str = "indexing_delay") -> float:
    return check_number(value, what, low=0, high=MAX_HANG_SECONDS)


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
    if not isinstance(version, str) or version not in MEP_VERSIONS:
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

    def __init__(self, latency: float, indexing_delay: float, removed_view: str) -> None:
        self.lock = threading.Lock()
        self.apps: dict[str, App] = {}
        self.projects: dict[str, Project] = {}
        self.log: list[Entry] = []
        self.seq = 0
        self._initial = (
            check_delay(latency, "latency"),
            check_delay(indexing_delay),
            check_removed_view(removed_view),
        )
        self.latency, self.indexing_delay, self.removed_view = self._initial

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

    # -- CEP projects -----------------------------------------------------------------------------

    def add_project(
        self,
        project_key: str,
        rest_api_key: str,
        audiences: Iterable[str | dict[str, Any]],
        *,
        indexing_delay: float | None,
        removed_view: str | None,
        rate_limit: float | None,
    ) -> None:
        check_key(project_key, "project_key")
        check_key(rest_api_key, "rest_api_key")
        specs = audience_specs(audiences)
        project = Project(
            rest_api_key=rest_api_key,
            indexing_delay=None if indexing_delay is None else check_delay(indexing_delay),
            removed_view=None if removed_view is None else check_removed_view(removed_view),
            rate_limit=None if rate_limit is None else check_rate_limit(rate_limit),
        )
        with self.lock:
            for spec in specs:
                audience = self.new_cep_audience(**spec)
                project.audiences[audience.name] = audience
            self.projects[project_key] = project

    def add_cep_audience(self, project_key: str, name: str, **fields: Any) -> None:
        with self.lock:
            project = self.projects.get(project_key)
            if project is None:
                raise KeyError("unknown project_key: register it with add_project() first")
            audience = self.new_cep_audience(name=name, **fields)
            project.audiences.pop(name, None)
            project.removals.pop(name, None)
            project.audiences[name] = audience

    def cep_audience_names(self, project_key: str) -> list[str]:
        with self.lock:
            project = self.projects.get(project_key)
            if project is None:
                return []
            project.settle(time.monotonic())
            return [a.name for a in project.newest_first()]

    def new_cep_audience(
        self,
        name: Any,
        display_name: Any = "",
        type: Any = "CUSTOM_ID",
        nb_ids: Any = 0,
        created: Any = None,
        updated: Any = None,
    ) -> CepAudience:
        """Build an audience whose indexing is done (lock held)."""
        check_audience_fields(name, type, nb_ids, (created, updated))
        if not isinstance(display_name, str):
            raise ValueError("display_name must be a string")
        now = cep_timestamp()
        return CepAudience(
            name=name,
            display_name=display_name,
            type=type,
            nb_ids=nb_ids,
            created=created or now,
            updated=updated or created or now,
            seq=self.next_seq(),
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
            keys = [*self.apps, *(a.rest_api_key for a in self.apps.values())]
            keys += [*self.projects, *(p.rest_api_key for p in self.projects.values())]
        return [key for key in keys if len(key) >= 4]

    def reset(self) -> None:
        with self.lock:
            self.apps.clear()
            self.projects.clear()
            self.log.clear()
            self.latency, self.indexing_delay, self.removed_view = self._initial
