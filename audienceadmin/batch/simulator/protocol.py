"""What every route shares on the wire: Batch's error table and error bodies, the name rule, JSON, timestamps."""

from __future__ import annotations

import http
import json
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

# Batch's documented errors: name -> (HTTP status, MEP's numeric code).
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

MEP_MESSAGES = {
    "AUTHENTICATION_INVALID": "Authentication failed: check the API key and the X-Authorization header.",
    "API_MISUSE": "This API key cannot be used for this call.",
    "ROUTE_NOT_FOUND": "No route matches this request.",
    "MISSING_PARAMETER": "A required parameter is missing.",
    "MALFORMED_PARAMETER": "A parameter is malformed.",
    "MALFORMED_JSON_BODY": "The request body is not valid JSON.",
    "SERVER_ERROR": "An internal server error occurred.",
    "MAINTENANCE_ERROR": "The service is under maintenance, please retry later.",
    "TOO_MANY_REQUESTS": "Too many requests: wait at least 5 seconds before trying again.",
}

# CEP's error_code is a string; Batch does not list the values, so these reuse MEP's names and add two.
CEP_ONLY_ERRORS = {"NOT_FOUND": 404, "ALREADY_EXISTS": 400}
CEP_MESSAGES = {  # the descriptions in CEP's OpenAPI responses
    400: "The request is malformed",
    401: "The Rest API Key is not valid for this project",
    404: "Not found",
    429: "Too Many Requests",
    500: "Unexpected error",
    503: "Batch's services are under maintenance. Please try again later",
}

MEP = "mep"  # Custom Audience API 1.0 / 1.1: {"code": int, "error_code": str, "message": str}
CEP = "cep"  # Audience API 2.x: {"error_message": str, "error_code": str}

JSON_TYPE = "application/json"
MAX_HANG_SECONDS = 600.0
NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,255}")
NAME_RULE = "use 1 to 255 characters among A-Z a-z 0-9 _ -"
MEP_TIMESTAMP = "%Y-%m-%dT%H:%M:%S"
CEP_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"  # RFC 3339, UTC


class Answer(NamedTuple):
    """What a route answers: a status, a JSON payload and extra headers."""

    status: int
    payload: Any
    headers: tuple[tuple[str, str], ...] = ()


def error(
    name: str,
    message: str | None = None,
    *,
    status: int | None = None,
    dialect: str = MEP,
    headers: tuple[tuple[str, str], ...] = (),
) -> Answer:
    """The dialect's error body for `name` (one of ERRORS, or CEP_ONLY_ERRORS in CEP), optionally another status."""
    if dialect == CEP:
        status = status or CEP_ONLY_ERRORS.get(name) or ERRORS[name][0]
        payload = {"error_message": message or CEP_MESSAGES.get(status) or reason(status), "error_code": name}
        return Answer(status, payload, headers)
    default_status, code = ERRORS[name]
    body: dict[str, Any] = {"code": code, "error_code": name, "message": message or MEP_MESSAGES[name]}
    return Answer(status or default_status, body, headers)


def error_for_status(status: int) -> str | None:
    """The documented error a status stands for (400 is read as MALFORMED_PARAMETER)."""
    if status == 400:
        return "MALFORMED_PARAMETER"
    for name, (http_status, _code) in ERRORS.items():
        if http_status == status:
            return name
    return None


def reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def parse_json(body: bytes) -> Any:
    """Decode a JSON body; raise ValueError on anything that is not JSON."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError("the request body is not valid JSON") from exc


def is_valid_name(name: object) -> bool:
    return isinstance(name, str) and NAME_RE.fullmatch(name) is not None


def mep_timestamp() -> str:
    return datetime.now(UTC).strftime(MEP_TIMESTAMP)


def cep_timestamp() -> str:
    return datetime.now(UTC).strftime(CEP_TIMESTAMP)


def check_optional_str(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string or null")
    return value


def check_number(value: Any, what: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be a number")
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low} and {high}")
    return float(value)
