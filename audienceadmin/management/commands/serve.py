"""`make run`: the development web server and a task worker, as one command (Ctrl-C stops both)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from audienceadmin import services


def serve(addr: str, *, env: dict[str, str] | None = None, reload: bool = True) -> int:
    """Run `runserver` and `db_worker` side by side until either stops or Ctrl-C; returns an exit code."""
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    env = {**os.environ, **(env or {})}
    resumed = services.bulk_jobs_resume()
    if resumed:
        print(f"Queued again {resumed} bulk job(s) whose worker had stopped.", flush=True)
    web = subprocess.Popen([*manage, "runserver", addr, *([] if reload else ["--noreload"])], env=env)  # noqa: S603
    worker_args = ["db_worker", "--interval", "0.5", *([] if reload else ["--no-reload"])]
    worker = subprocess.Popen([*manage, *worker_args], env=env)  # noqa: S603
    children = [web, worker]
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
    return max((child.returncode or 0) for child in children)


class Command(BaseCommand):
    help = "Run the development web server and a background task worker (bulk deletion) together."

    def add_arguments(self, parser) -> None:
        parser.add_argument("addr", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addr: str, **options) -> None:
        sys.exit(serve(addr))
