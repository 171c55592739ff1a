"""Custom Audience API 1.0 and 1.1 of an MEP app: the API key in the path, the REST key in
``X-Authorization``. Version 1.1 holds install-ID audiences; 1.0 custom-ID and advertising-ID ones."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from audienceadmin.batch.errors import BatchResponse
from audienceadmin.batch.gate import PauseGate, StopCheck
from audienceadmin.batch.secrets import Credentials
from audienceadmin.batch.transport import Request, Transport

API = "mep"
VERSIONS = ("1.1", "1.0")
DEFAULT_VERSION = "1.1"
LIST_MAX = 100

# Documented errors of this API family: HTTP status -> (error name, error code). 400 is left out
# on purpose: three different errors share it, so only Batch's body can say which one it was.
KNOWN_ERRORS: dict[int, tuple[str, str]] = {
    401: ("AUTHENTICATION_INVALID", "10"),
    403: ("API_MISUSE", "12"),
    404: ("ROUTE_NOT_FOUND", "20"),
    429: ("TOO_MANY_REQUESTS", "60"),
    500: ("SERVER_ERROR", "1"),
    503: ("MAINTENANCE_ERROR", "2"),
}
HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "X-Authorization": "{rest_api_key}"}


@dataclass(frozen=True)
class MepClient:
    """The custom-audience routes of one API version. ``gate`` and ``should_stop`` (a bulk job's)
    apply to every call made through this instance (see ``bound``)."""

    transport: Transport
    version: str = DEFAULT_VERSION
    gate: PauseGate | None = None
    should_stop: StopCheck | None = None
    api: str = API

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise ValueError(f"Custom Audience API version must be one of {VERSIONS}")

    @property
    def label(self) -> str:
        return f"Custom Audience API {self.version}"

    def bound(self, *, gate: PauseGate | None = None, should_stop: StopCheck | None = None) -> MepClient:
        """The same client (same connection pool) with a job's pause gate and stop check."""
        return MepClient(self.transport, self.version, gate=gate, should_stop=should_stop)

    def with_version(self, version: str) -> MepClient:
        return MepClient(self.transport, version, gate=self.gate, should_stop=self.should_stop)

    def new_gate(self) -> PauseGate:
        return self.transport.new_gate()

    def _call(self, method: str, route: str, credentials: Credentials, params: dict | None = None) -> BatchResponse:
        request = Request(
            method=method,
            path=f"/{self.version}/{{api_key}}/{route}",
            headers=HEADERS,
            params=params,
            known_errors=KNOWN_ERRORS,
        )
        return self.transport.call(request, credentials, gate=self.gate, should_stop=self.should_stop)

    def delete_audience(self, credentials: Credentials, name: str) -> BatchResponse:
        return self._call("DELETE", f"custom-audience/{_segment(name)}", credentials)

    def get_audience(self, credentials: Credentials, name: str) -> BatchResponse:
        return self._call("GET", f"custom-audience/{_segment(name)}", credentials)

    def list_audiences(self, credentials: Credentials, *, offset: int = 0, limit: int = 10) -> BatchResponse:
        if not 1 <= limit <= LIST_MAX or offset < 0:
            raise ValueError(f"limit must be 1..{LIST_MAX} and offset >= 0")
        return self._call("GET", "custom-audience", credentials, params={"from": offset, "limit": limit})


def _segment(name: str) -> str:
    """A path segment no name can escape (nor fill a key placeholder: braces are encoded too)."""
    return quote(name, safe="")
