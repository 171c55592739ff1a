"""`make run`: the development web server and a task worker, as one command (Ctrl-C stops both).

A small supervisor: a worker that exits (a bug, a full disk, the database gone for good) is started
again, with a growing pause between restarts; the web server exiting ends everything. Ctrl-C or
SIGTERM stops both children — the worker gracefully (SIGTERM: it finishes its calls in flight and
gives its job back) — and kills whatever has not stopped within ``STOP_WITHIN`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

STOP_WITHIN = 45.0  # seconds: above the client's deadline, so that a call in flight is recorded
RESTART_PAUSE = (1.0, 30.0)  # seconds before a worker is started again: the first, the most


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def serve(addr: str, *, env: dict[str, str] | None = None, reload: bool = True) -> int:
    """Run `runserver` and `worker` side by side until the server stops, Ctrl-C or SIGTERM; returns an
    exit code. A worker that exits meanwhile is started again."""
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    env = {**os.environ, **(env or {})}

    def start(*args: str) -> subprocess.Popen[bytes]:
        # Each child leads a process group of its own (runserver's reloader runs the server as a child
        # of its own): stopping a group stops all of it, however this command itself was signalled.
        return subprocess.Popen([*manage, *args], env=env, start_new_session=True)  # noqa: S603

    def start_worker() -> subprocess.Popen[bytes]:
        return start("worker", "--interval", "0.5")

    web = start("runserver", addr, *([] if reload else ["--noreload"]))
    worker = start_worker()
    pause, restart_at = RESTART_PAUSE[0], 0.0
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        while web.poll() is None:
            if worker.poll() is not None:
                if not restart_at:
                    print(f"The worker exited ({worker.returncode}); starting it again in {pause:.0f} s.", flush=True)
                    restart_at = time.monotonic() + pause
                elif time.monotonic() >= restart_at:
                    worker, restart_at = start_worker(), 0.0
                    pause = min(pause * 2, RESTART_PAUSE[1])
            time.sleep(0.25)
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop([(web, signal.SIGINT), (worker, signal.SIGTERM)])
    return web.returncode or 0


def _stop(children: list[tuple[subprocess.Popen[bytes], int]]) -> None:
    for child, signum in children:
        _signal_group(child, signum)
    deadline = time.monotonic() + STOP_WITHIN
    for child, _ in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.wait()
        _signal_group(child, signal.SIGKILL)  # whatever the group leader left behind


def _signal_group(child: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signum)


class Command(BaseCommand):
    help = "Run the development web server and a background task worker (bulk deletion) together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addr", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, addr: str, **options: Any) -> None:
        sys.exit(serve(addr))
