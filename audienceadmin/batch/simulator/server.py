"""The HTTP server: connections, request framing and body reading, dispatch, and logs without keys."""

from __future__ import annotations

import contextlib
import http
import ipaddress
import re
import select
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote

from . import cep, control, mep, replies
from .framing import BadFraming, read_body
from .protocol import CEP, JSON_TYPE, MEP, dumps, error, error_for_status, reason
from .records import Entry

if TYPE_CHECKING:
    from .core import BatchSimulator

CONTROL_PREFIX = control.PREFIX


def canonical_header(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def redact_path(path: str) -> str:
    """The path for a log line: without the query, and without the segment where MEP has its API key."""
    raw_path = path.partition("?")[0]
    if raw_path.startswith(CONTROL_PREFIX) or cep.parse_route(raw_path):
        return raw_path
    parts = raw_path.split("/")
    if len(parts) > 2:
        parts[2] = "<key>"
    return "/".join(parts)


class Call(NamedTuple):
    """Which API a request is for, and what faults match on."""

    dialect: str | None  # None: neither API's path
    mep_route: mep.Route | None
    cep_route: cep.Route | None
    key: str | None  # MEP's API key or CEP's project key
    audience: str | None
    keys: dict[str, str]  # the keys the request carries, for raw faults' placeholders


def classify(raw_path: str, query: str, headers: Any, body: bytes) -> Call:
    project_key = cep.single_header(headers, "X-Batch-Project")
    rest_key = cep.single_header(headers, "X-Authorization") or cep.bearer_token(headers) or ""
    mep_route = mep.parse_route(raw_path)
    key = mep_route.api_key if mep_route else project_key
    keys = {"api_key": key or "", "rest_api_key": rest_key, "project_key": project_key or ""}
    if mep_route is not None:
        return Call(MEP, mep_route, None, key, mep_route.name, keys)
    cep_route = cep.parse_route(raw_path)
    if cep_route is not None:
        return Call(CEP, None, cep_route, key, cep.audience_of(cep_route, query, body), keys)
    return Call(None, None, None, None, None, keys)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], sim: BatchSimulator) -> None:
        self.simulator = sim
        self.stop_event = threading.Event()
        self._connections: set[socket.socket] = set()
        self._aborted: set[socket.socket] = set()
        self._connection_threads: set[threading.Thread] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the FQDN, which can stall on hosts without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        request, address = super().get_request()
        with self._conn_lock:
            self._connections.add(request)
        return request, address

    def process_request(self, request: Any, client_address: Any) -> None:
        """One daemon thread per connection, tracked so that stop() can wait for them."""
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"batch-simulator-{self.server_port}-connection",
            daemon=True,
        )
        with self._conn_lock:
            self._connection_threads.add(thread)
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._connection_threads.discard(threading.current_thread())

    def join_connections(self, timeout: float) -> None:
        """Wait up to `timeout` seconds in all for the connection threads (after close_connections)."""
        deadline = time.monotonic() + timeout
        with self._conn_lock:
            threads = list(self._connection_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def abort_connection(self, request: socket.socket) -> None:
        """Make the coming close send a TCP reset instead of an orderly shutdown."""
        with contextlib.suppress(OSError):
            request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with self._conn_lock:
            self._aborted.add(request)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
            aborted = request in self._aborted
            self._aborted.discard(request)
        if aborted:
            self.close_request(request)
        else:
            super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or self.simulator.quiet:
            return
        sys.stderr.write(f"batch simulator: error handling a request: {type(exc).__name__}\n")


class Server6(Server):
    address_family = socket.AF_INET6


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "BatchSimulator/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    server: Server

    def version_string(self) -> str:
        return self.server_version

    # -- plumbing ----------------------------------------------------------------------------

    def handle_one_request(self) -> None:
        self._response_started = False
        self.command, self.path = "", ""
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(http.HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._dispatch()
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        except Exception:  # noqa: BLE001 - a bug in the simulator answers 500, as a real server would
            self.close_connection = True
            if not self._response_started:
                with contextlib.suppress(OSError):  # the client may be gone
                    answer = error("SERVER_ERROR", "Internal simulator error.")
                    self.send_json(answer.status, answer.payload)
            if not self.server.simulator.quiet:
                sys.stderr.write("batch simulator: unexpected error while handling a request\n")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Never echo the request line: it may carry an API key.
        self.close_connection = True
        name = error_for_status(int(code))
        answer = error(name, f"{reason(code)}.", status=int(code)) if name else None
        payload = answer.payload if answer else {"code": 0, "error_code": "BAD_REQUEST", "message": f"{reason(code)}."}
        self.send_json(int(code), payload)

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        self._response_started = True
        if self.request_version == "HTTP/0.9":
            # Unparseable or HTTP/0.9 request lines still get a status line and headers.
            self.request_version = "HTTP/1.0"
            self.close_connection = True
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers:
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.send(status, dumps(payload), JSON_TYPE, headers)

    def wait(self, seconds: float) -> bool:
        """Sleep without holding any lock; True if the simulator is stopping."""
        if seconds <= 0:
            return self.server.stop_event.is_set()
        return self.server.stop_event.wait(seconds)

    def hold(self, seconds: float) -> None:
        """Answer nothing for up to `seconds`; return early when the simulator stops or the peer hangs up."""
        deadline = time.monotonic() + seconds
        sock = self.connection
        while (left := deadline - time.monotonic()) > 0 and not self.server.stop_event.is_set():
            try:
                readable = select.select([sock], [], [], min(left, 0.05))[0]
                if readable and not sock.recv(1, socket.MSG_PEEK):
                    return  # the peer closed its side
            except (OSError, ValueError):
                return
            if readable:  # bytes the peer sent after its request: leave them, without spinning
                self.server.stop_event.wait(min(left, 0.05))

    def send_head(self, status: int, headers: Iterable[tuple[str, str]], *, end: bool = True, own: bool = True) -> None:
        """The status line and `headers` (UTF-8, as given), with Server and Date unless not `own`; the blank
        line that ends the head unless not `end`."""
        self._response_started = True
        self.log_request(status)
        lines = [f"HTTP/1.1 {status} {reason(status)}\r\n".encode()]
        if own:
            lines.append(replies.header_lines([("Server", self.version_string()), ("Date", self.date_time_string())]))
        lines.append(replies.header_lines(headers) + (b"\r\n" if end else b""))
        self.write_now(b"".join(lines))

    def write_now(self, data: bytes) -> None:
        self._response_started = True
        self.wfile.write(data)
        self.wfile.flush()

    def abort(self) -> None:
        """Close the connection with a TCP reset, without a byte of answer."""
        self.close_connection = True
        self.server.abort_connection(self.connection)

    def _is_loopback_peer(self) -> bool:
        try:
            return ipaddress.ip_address(str(self.client_address[0])).is_loopback
        except (ValueError, IndexError, TypeError):
            return False

    # -- dispatch ------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        state = self.server.simulator._state
        received_at = time.monotonic()
        words = self.requestline.split()
        # http.server collapses a leading "//" in self.path; keep the target exactly as sent.
        target = words[1] if len(words) == 3 else self.path
        raw_path, _, query = target.partition("?")
        is_control = (
            raw_path == CONTROL_PREFIX or raw_path.startswith(CONTROL_PREFIX + "/")
        ) and self._is_loopback_peer()
        try:
            body = read_body(self.headers, self.rfile)
        except BadFraming as exc:
            self.close_connection = True
            if is_control:
                self.send_json(400, {"message": str(exc)})
                return
            entry = self._new_entry(raw_path, query, b"", received_at)
            state.record(entry)
            answer = error("MALFORMED_PARAMETER", f"Bad request: {exc}.")
            state.set_outcome(entry, status=answer.status)
            self.send_json(answer.status, answer.payload)
            return
        if is_control:
            status, payload = control.handle(self.server.simulator, self.command, raw_path, query, body)
            self.send_json(status, payload)
            return
        call = classify(raw_path, query, self.headers, body)
        entry = self._new_entry(raw_path, query, body, received_at, call.dialect)
        state.record(entry)
        self._api_request(entry, call, query, body)

    def _new_entry(
        self, raw_path: str, query: str, body: bytes, received_at: float, dialect: str | None = None
    ) -> Entry:
        headers = {canonical_header(k): v for k, v in self.headers.items()}
        return Entry(
            method=self.command,
            path=raw_path,
            query=query,
            headers=headers,
            body=body,
            received_at=received_at,
            dialect=dialect,
        )

    def _api_request(self, entry: Entry, call: Call, query: str, body: bytes) -> None:
        sim = self.server.simulator
        state = sim._state
        if self.wait(state.latency):
            self._abandon(entry)
            return
        target = f"{entry.path}?{query}" if query else entry.path
        fault = sim._faults.take(call.key, call.audience, self.command, target)
        if fault is not None:
            state.set_outcome(entry, fault=fault.action, status=None)
            # stall_body's latency is how long it stalls after the head, not a wait before it.
            if fault.action != "stall_body" and self.wait(fault.latency):
                self._abandon(entry)
                return
            if fault.action != "delay":
                record = lambda status: state.set_outcome(entry, status=status)  # noqa: E731
                replies.reply(self, fault, replies.Context(call.dialect or MEP, call.keys, record, f"{sim.url}/moved"))
                return
        if call.cep_route is not None:
            answer = cep.handle(state, self.command, call.cep_route, query, self.headers, body, time.monotonic())
        else:
            auth = self.headers.get_all("X-Authorization", [])
            answer = mep.handle(state, self.command, call.mep_route, query, auth, body)
        state.set_outcome(entry, status=answer.status)
        self.send_json(answer.status, answer.payload, answer.headers)

    def _abandon(self, entry: Entry) -> None:
        self.server.simulator._state.set_outcome(entry, status=None)
        self.close_connection = True

    # -- logging (never print API keys) ------------------------------------------------------

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.simulator.quiet:
            return
        command = getattr(self, "command", None) or "-"
        path = redact_path(getattr(self, "path", "") or "")
        code_s = str(int(code)) if isinstance(code, int) else str(code)
        self._write_log(f"{command} {path} {code_s}")

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.server.simulator.quiet:
            return
        try:
            message = fmt % args
        except (TypeError, ValueError):
            message = fmt
        self._write_log(re.sub(r"/[0-9]+\.[0-9]+/[^/\s?'\"]+", "/<version>/<key>", message))

    def _write_log(self, message: str) -> None:
        """Write one line to stderr, without known keys (even percent-encoded) or control bytes."""
        secrets_ = self.server.simulator._state.secrets()
        for secret in secrets_:
            message = message.replace(secret, "<key>")
        decoded = unquote(message)
        if any(secret in decoded for secret in secrets_):
            message = "<request line withheld: it contains a key>"
        message = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in message)
        sys.stderr.write(f"{self.address_string()} {message}\n")
