"""The control plane under ``/_sim/``: state, faults, settings and the request log over HTTP.

Unauthenticated, so the server only routes loopback peers here (others reach the API's 404).
Bodies and answers are JSON; a bad body answers 400 ``{"message": ...}``, an unknown route 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .faults import FAULT_FIELDS
from .protocol import parse_json

if TYPE_CHECKING:
    from .core import BatchSimulator

PREFIX = "/_sim"


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def handle(sim: BatchSimulator, method: str, raw_path: str, query: str, body: bytes) -> tuple[int, Any]:
    route = ROUTES.get((method, raw_path[len(PREFIX) :].rstrip("/")))
    try:
        if route is None:
            raise ControlError(404, "unknown control route")
        return 200, route(sim, body, parse_qs(query))
    except ControlError as exc:
        return exc.status, {"message": exc.message}
    except (KeyError, TypeError, ValueError) as exc:
        return 400, {"message": str(exc.args[0]) if exc.args else type(exc).__name__}


def json_object(
    body: bytes, *, required: tuple[str, ...] = (), allowed: frozenset[str] | None = None
) -> dict[str, Any]:
    """The body as a JSON object with the `required` fields and no field outside `allowed`."""
    try:
        data = parse_json(body)
    except ValueError as exc:
        raise ControlError(400, "the body must be a JSON object") from exc
    if not isinstance(data, dict):
        raise ControlError(400, "the body must be a JSON object")
    missing = [key for key in required if key not in data]
    if missing:
        raise ControlError(400, f"missing fields: {', '.join(missing)}")
    extra = set(data) - allowed if allowed is not None else set()
    if extra:
        raise ControlError(400, f"unknown fields: {', '.join(sorted(extra))}")
    return data


def _string(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str):
        raise ControlError(400, f"{field} must be a string")
    return value


def _list(data: dict[str, Any], field: str) -> list[Any]:
    value = data.get(field, [])
    if not isinstance(value, list):
        raise ControlError(400, f"{field} must be a list")
    return value


def _add_app(sim: BatchSimulator, body: bytes, _query: Any) -> Any:
    fields = frozenset({"api_key", "rest_api_key", "audiences", "version"})
    data = json_object(body, required=("api_key", "rest_api_key"), allowed=fields)
    version = data.get("version", "1.1")
    sim.add_app(data["api_key"], data["rest_api_key"], _list(data, "audiences"), version=version)
    return {"audiences": sim.audience_names(data["api_key"], version)}


def _add_audience(sim: BatchSimulator, body: bytes, _query: Any) -> Any:
    fields = frozenset({"api_key", "name", "type", "description", "nb_ids", "version"})
    data = json_object(body, required=("api_key", "name"), allowed=fields)
    api_key = _string(data, "api_key")
    sim.add_audience(**data)
    return {"audiences": sim.audience_names(api_key, data.get("version", "1.1"))}


def _param(query: dict[str, list[str]], name: str, default: str = "") -> str:
    return query.get(name, [default])[0]


def _audiences(sim: BatchSimulator, _body: bytes, query: dict[str, list[str]]) -> Any:
    return {"audiences": sim.audience_names(_param(query, "api_key"), _param(query, "version", "1.1"))}


def _add_project(sim: BatchSimulator, body: bytes, _query: Any) -> Any:
    fields = frozenset({"project_key", "rest_api_key", "audiences", "indexing_delay", "removed_view", "rate_limit"})
    data = json_object(body, required=("project_key", "rest_api_key"), allowed=fields)
    data["audiences"] = _list(data, "audiences")
    sim.add_project(**data)
    return {"audiences": sim.cep_audience_names(data["project_key"])}


def _add_project_audience(sim: BatchSimulator, body: bytes, _query: Any) -> Any:
    fields = frozenset({"project_key", "name", "display_name", "type", "nb_ids", "created", "updated"})
    data = json_object(body, required=("project_key", "name"), allowed=fields)
    project_key = _string(data, "project_key")
    sim.add_cep_audience(**data)
    return {"audiences": sim.cep_audience_names(project_key)}


def _project_audiences(sim: BatchSimulator, _body: bytes, query: dict[str, list[str]]) -> Any:
    return {"audiences": sim.cep_audience_names(_param(query, "project_key"))}


def _indexing(sim: BatchSimulator) -> dict[str, Any]:
    return {"indexing_delay": sim.indexing_delay, "removed_view": sim.removed_view}


def _set_indexing(sim: BatchSimulator, body: bytes, _query: Any) -> Any:
    data = json_object(body, allowed=frozenset({"indexing_delay", "removed_view"}))
    if "indexing_delay" in data:
        sim.indexing_delay = data["indexing_delay"]
    if "removed_view" in data:
        sim.removed_view = data["removed_view"]
    return _indexing(sim)


def _add_fault(sim: BatchSimulator, body: bytes, _query: Any) -> Any:
    return sim.add_fault(**json_object(body, required=("action",), allowed=FAULT_FIELDS))


def _clear_faults(sim: BatchSimulator, _body: bytes, _query: Any) -> Any:
    sim.clear_faults()
    return {}


def _clear_requests(sim: BatchSimulator, _body: bytes, _query: Any) -> Any:
    sim.clear_requests()
    return {}


def _reset(sim: BatchSimulator, _body: bytes, _query: Any) -> Any:
    sim.reset()
    return {}


def _set_latency(sim: BatchSimulator, body: bytes, _query: Any) -> Any:
    sim.latency = json_object(body, required=("latency",))["latency"]
    return {"latency": sim.latency}


Route = Callable[["BatchSimulator", bytes, dict[str, list[str]]], Any]
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/health"): lambda sim, body, query: {"status": "ok"},
    ("POST", "/apps"): _add_app,
    ("POST", "/audiences"): _add_audience,
    ("GET", "/audiences"): _audiences,
    ("POST", "/projects"): _add_project,
    ("POST", "/project-audiences"): _add_project_audience,
    ("GET", "/project-audiences"): _project_audiences,
    ("GET", "/indexing"): lambda sim, body, query: _indexing(sim),
    ("POST", "/indexing"): _set_indexing,
    ("GET", "/faults"): lambda sim, body, query: {"faults": sim.faults()},
    ("POST", "/faults"): _add_fault,
    ("DELETE", "/faults"): _clear_faults,
    ("GET", "/requests"): lambda sim, body, query: {"requests": [r.as_json() for r in sim.requests]},
    ("DELETE", "/requests"): _clear_requests,
    ("POST", "/reset"): _reset,
    ("GET", "/latency"): lambda sim, body, query: {"latency": sim.latency},
    ("POST", "/latency"): _set_latency,
}
