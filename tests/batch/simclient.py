"""Talking to the simulator in tests: plain http.client and sockets, the standard library only."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import urllib.request
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from audienceadmin.batch.simulator import ERRORS, BatchSimulator

API_KEY = "LIVE0123456789ABCDEF"
REST_KEY = "rest-secret-9f8e7d6c5b4a"
OTHER_KEY = "DEV000000000000OTHER"
OTHER_REST = "rest-secret-other-1111"
BASE = f"/1.1/{API_KEY}/custom-audience"
PROJECT_KEY = "project_0664hxvwffvbpn278gxdyhsadddqgna6"
PROJECT_REST = "cep-rest-secret-1a2b3c4d5e"
OTHER_PROJECT = "project_other00000000000000000000000000"
OTHER_PROJECT_REST = "cep-rest-secret-other-999"
CEP = "/2.11/audiences"


class Response(NamedTuple):
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Target = BatchSimulator | str  # a simulator, or the URL of one (in another process)


def address(sim: Target) -> tuple[str, int]:
    parts = urlsplit(sim if isinstance(sim, str) else sim.url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


def call(
    sim: Target,
    method: str,
    path: str,
    *,
    body: bytes | dict[str, Any] | None = None,
    auth: str | None = REST_KEY,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> Response:
    """One MEP-style request (`auth` goes in X-Authorization) on a fresh connection."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if auth is not None:
        all_headers["X-Authorization"] = auth
    return request(sim, method, path, body=body, headers=all_headers, timeout=timeout)


def cep_call(
    sim: Target,
    method: str,
    path: str,
    *,
    body: bytes | dict[str, Any] | None = None,
    rest_key: str | None = PROJECT_REST,
    project_key: str | None = PROJECT_KEY,
    headers: dict[str, str] | None = None,
) -> Response:
    """One CEP request, authenticated as Batch documents unless told otherwise."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if rest_key is not None:
        all_headers["Authorization"] = f"Bearer {rest_key}"
    if project_key is not None:
        all_headers["X-Batch-Project"] = project_key
    return request(sim, method, f"{CEP}/{path}", body=body, headers=all_headers)


def request(
    sim: Target,
    method: str,
    path: str,
    *,
    body: bytes | dict[str, Any] | None = None,
    headers: dict[str, str],
    timeout: float = 5.0,
) -> Response:
    host, port = address(sim)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return Response(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def urlopen(url: str, headers: dict[str, str]) -> Any:
    """urllib over loopback http:// only (the scheme is checked, hence the S310 waivers)."""
    assert url.startswith("http://127.0.0.1:")
    req = urllib.request.Request(url, headers=headers)  # noqa: S310
    return urllib.request.urlopen(req, timeout=5)  # noqa: S310


def control(sim: Target, method: str, route: str, body: Any = None) -> Response:
    data = None if body is None else json.dumps(body).encode()
    return call(sim, method, f"/_sim{route}", body=data, auth=None)


def assert_error(resp: Response, name: str) -> dict[str, Any]:
    """A MEP error: the documented status, numeric code, error_code and a message without keys."""
    status, code = ERRORS[name]
    assert resp.status == status
    assert resp.headers["Content-Type"] == "application/json"
    payload = resp.json()
    assert payload["code"] == code
    assert payload["error_code"] == name
    assert isinstance(payload["message"], str)
    assert payload["message"]
    assert API_KEY not in payload["message"]
    assert REST_KEY not in payload["message"]
    return payload


def assert_cep_error(resp: Response, status: int, code: str) -> str:
    """A CEP error: exactly error_message and a string error_code; returns the message."""
    assert resp.status == status
    assert resp.headers["Content-Type"] == "application/json"
    payload = resp.json()
    assert set(payload) == {"error_message", "error_code"}
    assert payload["error_code"] == code
    assert isinstance(payload["error_message"], str)
    assert payload["error_message"]
    assert PROJECT_KEY not in payload["error_message"]
    assert PROJECT_REST not in payload["error_message"]
    return payload["error_message"]


def raw_exchange(sim: Target, request_bytes: bytes, *, timeout: float = 5.0) -> bytes:
    """Send bytes on a plain socket and read every byte until the server closes."""
    with socket.create_connection(address(sim), timeout=timeout) as sock:
        sock.sendall(request_bytes)
        reply = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                reply += chunk
    return reply
