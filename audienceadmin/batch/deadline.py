"""A wall-clock bound on a whole HTTP exchange, whatever the peer does.

Socket timeouts bound each read, not the exchange: a peer that sends one byte (or one header line)
every few seconds keeps a request alive for ever. Here each exchange registers an ``Exchange`` with
the process's ``Watchdog`` (one daemon thread); the connection classes the transport mounts attach
their socket to the exchange of the calling thread. When the deadline passes, the watchdog shuts the
socket down, which wakes any read or write blocked on it; the transport then sees ``expired``.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_local = threading.local()


class DeadlineExceeded(Exception):
    """Raised by a guarded connection asked to connect or send once its exchange has expired."""


class Exchange:
    """One request and its response. ``sent`` turns True once the request may have left this host."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.sent = False
        self.expired = False
        self._done = False
        # The socket itself, not the connection: http.client drops a connection's socket as soon as a
        # response that ends with the connection begins, while the response still reads from it.
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def attach(self, conn: HTTPConnection) -> None:
        with self._lock:
            if conn.sock is not None:
                self._sock = conn.sock
            if self.expired:
                raise DeadlineExceeded

    def expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # bypasses TLS wrappers: the fd itself

    def finish(self) -> None:
        with self._lock:
            self._done = True
            self._sock = None


class Watchdog:
    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Exchange]] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def exchange(self, seconds: float) -> Iterator[Exchange]:
        """An exchange that the watchdog cuts ``seconds`` from now, current for this thread meanwhile."""
        exchange = Exchange(self._clock() + max(0.0, seconds))
        with self._cv:
            heapq.heappush(self._heap, (exchange.at, next(self._seq), exchange))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="batch-deadline-watchdog", daemon=True)
                self._thread.start()
            self._cv.notify()
        previous = getattr(_local, "exchange", None)
        _local.exchange = exchange
        try:
            yield exchange
        finally:
            _local.exchange = previous
            exchange.finish()

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._heap and self._heap[0][2]._done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cv.wait(timeout=30.0)
                    if not self._heap:
                        self._thread = None
                        return
                    continue
                wait = self._heap[0][0] - self._clock()
                if wait > 0:
                    self._cv.wait(timeout=wait)
                    continue
                _at, _seq, exchange = heapq.heappop(self._heap)
            exchange.expire()


WATCHDOG = Watchdog()


def current() -> Exchange | None:
    return getattr(_local, "exchange", None)


class _Guarded:
    """Mixed into urllib3's connections: each joins the exchange of the thread that uses it."""

    def connect(self) -> None:
        exchange = current()
        if exchange is not None:
            exchange.attach(self)  # type: ignore[arg-type]
        super().connect()  # type: ignore[misc]
        if exchange is not None:
            exchange.attach(self)  # type: ignore[arg-type] # raises if it expired meanwhile

    def request(self, *args: Any, **kwargs: Any) -> None:
        exchange = current()
        if exchange is not None:
            exchange.attach(self)  # type: ignore[arg-type]
            exchange.sent = True
        super().request(*args, **kwargs)  # type: ignore[misc]
        if exchange is not None:
            exchange.attach(self)  # type: ignore[arg-type] # the socket, now surely connected


class GuardedHTTPConnection(_Guarded, HTTPConnection):
    pass


class GuardedHTTPSConnection(_Guarded, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


POOL_CLASSES = {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}
