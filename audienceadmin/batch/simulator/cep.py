"""CEP's Audience API 2.x: ``/{2.N}/audiences/{create,remove,view,list}``, per project.

Authentication: ``Authorization: Bearer <REST key>`` and ``X-Batch-Project: <project key>``; errors are
``{"error_message": ..., "error_code": "<string>"}``; timestamps RFC 3339 UTC.

Where Batch's docs are silent, the simulator chooses (and the README says so):
- Indexing is asynchronous. create and remove answer 202 with an ``indexing_token`` and take effect after
  the project's indexing delay (default 0 s): until then a created audience is listed and viewed with
  ``indexing_state: IN_PROGRESS``, and a removed one *still* is, IN_PROGRESS; once applied, the created one
  is APPLIED and the removed one is gone (404 on view, absent from list). Without a token, view shows the
  state of the audience's last operation, as Batch documents.
- view with a remove's token: the audience, IN_PROGRESS, until the removal applies; then 404 or
  ``APPLIED`` (the audience as it was), as the project's or simulator's ``removed_view`` says.
  A token that is unknown or belongs to another audience is a 400.
- remove of an unknown audience is 404 ``NOT_FOUND``; remove of one whose removal is pending answers
  202 with the pending token again. create of an existing name is 400 ``ALREADY_EXISTS``.
- list is newest first; ``next_from`` is present only when ``has_more`` is true.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Callable
from email.message import Message
from typing import Any, NamedTuple
from urllib.parse import parse_qs

from .protocol import CEP, NAME_RULE, Answer, error, is_valid_name, parse_json
from .state import Project, State

VERSION_RE = re.compile(r"2\.[0-9]{1,4}")
METHODS = {"create": "POST", "remove": "POST", "view": "GET", "list": "GET"}
CREATE_TYPES = {"custom_ids": "CUSTOM_ID"}  # what create accepts -> what list and view show
LIST_DEFAULT_LIMIT = 10
LIST_MAX_LIMIT = 100
_CURSOR_PREFIX = "after:"


class Route(NamedTuple):
    version: str
    operation: str | None  # None: under /2.N/ but no route of the Audience API


def parse_route(raw_path: str) -> Route | None:
    parts = raw_path.split("/")
    if len(parts) < 2 or parts[0] != "" or not VERSION_RE.fullmatch(parts[1]):
        return None
    if len(parts) == 4 and parts[2] == "audiences" and parts[3] in METHODS:
        return Route(parts[1], parts[3])
    return Route(parts[1], None)


def single_header(headers: Message, name: str) -> str | None:
    values = headers.get_all(name, [])
    return values[0] if len(values) == 1 and values[0] else None


def bearer_token(headers: Message) -> str | None:
    scheme, _, token = (single_header(headers, "Authorization") or "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def audience_of(route: Route, query: str, body: bytes) -> str | None:
    """The audience a request names (view: its query; create, remove: its body), for fault matching."""
    if route.operation == "view":
        names = parse_qs(query).get("name", [])
        return names[0] if len(names) == 1 else None
    if route.operation in ("create", "remove"):
        try:
            payload = parse_json(body)
        except ValueError:
            return None
        name = payload.get("name") if isinstance(payload, dict) else None
        return name if isinstance(name, str) else None
    return None


def _error(name: str, detail: str = "", headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    answer = error(name, dialect=CEP, headers=headers)
    if detail:
        answer.payload["error_message"] += f": {detail}"
    return answer


def handle(state: State, method: str, route: Route, query: str, headers: Message, body: bytes, now: float) -> Answer:
    if route.operation is None or METHODS[route.operation] != method:
        return _error("ROUTE_NOT_FOUND")
    project_key, token = single_header(headers, "X-Batch-Project"), bearer_token(headers)
    payload = _json_object(body) if method == "POST" else {}
    with state.lock:
        project = state.projects.get(project_key) if project_key else None
        if project is None or token is None or not hmac.compare_digest(token.encode(), project.rest_api_key.encode()):
            return _error("AUTHENTICATION_INVALID")
        wait = project.take_request(now)
        if wait is not None:
            return _error("TOO_MANY_REQUESTS", headers=(("Retry-After", str(wait)),))
        if isinstance(payload, Answer):
            return payload
        project.settle(now)
        return OPERATIONS[route.operation](_Call(state, project, now), parse_qs(query, keep_blank_values=True), payload)


class _Call(NamedTuple):
    state: State
    project: Project
    now: float

    @property
    def delay(self) -> float:
        return self.state.indexing_delay if self.project.indexing_delay is None else self.project.indexing_delay

    @property
    def removed_view(self) -> str:
        return self.project.removed_view or self.state.removed_view


def _json_object(body: bytes) -> dict[str, Any] | Answer:
    try:
        payload = parse_json(body)
    except ValueError:
        return _error("MALFORMED_JSON_BODY", "the body is not valid JSON")
    return payload if isinstance(payload, dict) else _error("MALFORMED_JSON_BODY", "the body must be a JSON object")


def _name(value: Any) -> str | Answer:
    if value is None:
        return _error("MISSING_PARAMETER", "name is missing")
    return value if is_valid_name(value) else _error("MALFORMED_PARAMETER", f"audience names: {NAME_RULE}")


def _one(params: dict[str, list[str]], name: str) -> str | None | Answer:
    values = params.get(name, [])
    if len(values) > 1:
        return _error("MALFORMED_PARAMETER", f"{name} is given more than once")
    return values[0] if values else None


def _remove(call: _Call, _params: dict[str, list[str]], payload: dict[str, Any]) -> Answer:
    name = _name(payload.get("name"))
    if isinstance(name, Answer):
        return name
    audience = call.project.audiences.get(name)
    if audience is None:
        return _error("NOT_FOUND")
    op = call.project.removals.get(name) or call.project.operate("remove", audience, call.now, call.delay)
    return Answer(202, {"indexing_token": op.token})


def _view(call: _Call, params: dict[str, list[str]], _payload: dict[str, Any]) -> Answer:
    given, token = _one(params, "name"), _one(params, "indexing_token")
    name = given if isinstance(given, Answer) else _name(given)
    if isinstance(name, Answer):
        return name
    if isinstance(token, Answer):
        return token
    audience = call.project.audiences.get(name)
    if token is None:
        return _error("NOT_FOUND") if audience is None else Answer(200, audience.body(audience.current_state(call.now)))
    op = call.project.operations.get(token)
    if op is None or op.audience.name != name:
        return _error("MALFORMED_PARAMETER", "unknown indexing_token for this audience")
    state = op.state(call.now)
    if op.kind == "remove" and state == "APPLIED":
        return _error("NOT_FOUND") if call.removed_view == "404" else Answer(200, op.audience.body("APPLIED"))
    if audience is not op.audience:  # created, then removed since
        return _error("NOT_FOUND")
    return Answer(200, audience.body(state))


def _list(call: _Call, params: dict[str, list[str]], _payload: dict[str, Any]) -> Answer:
    limit_s, cursor = _one(params, "limit"), _one(params, "from")
    if isinstance(limit_s, Answer):
        return limit_s
    if isinstance(cursor, Answer):
        return cursor
    limit = LIST_DEFAULT_LIMIT if limit_s is None else _int(limit_s)
    if limit is None or not 1 <= limit <= LIST_MAX_LIMIT:
        return _error("MALFORMED_PARAMETER", f"limit must be an integer from 1 to {LIST_MAX_LIMIT}")
    after = None if cursor is None else decode_cursor(cursor)
    if cursor is not None and after is None:
        return _error("MALFORMED_PARAMETER", "from is not a cursor this API returned")
    audiences = call.project.newest_first()
    rest = audiences if after is None else [a for a in audiences if a.seq < after]
    page = rest[:limit]
    body: dict[str, Any] = {"audiences": [a.body(a.current_state(call.now)) for a in page]}
    if after is None:
        body["count"] = len(audiences)
    body["has_more"] = len(rest) > limit
    if body["has_more"]:
        body["next_from"] = encode_cursor(page[-1].seq)
    return Answer(200, body)


def _create(call: _Call, _params: dict[str, list[str]], payload: dict[str, Any]) -> Answer:
    name = _name(payload.get("name"))
    if isinstance(name, Answer):
        return name
    kind, display_name = payload.get("type"), payload.get("display_name", "")
    if kind is None:
        return _error("MISSING_PARAMETER", "type is missing")
    if kind not in CREATE_TYPES:
        return _error("MALFORMED_PARAMETER", f"type must be one of {', '.join(CREATE_TYPES)}")
    if not isinstance(display_name, str):
        return _error("MALFORMED_PARAMETER", "display_name must be a string")
    if name in call.project.audiences:
        return _error("ALREADY_EXISTS", f"audience {name} already exists")
    audience = call.state.new_cep_audience(name=name, display_name=display_name, type=CREATE_TYPES[kind])
    call.project.audiences[name] = audience
    op = call.project.operate("create", audience, call.now, call.delay)
    return Answer(202, {"indexing_token": op.token})


def _int(value: str) -> int | None:
    return int(value) if re.fullmatch(r"[0-9]{1,6}", value) else None


def encode_cursor(seq: int) -> str:
    return base64.b32encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.b32decode(cursor + "=" * (-len(cursor) % 8)).decode()
    except (binascii.Error, ValueError):
        return None
    seq = text.removeprefix(_CURSOR_PREFIX)
    return int(seq) if text.startswith(_CURSOR_PREFIX) and seq.isdigit() and seq.isascii() else None


Operation = Callable[[_Call, dict[str, list[str]], dict[str, Any]], Answer]
OPERATIONS: dict[str, Operation] = {"create": _create, "remove": _remove, "view": _view, "list": _list}
