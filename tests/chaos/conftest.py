"""Chaos tests: real worker processes, a real database (a file of their own, a database of their own on
the suite's PostgreSQL, or a PostgreSQL cluster of their own to restart), the simulator over a real
socket — and then the world misbehaves: SIGKILL, SIGSTOP, SIGTERM, a database restart.

Every scenario ends with the same checks (``assert_job_truthful``): every item equals its audit, no
audience got two DELETEs from one job, nothing is recorded as sent that was not (or as deleted unless
Batch answered 200), no attempt is left open, and the audit chain verifies.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)

pytestmark = pytest.mark.chaos


@dataclass
class Stack:
    """A database of its own, the environment every process of the scenario shares, its processes."""

    tmp: Path
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    def remote(self, *args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "tests/chaos/remote.py", *args], cwd=ROOT, env=self.env, capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    def spawn(self, name: str, *args: str, **extra_env: str) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - the process owns it
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, *args], cwd=ROOT, env={**self.env, **extra_env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def worker(self, name: str = "worker") -> subprocess.Popen[bytes]:
        return self.spawn(name, "manage.py", "worker", "--interval", "0.2", "--no-startup-delay")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.tmp.glob("*.log"))

    def wait(self, what: str, predicate: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}\n{self.logs()}")
            time.sleep(0.2)

    def job(self, job_id: int) -> dict[str, Any]:
        return self.remote("job", str(job_id))

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGCONT)  # a paused one must be able to die
                os.killpg(process.pid, signal.SIGKILL)
        for process in self.processes:
            process.wait(timeout=30)


def _environment(database_url: str, simulator_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "BATCH_", "BULK_"))}
    env.update(
        {
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_LOG_FORMAT": "plain",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_SECURE_COOKIES": "false",
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "AUDIT_HMAC_KEYS": secrets.token_urlsafe(32),
            "DATABASE_URL": database_url,
            "BATCH_API_URL": simulator_url,
            "BATCH_API_TIMEOUT": "1.0",
            "BATCH_API_CONNECT_TIMEOUT": "0.5",
            "BATCH_API_DEADLINE": "1.5",
            "BATCH_API_MAX_TRIES": "3",
            "BULK_CONCURRENCY": "4",
            "BULK_LEASE_SECONDS": "4",  # renewed every 0.33 s; held at least the hard bound + a margin
            "AUDIT_SWEEP_GRACE": "1",
            "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT": "2",  # a frozen worker's locks are freed after 2 s
            "MFA_REQUIRED": "false",  # the operator signs in with a password (MFA is tested elsewhere)
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _suite_database() -> str:
    return settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]


@pytest.fixture
def stack(tmp_path: Path, simulator) -> Iterator[Stack]:
    """On the suite's kind of database: a SQLite file, or a new database on the suite's PostgreSQL."""
    if _suite_database() == "postgresql":
        import psycopg

        server = {k: settings.DATABASES["default"][k] for k in ("HOST", "PORT", "USER", "PASSWORD")}
        name = f"chaos_{secrets.token_hex(6)}"
        url = f"postgres://{server['USER']}:{server['PASSWORD'] or ''}@{server['HOST']}:{server['PORT']}"
        with psycopg.connect(f"{url}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        database_url = f"{url}/{name}"
    else:
        name, url = "", ""
        database_url = f"sqlite:///{tmp_path / 'chaos.sqlite3'}"
    stack = Stack(tmp=tmp_path, env=_environment(database_url, simulator.url))
    stack.manage("migrate", "--no-input", "-v0")
    try:
        yield stack
    finally:
        stack.stop_all()
        if name:
            with psycopg.connect(f"{url}/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass
class Cluster:
    """A PostgreSQL server of the test's own, to stop and start as an operator would."""

    data: Path
    port: int

    def pg_ctl(self, *args: str) -> None:
        socket_dir = self.data.parent
        options = f"-p {self.port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options,
             "-l", str(self.data.parent / "server.log"), "-w", *args],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if PG_BIN is None or shutil.which("runuser") is None or os.geteuid() != 0:
        pytest.skip("needs PostgreSQL's server programs and root (to run them as the postgres user)")
    home = Path(tempfile.mkdtemp(prefix="audienceadmin-pg-"))  # pytest's tmp_path is closed to other users
    shutil.chown(home, "postgres")
    data = home / "data"
    subprocess.run(
        ["runuser", "-u", "postgres", "--", str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = Cluster(data=data, port=port)
    server.pg_ctl("start")
    try:
        yield server
    finally:
        server.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def pg_stack(cluster: Cluster, tmp_path: Path, simulator) -> Iterator[Stack]:
    """On a PostgreSQL server of the test's own, whatever the suite's database: for the scenarios that
    need several workers at once (SQLite is one worker's database: a frozen process would hold its
    write lock), or a server to restart."""
    stack = Stack(tmp=tmp_path, env=_environment(f"postgres://postgres@127.0.0.1:{cluster.port}/postgres",
                                                 simulator.url))  # fmt: skip
    stack.manage("migrate", "--no-input", "-v0")
    try:
        yield stack
    finally:
        stack.stop_all()


def assert_job_truthful(stack: Stack, job_id: int, simulator) -> dict[str, Any]:
    """The checks every scenario ends with (see the module's docstring). Returns the job's items."""
    check = stack.remote("check", str(job_id))
    assert check["audit"]["ok"], check["audit"]["problem"]
    assert check["open_attempts"] == [], "an attempt was left without an outcome"
    deletes = [r for r in simulator.requests if r.method == "DELETE"]
    sent = Counter(r.path.rsplit("/", 1)[-1] for r in deletes)
    twice = {name: n for name, n in sent.items() if n > 1}
    assert twice == {}, f"audiences DELETEd more than once by one job: {twice}"
    answered_200 = {r.path.rsplit("/", 1)[-1] for r in deletes if r.status == 200}
    for item in check["items"]:
        assert item["state"] in ("done", "skipped"), item  # the job has ended: nothing left in between
        if item["state"] == "done":
            assert item["outcome"] == item["audit"], f"item and audit disagree: {item}"
        if item["outcome"] == "deleted":
            assert item["audience"] in answered_200, f"recorded deleted without a 200 from Batch: {item}"
        if item["outcome"] in ("not_sent", "") or item["state"] == "skipped":
            assert item["audience"] not in sent, f"recorded as not sent, but Batch received it: {item}"
    return check
