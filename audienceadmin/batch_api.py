"""The one client for Batch's Custom Audience API.

It owns routes, headers, timeouts, retries and error parsing, and knows nothing of models or of
the people using the dashboard. Every call has a connect and a read timeout and runs within an
overall deadline. Only idempotent calls (DELETE, GET) are made, so retrying is safe where the
request never reached Batch or Batch answered 429/500/502/503.

Outcomes are exceptions of a small vocabulary, so callers cannot mistake a failure for success:

* ``BatchApiError``     Batch gave a final answer refusing the call (4xx other than 429).
* ``BatchUnavailable``  Batch could not be reached, or kept failing (5xx/429) until the tries or the
                        deadline ran out. The request was not carried out, as far as Batch told us.
* ``OutcomeUnknown``    the request was sent, then no answer came (read timeout, connection lost,
                        504 from a proxy): Batch may or may not have acted on it.

No message or exception raised here contains an API key or a REST API key.
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError

AUDIENCE_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,255}")
API_VERSION = "1.1"

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
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503})
MAX_ERROR_BODY = 64 * 1024
MAX_SUCCESS_BODY = 4 * 1024 * 1024
MAX_MESSAGE_CHARS = 500
_ERROR_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]{1,63}")
_KEY_IN_PATH_RE = re.compile(r"(/1\.[01]/)[^/\s\"?]+")

logger = logging.getLogger(__name__)


def answer_label(status: int | None, error_name: str) -> str:
    """How the pages name an answer from Batch: "HTTP 503 MAINTENANCE_ERROR", "HTTP 200", or ""."""
    return " ".join(filter(None, [f"HTTP {status}" if status else "", error_name]))


def is_valid_audience_name(name: str) -> bool:
    return AUDIENCE_NAME_RE.fullmatch(name) is not None


@dataclass(frozen=True)
class Credentials:
    api_key: str = field(repr=False)
    rest_api_key: str = field(repr=False)

    def redact(self, text: str) -> str:
        for secret in (self.api_key, self.rest_api_key):
            if secret and len(secret) >= 4:
                text = text.replace(secret, "[redacted]")
        return text


@dataclass(frozen=True)
class BatchResponse:
    status: int
    data: Any
    tries: int
    elapsed: float


class BatchError(Exception):
    """Base of the client's outcomes. ``reason`` is a short machine word, the rest is for people."""

    def __init__(
        self,
        reason: str,
        *,
        http_status: int | None = None,
        name: str = "",
        code: str = "",
        message: str = "",
        tries: int = 1,
        elapsed: float = 0.0,
        retry_after: float | None = None,
    ) -> None:
        self.reason = reason
        self.http_status = http_status
        self.name = name
        self.code = code
        self.message = message
        self.tries = tries
        self.elapsed = elapsed
        self.retry_after = retry_after
        status = f"HTTP {http_status}" if http_status is not None else ""
        super().__init__(" ".join(filter(None, [reason, status, name, message])))


class BatchApiError(BatchError):
    """Batch refused the call with a final 4xx answer. Retrying the same call will not help."""


class BatchUnavailable(BatchError):
    """Not carried out: Batch was unreachable or kept failing until tries/deadline ran out."""


class OutcomeUnknown(BatchError):
    """The request was sent but no answer came back: Batch may or may not have acted on it."""


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


def _parse_retry_after(value: str | None, now: Callable[[], datetime]) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def _clean_message(text: str, credentials: Credentials) -> str:
    text = " ".join(credentials.redact(text).split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text


def parse_error_body(status: int, body: bytes, credentials: Credentials) -> tuple[str, str, str]:
    """(error name, error code, message) from whatever Batch or a proxy sent; never raises.

    Batch's error body is not documented: public clients read ``message`` and some ``code``,
    ``error_code`` or ``error_message``. Names are taken from string values that look like
    ``UPPER_SNAKE``, codes from integers; the documented table fills what the body lacks.
    """
    name = code = message = ""
    data: Any = None
    try:
        data = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict):
        for key in ("error_code", "code", "error", "name"):
            value = data.get(key)
            if isinstance(value, bool):
                continue
            if isinstance(value, int) and not code:
                code = str(value)
            elif isinstance(value, str):
                if not name and _ERROR_NAME_RE.fullmatch(value):
                    name = value
                elif not code and value.isdigit() and len(value) <= 6:
                    code = value
        for key in ("message", "error_message"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                message = _clean_message(value, credentials)
                break
    known_name, known_code = KNOWN_ERRORS.get(status, ("", ""))
    if not name:
        name = known_name
    if not code and name == known_name:
        code = known_code
    return name, code, message


def _not_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before any byte of the request could reach Batch."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    cause = exc.args[0] if exc.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, NewConnectionError)


def _read_bounded(response: requests.Response, limit: int) -> bytes:
    try:
        return response.raw.read(limit, decode_content=True) or b""
    finally:
        response.close()


class PauseGate:
    """Shared by the threads of one bulk job: a 429 or 503 seen by any of them pauses them all
    (each waits at the gate before its next try) for as long as Batch asked."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._clock, self._sleep = clock, sleep
        self._until = 0.0
        self._lock = threading.Lock()
        self.pauses = 0

    def pause(self, seconds: float) -> None:
        with self._lock:
            until = self._clock() + seconds
            if until > self._until:
                self._until = until
                self.pauses += 1

    def wait(self) -> None:
        while True:
            with self._lock:
                remaining = self._until - self._clock()
            if remaining <= 0:
                return
            self._sleep(min(remaining, 0.5))


class BatchClient:
    """Thread-safe: one instance (and one pooled ``requests.Session``) serves the whole process."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        gate: PauseGate | None = None,
    ) -> None:
        self.config = config
        self.gate = gate
        self.session = session or self._new_session()
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._now = now

    @staticmethod
    def _new_session() -> requests.Session:
        session = requests.Session()
        # No cookie is ever kept: the session is shared between threads and needs no state.
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    # --- routes ----------------------------------------------------------------------------
    def delete_audience(self, credentials: Credentials, name: str) -> BatchResponse:
        return self._call("DELETE", credentials, f"custom-audience/{quote(name, safe='')}")

    def get_audience(self, credentials: Credentials, name: str) -> BatchResponse:
        return self._call("GET", credentials, f"custom-audience/{quote(name, safe='')}")

    def list_audiences(self, credentials: Credentials, *, offset: int = 0, limit: int = 10) -> BatchResponse:
        if not 1 <= limit <= 100 or offset < 0:
            raise ValueError("limit must be 1..100 and offset >= 0")
        return self._call("GET", credentials, "custom-audience", params={"from": offset, "limit": limit})

    # --- the one place HTTP happens ----------------------------------------------------------
    def backoff(self, tries: int) -> float:
        """Seconds to wait after the ``tries``-th failed try: capped exponential, equal jitter."""
        ceiling = min(self.config.backoff_cap, self.config.backoff_base * 2 ** (tries - 1))
        return ceiling / 2 + self._jitter() * ceiling / 2

    def new_gate(self) -> PauseGate:
        return PauseGate(clock=self._clock, sleep=self._sleep)

    def with_gate(self, gate: PauseGate) -> BatchClient:
        """The same client (same connection pool) with a shared pause gate."""
        return BatchClient(
            self.config, session=self.session, sleep=self._sleep, clock=self._clock, jitter=self._jitter,
            now=self._now, gate=gate,
        )  # fmt: skip

    def _call(
        self,
        method: str,
        credentials: Credentials,
        route: str,
        params: dict[str, int] | None = None,
    ) -> BatchResponse:
        cfg = self.config
        url = f"{cfg.base_url}/{API_VERSION}/{quote(credentials.api_key, safe='')}/{route}"
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Authorization": credentials.rest_api_key,
        }
        start = self._clock()
        tries = 0
        while True:
            tries += 1
            if self.gate is not None:
                self.gate.wait()
            remaining = cfg.deadline - (self._clock() - start)
            read_timeout = max(0.05, min(cfg.read_timeout, remaining))
            failure: BatchUnavailable
            retry_after: float | None = None
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    headers=headers,
                    timeout=(cfg.connect_timeout, read_timeout),
                    stream=True,
                    allow_redirects=False,
                )
            except requests.ReadTimeout:
                raise OutcomeUnknown("timeout", tries=tries, elapsed=self._clock() - start) from None
            except requests.ConnectionError as exc:
                if isinstance(exc, requests.exceptions.SSLError):
                    raise BatchUnavailable("tls", tries=tries, elapsed=self._clock() - start) from None
                if not _not_sent(exc):
                    raise OutcomeUnknown("connection_lost", tries=tries, elapsed=self._clock() - start) from None
                failure = BatchUnavailable("connect", tries=tries)
            except requests.RequestException:
                # Invalid URL and the like: a configuration problem; nothing was sent.
                raise BatchUnavailable("invalid_request", tries=tries, elapsed=self._clock() - start) from None
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return self._success(response, status, tries, start)
                try:
                    body = _read_bounded(response, MAX_ERROR_BODY)
                except (requests.RequestException, OSError, ValueError):
                    body = b""
                name, code, message = parse_error_body(status, body, credentials)
                elapsed = self._clock() - start
                detail = {"http_status": status, "name": name, "code": code, "message": message}
                if status == 504:
                    raise OutcomeUnknown("gateway_timeout", tries=tries, elapsed=elapsed, **detail)
                if status not in RETRYABLE_STATUSES:
                    if 400 <= status < 500:
                        raise BatchApiError("rejected", tries=tries, elapsed=elapsed, **detail)
                    reason = "redirect" if 300 <= status < 400 else "http"
                    raise BatchUnavailable(reason, tries=tries, elapsed=elapsed, **detail)
                if status in (429, 503):
                    retry_after = _parse_retry_after(response.headers.get("Retry-After"), self._now)
                failure = BatchUnavailable("http", tries=tries, **detail)

            wait = self.backoff(tries)
            if retry_after is not None:
                wait = retry_after
            elif failure.http_status == 429:
                wait = max(wait, cfg.rate_limit_wait)
            failure.retry_after = retry_after
            if self.gate is not None and failure.http_status in (429, 503):
                self.gate.pause(wait)
            elapsed = self._clock() - start
            if tries >= cfg.max_tries or elapsed + wait >= cfg.deadline:
                failure.tries = tries
                failure.elapsed = elapsed
                raise failure
            logger.info(
                "Batch %s try %d failed (%s %s); retrying in %.2fs",
                method,
                tries,
                failure.reason,
                failure.http_status or "",
                wait,
            )
            self._sleep(wait)

    def _success(self, response: requests.Response, status: int, tries: int, start: float) -> BatchResponse:
        # The status line is Batch's answer; a body that cannot be read does not undo it.
        try:
            body = _read_bounded(response, MAX_SUCCESS_BODY)
            data = json.loads(body) if body.strip() else None
        except (requests.RequestException, OSError, ValueError):
            data = None
        return BatchResponse(status=status, data=data, tries=tries, elapsed=self._clock() - start)


class _RedactKeysInUrls(logging.Filter):
    """urllib3 logs request lines at DEBUG; the API key is a path segment there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                _KEY_IN_PATH_RE.sub(r"\1<key>", a) if isinstance(a, str) else a
                for a in (record.args if isinstance(record.args, tuple) else (record.args,))
            )
        record.msg = _KEY_IN_PATH_RE.sub(r"\1<key>", str(record.msg))
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactKeysInUrls())


@lru_cache(maxsize=4)
def _client_for(config: ClientConfig) -> BatchClient:
    return BatchClient(config)


def config_from_settings() -> ClientConfig:
    from django.conf import settings

    return ClientConfig(
        base_url=settings.BATCH_API_URL.rstrip("/"),
        connect_timeout=settings.BATCH_API_CONNECT_TIMEOUT,
        read_timeout=settings.BATCH_API_TIMEOUT,
        deadline=settings.BATCH_API_DEADLINE,
        max_tries=settings.BATCH_API_MAX_TRIES,
    )


def get_client() -> BatchClient:
    """The process-wide client for the current settings."""
    return _client_for(config_from_settings())
