"""The request log: what the server received for each API request, the fault applied and the status sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Headers that carry a key: the REST key (MEP, CEP) and the project key (CEP). The API key is in MEP's path.
KEY_HEADERS = frozenset({"X-Authorization", "Authorization", "X-Batch-Project"})
REDACTED = "<redacted>"


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
    dialect: str | None = None  # "mep", "cep", or None for a path that is neither

    def as_json(self) -> dict[str, Any]:
        """The request as JSON (the control plane's /_sim/requests), with key-bearing headers redacted."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": {name: REDACTED if name in KEY_HEADERS else value for name, value in self.headers.items()},
            "body": self.body.decode("utf-8", errors="replace"),
            "received_at": self.received_at,
            "fault": self.fault,
            "status": self.status,
            "dialect": self.dialect,
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
    dialect: str | None = None

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
            dialect=self.dialect,
        )
