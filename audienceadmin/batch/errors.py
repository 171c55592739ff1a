"""The client's small vocabulary of outcomes, so callers cannot mistake a failure for success.

* ``BatchResponse``     Batch answered 2xx (its body may have been unreadable: ``body_error`` says so).
* ``BatchApiError``     Batch gave a final answer refusing the call (4xx other than 429).
* ``BatchUnavailable``  not carried out: Batch could not be reached, answered a redirect, or kept
                        failing (5xx/429) until the tries or the deadline ran out.
* ``OutcomeUnknown``    the request was sent, then no answer came (read timeout, connection lost,
                        the deadline, 504 from a proxy): Batch may or may not have acted on it.
* ``NotSent``           the client refused to send (the job was cancelled, the process is shutting
                        down, too little of the deadline was left): nothing reached Batch.

No message or attribute of these contains a key: every text in them was parsed from Batch's answer
and passed through the call's ``Redactor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def answer_label(status: int | None, error_name: str) -> str:
    """How the pages name an answer from Batch: "HTTP 503 MAINTENANCE_ERROR", "HTTP 200", or ""."""
    return " ".join(filter(None, [f"HTTP {status}" if status else "", error_name]))


@dataclass(frozen=True)
class BatchResponse:
    status: int
    data: Any
    tries: int
    elapsed: float
    body_error: str = ""  # "" or why the body could not be read (the status still stands)


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
    """Not carried out: Batch was unreachable, redirected, or kept failing until tries/deadline ran out."""


class OutcomeUnknown(BatchError):
    """The request was sent but no answer came back: Batch may or may not have acted on it."""


class NotSent(BatchError):
    """The client refused to send the request: nothing reached Batch."""
