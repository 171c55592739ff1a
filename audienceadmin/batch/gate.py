"""The pause gate: one per bulk job, shared by its threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# What a call may be told not to do: a callable answering why (a short word) or "".
StopCheck = Callable[[], str]


class PauseGate:
    """Shared by the threads of one bulk job: a 429 or 503 seen by any of them pauses them all
    (each waits at the gate before its next try) for as long as Batch asked."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._clock: Callable[[], float] = clock
        self._sleep: Callable[[float], None] = sleep
        self._until = 0.0
        self._lock = threading.Lock()
        self.pauses = 0

    def pause(self, seconds: float) -> None:
        with self._lock:
            until = self._clock() + seconds
            if until > self._until:
                self._until = until
                self.pauses += 1

    def remaining(self) -> float:
        with self._lock:
            return max(0.0, self._until - self._clock())

    def wait(self, should_stop: StopCheck | None = None, *, at_most: float | None = None) -> str:
        """Wait until the pause is over: "" then; or why waiting stopped early ("cancelled"...,
        "pause_too_long" when the pause outlasts ``at_most`` seconds)."""
        waited = 0.0
        while (remaining := self.remaining()) > 0:
            if should_stop is not None and (reason := should_stop()):
                return reason
            if at_most is not None and waited + remaining > at_most:
                return "pause_too_long"
            step = min(remaining, 0.25)
            self._sleep(step)
            waited += step
        return ""
