"""``BatchSimulator``: the Python API that tests and the demo use (lifecycle, state, faults, the request log)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from .faults import FaultBook
from .protocol import MAX_HANG_SECONDS, check_number
from .records import RecordedRequest
from .server import Server, Server6
from .state import State, check_delay, check_removed_view


class BatchSimulator:
    """Batch's audience APIs on a real socket, with in-memory state and fault injection."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        *,
        quiet: bool = True,
        indexing_delay: float = 0.0,
        removed_view: str = "404",
    ) -> None:
        """`indexing_delay` and `removed_view` apply to CEP projects that do not set their own."""
        self.host = host
        self.port = port
        self.quiet = quiet
        self._state = State(latency, indexing_delay, removed_view)
        self._faults = FaultBook()
        self._lifecycle = threading.Lock()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._address: tuple[str, int] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> BatchSimulator:
        with self._lifecycle:
            if self._server is not None:
                return self
            server_class = Server6 if ":" in self.host else Server
            server = server_class((self.host, self.port), self)
            host, port = server.server_address[:2]
            self._address = (str(host), int(port))
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"batch-simulator-{self._address[1]}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake requests hung, stalled or dripping in a fault, close every connection and
        wait (about a second at most) for their threads."""
        with self._lifecycle:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.stop_event.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=1)
        server.join_connections(timeout=1)

    def __enter__(self) -> BatchSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        if self._address is None:
            raise RuntimeError("the simulator has not been started")
        host, port = self._address
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    @property
    def latency(self) -> float:
        """Seconds every API answer waits (faults add their own)."""
        with self._state.lock:
            return self._state.latency

    @latency.setter
    def latency(self, value: float) -> None:
        checked = check_number(value, "latency", low=0, high=MAX_HANG_SECONDS)
        with self._state.lock:
            self._state.latency = checked

    @property
    def indexing_delay(self) -> float:
        """Seconds a CEP create or remove stays IN_PROGRESS (projects may set their own)."""
        with self._state.lock:
            return self._state.indexing_delay

    @indexing_delay.setter
    def indexing_delay(self, value: float) -> None:
        checked = check_delay(value)
        with self._state.lock:
            self._state.indexing_delay = checked

    @property
    def removed_view(self) -> str:
        """What CEP's view answers with a remove's token once it is applied: "404" or "APPLIED"."""
        with self._state.lock:
            return self._state.removed_view

    @removed_view.setter
    def removed_view(self, value: str) -> None:
        checked = check_removed_view(value)
        with self._state.lock:
            self._state.removed_view = checked

    # -- MEP apps --------------------------------------------------------------------------------

    def add_app(
        self,
        api_key: str,
        rest_api_key: str,
        audiences: Iterable[str | dict[str, Any]] = (),
        *,
        version: str = "1.1",
    ) -> None:
        """Register (or replace) an app; audiences are created in order, so the last is newest.

        An audience is a name or a dict (name, type, description, nb_ids, created, updated, version);
        it goes to `version` ("1.0" or "1.1") unless its dict names another.
        """
        self._state.add_app(api_key, rest_api_key, audiences, version)

    def add_audience(
        self,
        api_key: str,
        name: str,
        *,
        version: str = "1.1",
        type: str | None = None,
        description: str = "",
        nb_ids: int = 0,
    ) -> None:
        """Create (or replace, as the newest) an audience of a registered app, in API `version`.

        `type` defaults to the version's: install_ids in 1.1, custom_ids in 1.0 (any string is accepted).
        """
        self._state.add_audience(api_key, name, version=version, type=type, description=description, nb_ids=nb_ids)

    def audience_names(self, api_key: str, version: str = "1.1") -> list[str]:
        """Names of the app's audiences in API `version`, newest first ([] for an unknown key)."""
        return self._state.audience_names(api_key, version)

    # -- CEP projects ----------------------------------------------------------------------------

    def add_project(
        self,
        project_key: str,
        rest_api_key: str,
        audiences: Iterable[str | dict[str, Any]] = (),
        *,
        indexing_delay: float | None = None,
        removed_view: str | None = None,
        rate_limit: float | None = None,
    ) -> None:
        """Register (or replace) a CEP project; audiences are created in order, indexed, the last newest.

        An audience is a name or a dict (name, display_name, type, nb_ids, created, updated).
        `indexing_delay` and `removed_view` default to the simulator's; `rate_limit` (requests per
        second, bursts up to max(1, rate)) answers 429 with Retry-After beyond it; None: no limit.
        """
        self._state.add_project(
            project_key,
            rest_api_key,
            audiences,
            indexing_delay=indexing_delay,
            removed_view=removed_view,
            rate_limit=rate_limit,
        )

    def add_cep_audience(
        self,
        project_key: str,
        name: str,
        *,
        display_name: str = "",
        type: str = "CUSTOM_ID",
        nb_ids: int = 0,
        created: str | None = None,
        updated: str | None = None,
    ) -> None:
        """Create (or replace, as the newest) an indexed audience of a registered project."""
        self._state.add_cep_audience(
            project_key, name, display_name=display_name, type=type, nb_ids=nb_ids, created=created, updated=updated
        )

    def cep_audience_names(self, project_key: str) -> list[str]:
        """Names of the project's audiences, newest first, removals not yet applied included."""
        return self._state.cep_audience_names(project_key)

    # -- faults ----------------------------------------------------------------------------------

    def add_fault(
        self,
        *,
        action: str,
        api_key: str | None = None,
        project_key: str | None = None,
        audience: str | None = None,
        method: str | None = None,
        path: str | None = None,
        error: str | None = None,
        status: int | None = None,
        times: int | None = None,
        latency: float = 0.0,
        retry_after: str | None = None,
        length: int | None = None,
        send: int | None = None,
        interval: float | None = None,
        location: str | None = None,
        headers: list[tuple[str, str]] | list[list[str]] | None = None,
        body: str | None = None,
    ) -> dict[str, Any]:
        """Register a fault; the first active fault matching a request answers it. Returns its description.

        Selectors (all given must match): `api_key` (alias `project_key`: MEP's API key or CEP's project
        key), `audience` (MEP: the path's name; CEP: the name in the body or query), `method`, `path` (a
        substring of the path and query). `times`: answer that many requests, then stop; `latency`: wait
        before answering. The other parameters shape some actions' answers: see the README.
        """
        return self._faults.add(**{name: value for name, value in locals().items() if name != "self"})

    def faults(self) -> list[dict[str, Any]]:
        """Every registered fault (spent ones too) with its remaining count and hits."""
        return self._faults.describe()

    def clear_faults(self) -> None:
        self._faults.clear()

    # -- the request log -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._state.requests()

    def clear_requests(self) -> None:
        self._state.clear_requests()

    def reset(self) -> None:
        """Forget apps, projects, audiences, faults and the request log; restore the constructor's settings."""
        self._faults.clear()
        self._state.reset()
