"""MEP's Custom Audience API 1.0 and 1.1: ``/{version}/{API_KEY}/custom-audience[/{NAME}]``, per app.

Authentication is the ``X-Authorization`` header (the REST key) with the API key in the path.
"""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote

from .protocol import NAME_RULE, Answer, error, is_valid_name, mep_timestamp, parse_json
from .state import MEP_TYPES, MEP_VERSIONS, MepAudience, State

AUDIENCE_TYPES = frozenset(kind for kinds in MEP_TYPES.values() for kind in kinds)
LIST_DEFAULT_LIMIT = 10
LIST_MAX_LIMIT = 100
MAX_IDS_PER_CALL = 10_000


class Route(NamedTuple):
    version: str
    api_key: str | None  # None when the key segment is not valid percent-encoded UTF-8
    is_item: bool
    name: str | None  # None on the list route, or when not valid percent-encoded UTF-8


def _decode_segment(segment: str) -> str | None:
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError:
        return None


def parse_route(raw_path: str) -> Route | None:
    """Match ``/{v}/{key}/custom-audience[/{name}]``, decoding the key and name segments."""
    parts = raw_path.split("/")
    if len(parts) not in (4, 5) or parts[0] != "" or parts[1] not in MEP_VERSIONS:
        return None
    if parts[3] != "custom-audience":
        return None
    api_key = _decode_segment(parts[2])
    if len(parts) == 4:
        return Route(parts[1], api_key, False, None)
    return Route(parts[1], api_key, True, _decode_segment(parts[4]))


def handle(state: State, method: str, route: Route | None, query: str, auth: list[str], body: bytes) -> Answer:
    if route is None:
        return error("ROUTE_NOT_FOUND", "No route matches this request.")
    allowed = ("GET", "DELETE", "POST", "PATCH", "PUT") if route.is_item else ("GET",)
    if method not in allowed:
        return error("ROUTE_NOT_FOUND", "No route matches this method and path.")
    with state.lock:
        app = state.apps.get(route.api_key) if route.api_key is not None else None
        if app is None or len(auth) != 1 or not auth[0]:
            return error("AUTHENTICATION_INVALID")
        if not hmac.compare_digest(auth[0].encode(), app.rest_api_key.encode()):
            return error("AUTHENTICATION_INVALID")
        if not route.is_item:
            return _list(app.newest_first(route.version), query)
    name = route.name
    if name is None or not is_valid_name(name):
        return error("MALFORMED_PARAMETER", f"Invalid custom audience name: {NAME_RULE}.")
    payload: Any = None
    if method in ("POST", "PATCH", "PUT"):
        try:
            payload = parse_json(body)
        except ValueError:
            return error("MALFORMED_JSON_BODY", "The request body is not valid JSON.")
        if not isinstance(payload, dict):
            return error("MALFORMED_JSON_BODY", "The request body must be a JSON object.")
    with state.lock:
        app = state.apps.get(route.api_key or "")
        if app is None:  # removed by a concurrent reset
            return error("AUTHENTICATION_INVALID")
        audiences = app.versions[route.version]
        if method == "POST":
            return _create(state, audiences, route.version, name, payload)
        audience = audiences.get(name)
        if audience is None:
            return error("ROUTE_NOT_FOUND", f"Custom audience {name} not found.")
        if method == "GET":
            return Answer(200, audience.detail())
        if method == "DELETE":
            del audiences[name]
            return Answer(200, {})
        return _update(audience, payload, replace=method == "PUT")


def _list(newest_first: list[MepAudience], query: str) -> Answer:
    """List audiences, newest first (lock held)."""
    params = parse_qs(query, keep_blank_values=True)
    from_s = params.get("from", ["0"])[0]
    limit_s = params.get("limit", [str(LIST_DEFAULT_LIMIT)])[0]
    if not re.fullmatch(r"[0-9]{1,9}", from_s):
        return error("MALFORMED_PARAMETER", "'from' must be a non-negative integer.")
    if not re.fullmatch(r"[0-9]{1,4}", limit_s) or not (1 <= int(limit_s) <= LIST_MAX_LIMIT):
        return error("MALFORMED_PARAMETER", f"'limit' must be an integer from 1 to {LIST_MAX_LIMIT}.")
    start, limit = int(from_s), int(limit_s)
    page = newest_first[start : start + limit]
    return Answer(200, {"custom_audiences": [a.summary() for a in page]})


def _create(
    state: State, audiences: dict[str, MepAudience], version: str, name: str, payload: dict[str, Any]
) -> Answer:
    """Create an audience of one of the version's types (lock held)."""
    if name in audiences:
        return error("MALFORMED_PARAMETER", f"Custom audience {name} already exists.")
    if "type" not in payload:
        return error("MISSING_PARAMETER", "Missing parameter: type.")
    kind, description = payload["type"], payload.get("description", "")
    if kind not in MEP_TYPES[version]:
        return error("MALFORMED_PARAMETER", f"'type' must be one of {', '.join(MEP_TYPES[version])} in {version}.")
    if not isinstance(description, str):
        return error("MALFORMED_PARAMETER", "'description' must be a string.")
    audiences[name] = state.new_mep_audience(name=name, version=version, type=kind, description=description)
    return Answer(200, {})


def _update(audience: MepAudience, payload: dict[str, Any], *, replace: bool) -> Answer:
    """Apply a PATCH (add/remove ids) or a PUT (replace ids) (lock held)."""
    if "ids" not in payload:
        return error("MISSING_PARAMETER", "Missing parameter: ids.")
    items = payload["ids"]
    if not isinstance(items, list):
        return error("MALFORMED_PARAMETER", "'ids' must be a list.")
    if len(items) > MAX_IDS_PER_CALL:
        return error("MALFORMED_PARAMETER", f"At most {MAX_IDS_PER_CALL} ids can be sent per call.")
    changes: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, dict):
            return error("MALFORMED_PARAMETER", "Each entry of 'ids' must be an object.")
        raw_id = item.get("id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or raw_id == "":
            return error("MALFORMED_PARAMETER", "Each entry needs a non-empty 'id'.")
        action = "add" if replace else item.get("action")
        if action not in ("add", "remove"):
            return error("MALFORMED_PARAMETER", "'action' must be 'add' or 'remove'.")
        changes.append((action, str(raw_id)))
    if replace:
        audience.base_ids = 0
        audience.ids = set()
    for action, member in changes:
        if action == "add":
            audience.ids.add(member)
        else:
            audience.ids.discard(member)
    audience.updated = mep_timestamp()
    return Answer(200, {"indexing_token": secrets.token_hex(16)})
