"""What every dialect of Batch's API shares: one HTTP exchange, retried where safe, within a deadline.

* Every call has a connect timeout, a read timeout per socket read, and an overall **deadline** that
  no peer can stretch: a watchdog (``batch.deadline``) cuts the connection when it passes, however
  slowly Batch drips its headers or body. The deadline starts when the call starts; waits (backoff,
  a pause shared by a bulk job) count. A try is only started if ``min_try_window`` seconds of it are
  left; otherwise nothing more is sent.
* Once a status line is received, it is Batch's answer: a body cut short or too slow to read changes
  nothing to what the status says (``BatchResponse.body_error`` notes it).
* Retried only where Batch did not act: connection refused before sending, 429, 500, 502, 503
  (deletes and CEP removals are idempotent, so a retry after such an answer is safe).
* Keys are ``Secret``s until the request is built in ``_exchange``: that frame and every frame it
  calls (requests, urllib3, http.client) are cleansed from error reports and debug pages by
  ``@sensitive_variables()`` and ``audienceadmin.debug.KeySafeExceptionReporterFilter``. Every text
  parsed from an answer goes through the call's ``Redactor``.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests
import urllib3.exceptions
from django.views.decorators.debug import sensitive_variables
from urllib3.exceptions import MaxRetryError, NewConnectionError

from audienceadmin.batch import deadline
from audienceadmin.batch.answers import MAX_MESSAGE_CHARS, parse_error_body, parse_retry_after
from audienceadmin.batch.errors import (
    BatchApiError,
    BatchError,
    BatchResponse,
    BatchUnavailable,
    NotSent,
    OutcomeUnknown,
)
from audienceadmin.batch.gate import PauseGate, StopCheck
from audienceadmin.batch.redaction import Redactor
from audienceadmin.batch.secrets import Credentials
from audienceadmin.batch.session import new_session

__all__ = ["MAX_MESSAGE_CHARS", "PauseGate", "StopCheck", "new_session", "parse_error_body"]

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503})
PAUSING_STATUSES = frozenset({429, 503})
MAX_ERROR_BODY = 64 * 1024
MAX_SUCCESS_BODY = 4 * 1024 * 1024

logger = logging.getLogger("audienceadmin.batch")
_shutting_down = threading.Event()
WATCHDOG_SLACK = 1.0  # seconds: the watchdog's wake-up, a socket's shutdown, the exception's way up


def refuse_new_calls() -> None:
    """From now on this process starts no new try (SIGTERM: calls in flight finish, no new one begins)."""
    _shutting_down.set()


def accept_calls_again() -> None:
    """Undo ``refuse_new_calls`` (tests)."""
    _shutting_down.clear()


def shutting_down() -> bool:
    return _shutting_down.is_set()


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    deadline: float = 30.0
    max_tries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    rate_limit_wait: float = 5.0
    min_try_window: float = 5.0  # capped by the read timeout and half the deadline (``try_window``)

    @property
    def hard_bound(self) -> float:
        """Seconds after which no call of this configuration can still be running, whatever Batch does."""
        return self.deadline + WATCHDOG_SLACK

    @property
    def try_window(self) -> float:
        """The least of the deadline a try needs to be worth sending (5 s with the defaults)."""
        return min(self.min_try_window, self.read_timeout, self.deadline / 2)


@dataclass(frozen=True)
class Request:
    """One call, described without its keys: ``path`` and header values may name ``{api_key}`` and
    ``{rest_api_key}``, filled in (percent-encoded in the path) only when the request is sent."""

    method: str
    path: str
    headers: Mapping[str, str]
    params: Mapping[str, str | int] | None = None
    json: Any = None
    known_errors: Mapping[int, tuple[str, str]] = field(default_factory=dict)


def _not_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before any byte of the request could reach Batch."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    cause = exc.args[0] if exc.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


# What the HTTP stack raises when a peer misbehaves (as opposed to a bug in this code).
_TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
    deadline.DeadlineExceeded,
)


@dataclass(frozen=True)
class _Answer:
    status: int
    retry_after: str | None
    body: bytes
    body_error: str


class Transport:
    """Thread-safe: one instance (one pooled ``requests.Session``) serves the whole process."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        watchdog: deadline.Watchdog = deadline.WATCHDOG,
    ) -> None:
        self.config = config
        self.session = session or new_session()
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._now = now
        self._watchdog = watchdog

    def new_gate(self) -> PauseGate:
        return PauseGate(clock=self._clock, sleep=self._sleep)

    def backoff(self, tries: int) -> float:
        """Seconds to wait after the ``tries``-th failed try: capped exponential, equal jitter."""
        ceiling = min(self.config.backoff_cap, self.config.backoff_base * 2 ** (tries - 1))
        return float(ceiling / 2 + self._jitter() * ceiling / 2)

    def call(
        self,
        request: Request,
        credentials: Credentials,
        *,
        gate: PauseGate | None = None,
        should_stop: StopCheck | None = None,
    ) -> BatchResponse:
        """Send ``request`` until Batch gives an answer worth keeping; raise a ``BatchError`` otherwise."""
        cfg = self.config
        redactor = Redactor(credentials.secrets())
        start = self._clock()
        tries = 0
        failure: BatchError | None = None  # the last retryable failure

        def stop_reason() -> str:
            if _shutting_down.is_set():
                return "shutting_down"
            return should_stop() if should_stop is not None else ""

        while True:
            left = cfg.deadline - (self._clock() - start)
            reason = stop_reason()
            if not reason and gate is not None:
                reason = gate.wait(stop_reason, at_most=max(0.0, left - cfg.try_window))
            left = cfg.deadline - (self._clock() - start)
            if not reason and left < cfg.try_window:
                reason = "deadline"
            if reason:
                raise self._given_up(failure, reason, tries, self._clock() - start)
            tries += 1
            try:
                # A socket read never outlasts the deadline by more than half the watchdog's slack: when the
                # deadline is what binds, the watchdog (at ``left``) speaks first, and says so.
                read_timeout = max(0.05, min(cfg.read_timeout, left + WATCHDOG_SLACK / 2))
                answer = self._exchange(request, credentials, read_timeout, left)
            except _ExchangeFailed as exc:
                elapsed = self._clock() - start
                if exc.reason != "connect":
                    raise exc.as_outcome(tries, elapsed) from None
                failure = BatchUnavailable("connect", tries=tries, elapsed=elapsed)  # nothing sent: try again
                self._before_retry(failure, None, stop_reason, start)
                continue
            status = answer.status
            elapsed = self._clock() - start
            if 200 <= status < 300:
                return BatchResponse(
                    status=status, data=self._data(answer, redactor), tries=tries, elapsed=elapsed,
                    body_error=answer.body_error,
                )  # fmt: skip
            name, code, message = parse_error_body(status, answer.body, redactor, request.known_errors)
            detail: dict[str, Any] = {"http_status": status, "name": name, "code": code, "message": message}
            if status == 504:
                raise OutcomeUnknown("gateway_timeout", tries=tries, elapsed=elapsed, **detail)
            if 300 <= status < 400:
                raise BatchUnavailable("redirect", tries=tries, elapsed=elapsed, **detail)
            if 400 <= status < 500 and status != 429:
                raise BatchApiError("rejected", tries=tries, elapsed=elapsed, **detail)
            if status not in RETRYABLE_STATUSES:
                raise BatchUnavailable("http", tries=tries, elapsed=elapsed, **detail)
            retry_after = None
            if status in PAUSING_STATUSES:
                retry_after = parse_retry_after(answer.retry_after, self._now)
            failure = BatchUnavailable("http", tries=tries, elapsed=elapsed, retry_after=retry_after, **detail)
            self._before_retry(failure, gate, stop_reason, start)

    def _before_retry(self, failure: BatchError, gate: PauseGate | None, stop_reason: StopCheck, start: float) -> None:
        """Wait as Batch asked (or back off), or raise ``failure`` if no further try makes sense."""
        cfg = self.config
        wait = self.backoff(failure.tries)
        if failure.retry_after is not None:
            wait = failure.retry_after
        elif failure.http_status == 429:
            wait = max(wait, cfg.rate_limit_wait)
        if gate is not None and failure.http_status in PAUSING_STATUSES:
            gate.pause(wait)  # every thread of the job waits; this one at the top of the loop
            wait = 0.0
        elapsed = self._clock() - start
        if failure.tries >= cfg.max_tries or elapsed + max(wait, gate.remaining() if gate else 0.0) >= cfg.deadline:
            raise failure
        logger.info(
            "Batch try %d failed (%s %s); retrying in %.2fs",
            failure.tries, failure.reason, failure.http_status or "", wait,
        )  # fmt: skip
        if wait:
            self._sleep(wait)
        if reason := stop_reason():
            raise self._given_up(failure, reason, failure.tries, self._clock() - start)

    @staticmethod
    def _given_up(failure: BatchError | None, reason: str, tries: int, elapsed: float) -> BatchError:
        """Nothing more will be sent: the last failure stands, or nothing was sent at all."""
        if failure is not None:
            failure.tries, failure.elapsed = tries, elapsed
            return failure
        return NotSent(reason, tries=0, elapsed=elapsed)

    @sensitive_variables()
    def _exchange(self, request: Request, credentials: Credentials, read_timeout: float, left: float) -> _Answer:
        cfg = self.config
        keys = {"api_key": credentials.api_key.reveal(), "rest_api_key": credentials.rest_api_key.reveal()}
        path = request.path.format(**{k: quote(v, safe="") for k, v in keys.items()})
        headers = {name: value.format(**keys) for name, value in request.headers.items()}
        with self._watchdog.exchange(left) as exchange:
            try:
                response = self.session.request(
                    request.method,
                    f"{cfg.base_url}{path}",
                    params=request.params,
                    headers=headers,
                    json=request.json,
                    timeout=(min(cfg.connect_timeout, left), read_timeout),
                    stream=True,
                    allow_redirects=False,
                )
            except _TRANSPORT_ERRORS as exc:
                raise _ExchangeFailed.classify(exc, exchange) from None
            body_error = ""
            limit = MAX_SUCCESS_BODY if 200 <= response.status_code < 300 else MAX_ERROR_BODY
            try:
                body = response.raw.read(limit, decode_content=True) or b""
            except _TRANSPORT_ERRORS as exc:
                body = b""
                body_error = "deadline" if exchange.expired else _body_error(exc)
            finally:
                response.close()
            if exchange.expired:  # the watchdog cut the body short: a read may have ended "cleanly"
                body_error = "deadline"
            return _Answer(response.status_code, response.headers.get("Retry-After"), body, body_error)

    @staticmethod
    def _data(answer: _Answer, redactor: Redactor) -> Any:
        if answer.body_error or not answer.body.strip():
            return None
        try:
            return redactor.data(json.loads(answer.body))
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None


class _ExchangeFailed(Exception):
    """Internal: no status line came back. ``reason`` and whether the request may have reached Batch."""

    def __init__(self, reason: str, *, sent: bool) -> None:
        super().__init__(reason)
        self.reason, self.sent = reason, sent

    @classmethod
    def classify(cls, exc: BaseException, exchange: deadline.Exchange) -> _ExchangeFailed:
        if exchange.expired or isinstance(exc, deadline.DeadlineExceeded):
            return cls("deadline", sent=exchange.sent)
        if isinstance(exc, requests.ReadTimeout):
            return cls("timeout", sent=True)
        if isinstance(exc, requests.exceptions.SSLError):
            return cls("tls", sent=False)
        if isinstance(exc, requests.ConnectionError):
            return cls("connect", sent=False) if _not_sent(exc) else cls("connection_lost", sent=True)
        if isinstance(exc, requests.RequestException) and not exchange.sent:
            return cls("invalid_request", sent=False)  # an invalid URL and the like: configuration
        return cls("connection_lost", sent=exchange.sent)

    def as_outcome(self, tries: int, elapsed: float) -> BatchError:
        if self.sent:
            return OutcomeUnknown(self.reason, tries=tries, elapsed=elapsed)
        return BatchUnavailable(self.reason, tries=tries, elapsed=elapsed)


def _body_error(exc: BaseException) -> str:
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | requests.ReadTimeout | TimeoutError):
        return "timeout"
    return "truncated"
