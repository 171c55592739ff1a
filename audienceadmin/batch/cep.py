"""Audience API 2.x of a CEP project: ``/{2.N}/audiences/{remove,view,list}``, no key in the URL.

Headers: ``Authorization: Bearer <REST key>`` and ``X-Batch-Project: <project key>`` (the project key
is held where an MEP app holds its API key: ``Credentials.api_key``). ``remove`` answers 202 with an
``indexing_token``: Batch accepted the removal, which it applies asynchronously (``view`` with that
token says when). Errors are ``{"error_message", "error_code"}`` with a string code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from audienceadmin.batch.errors import BatchResponse
from audienceadmin.batch.gate import PauseGate, StopCheck
from audienceadmin.batch.secrets import Credentials
from audienceadmin.batch.transport import Request, Transport

API = "cep"
DEFAULT_VERSION = "2.11"
VERSION_RE = re.compile(r"2\.[0-9]{1,4}")
LIST_MAX = 100
# The header values name the keys; the transport fills them in only when the request is sent.
HEADERS = {
    "Authorization": "Bearer {rest_api_key}",
    "X-Batch-Project": "{api_key}",
    "Content-Type": "application/json",
}
# CEP's error codes are strings Batch does not list: what it sent is shown, nothing is made up.
KNOWN_ERRORS: dict[int, tuple[str, str]] = {}
APPLIED_STATES = frozenset({"APPLIED"})


@dataclass(frozen=True)
class CepClient:
    """The Audience API routes of one 2.x version. ``gate`` and ``should_stop`` as ``MepClient``'s."""

    transport: Transport
    version: str = DEFAULT_VERSION
    gate: PauseGate | None = None
    should_stop: StopCheck | None = None
    api: str = API
    pace: Callable[[], None] | None = None  # called before each request: the project's shared rate

    def __post_init__(self) -> None:
        if not VERSION_RE.fullmatch(self.version):
            raise ValueError("the CEP Audience API version looks like 2.11")

    @property
    def label(self) -> str:
        return f"Audience API {self.version}"

    def bound(self, *, gate: PauseGate | None = None, should_stop: StopCheck | None = None) -> CepClient:
        return CepClient(self.transport, self.version, gate=gate, should_stop=should_stop, pace=self.pace)

    def with_version(self, version: str) -> CepClient:
        return CepClient(self.transport, version, gate=self.gate, should_stop=self.should_stop, pace=self.pace)

    def paced(self, pace: Callable[[], None] | None) -> CepClient:
        """The same client, waiting for ``pace`` before each request (``services.pacing``)."""
        return CepClient(self.transport, self.version, gate=self.gate, should_stop=self.should_stop, pace=pace)

    def new_gate(self) -> PauseGate:
        return self.transport.new_gate()

    def _call(
        self, method: str, route: str, credentials: Credentials, *, params: dict | None = None, body: object = None
    ) -> BatchResponse:
        request = Request(
            method=method,
            path=f"/{self.version}/audiences/{route}",
            headers=HEADERS,
            params=params,
            json=body,
            known_errors=KNOWN_ERRORS,
        )
        if self.pace is not None:
            self.pace()
        return self.transport.call(request, credentials, gate=self.gate, should_stop=self.should_stop)

    def delete_audience(self, credentials: Credentials, name: str) -> BatchResponse:
        """``remove``: 202 and an ``indexing_token`` (in ``data``) when Batch accepted it. Retried
        after connection refused, 429 and 5xx like an MEP DELETE: removing twice removes once."""
        return self._call("POST", "remove", credentials, body={"name": name})

    def get_audience(self, credentials: Credentials, name: str, *, indexing_token: str = "") -> BatchResponse:
        params = {"name": name} | ({"indexing_token": indexing_token} if indexing_token else {})
        return self._call("GET", "view", credentials, params=params)

    def list_audiences(self, credentials: Credentials, *, cursor: str = "", limit: int = 10) -> BatchResponse:
        if not 1 <= limit <= LIST_MAX:
            raise ValueError(f"limit must be 1..{LIST_MAX}")
        params: dict[str, str | int] = {"limit": limit} | ({"from": cursor} if cursor else {})
        return self._call("GET", "list", credentials, params=params)


def removal_applied(response: BatchResponse) -> bool:
    """Whether ``view`` with a removal's token says it was applied (Batch's docs do not say which of
    404 or ``APPLIED`` it answers: the caller treats a 404 as applied too)."""
    data = response.data if isinstance(response.data, dict) else {}
    return data.get("indexing_state") in APPLIED_STATES
