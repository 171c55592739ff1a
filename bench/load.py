"""Benchmark: operators deleting audiences at once through two gunicorn instances sharing PostgreSQL.

    .venv/bin/python bench/load.py [--operators 8] [--seconds 20] [--workers 2]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/load.py
        # the default; a database "audienceadmin_load" is (re)created next to the one named (never touched)

Starts the Batch simulator in this process (0.02 s latency), migrates a fresh database, collects the
static files, starts two gunicorn instances on loopback (production settings: DJANGO_DEBUG=false,
JSON logs, generated secrets; plain HTTP, so secure cookies and the HTTPS redirect are off), creates
N operators and one app with enough audiences, then runs N operator threads for a bounded time.
Each logs in through the login form and deletes its own audiences through the two-step form
(POST /delete/, then POST /delete/confirm/); consecutive requests of an operator go to alternate
instances, so every step also proves that sessions and CSRF do not depend on the instance.

Then it checks that every request was answered (2xx/3xx), that every attempt has exactly one
*requested* and one *completed* audit event, that the simulator's DELETE 200 count equals the audit's
`deleted` count, and that `manage.py verify_audit_log` passes; and prints requests/s, the confirm
POST's p50/p95 latency and p50 / simulator latency. It prints figures; it asserts nothing on timing.
Logs of the instances: bench/out/load-gunicorn-*.log.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path[:0] = [str(ROOT)]

DATABASE = "audienceadmin_load"
SIMULATOR_LATENCY = 0.02
PASSWORD = "load-" + secrets.token_urlsafe(16)
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LISTENING_RE = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")


def database_url() -> str:
    """Recreate the load database next to the one DATABASE_URL names; return its URL."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    if not url.startswith("postgres"):
        raise SystemExit("bench/load.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    parsed = urlparse(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    return parsed._replace(path=f"/{DATABASE}").geturl()


def environment(db_url: str, batch_url: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GUNICORN_"))}
    env.update({
        "DATABASE_URL": db_url, "BATCH_API_URL": batch_url,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "AUDIT_HMAC_KEYS": secrets.token_urlsafe(32),
        "DJANGO_DEBUG": "false", "DJANGO_SECURE_COOKIES": "false", "DJANGO_SECURE_SSL_REDIRECT": "false",
        "MFA_REQUIRED": "false",  # the benchmark's operators sign in with a password only
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_STATIC_ROOT": str(OUT / "load-static"),
        "DJANGO_SETTINGS_MODULE": "audienceadmin.settings",
    })  # fmt: skip
    return env


def seed(operators: int, per_operator: int, simulator) -> list[list[str]]:
    """N operators (one password hash for all: hashing is not what is measured), one app."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from audienceadmin import roles, services

    User = get_user_model()
    hashed = make_password(PASSWORD)
    users = User.objects.bulk_create([User(username=f"op{i:02d}", password=hashed) for i in range(operators)])
    Group.objects.get(name=roles.OPERATORS).user_set.add(*users)
    api_key, rest_key = "LOADAPI" + secrets.token_hex(12), "LOADREST" + secrets.token_hex(12)
    names = [[f"op{i:02d}-aud-{n:05d}" for n in range(per_operator)] for i in range(operators)]
    simulator.add_app(api_key, rest_key, audiences=[name for mine in names for name in mine])
    services.app_create(actor=None, name="Load app", api_key=api_key, rest_api_key=rest_key, ip=None)
    return names


class Instance:
    def __init__(self, label: str, env: dict[str, str], workers: int) -> None:
        self.label = label
        self.log_path = OUT / f"load-gunicorn-{label}.log"
        self.log = self.log_path.open("w")
        env = env | {"GUNICORN_BIND": "127.0.0.1:0", "GUNICORN_WORKERS": str(workers), "DJANGO_LOG_LEVEL": "INFO"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "audienceadmin/gunicorn.conf.py", "audienceadmin.wsgi"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.url = ""

    def wait_ready(self, timeout: float = 30) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn {self.label} exited: see {self.log_path}")
            if not self.url and (found := LISTENING_RE.search(self.log_path.read_text())):
                self.url = found.group(1)
            if self.url:
                try:
                    if requests.get(f"{self.url}/readyz", timeout=10).status_code == 200:
                        return
                except requests.RequestException:
                    pass
            time.sleep(0.1)
        raise SystemExit(f"gunicorn {self.label} not ready after {timeout} s: see {self.log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    ready: int = 0  # operators done logging in (or failed to)
    confirmed: int = 0
    exhausted: int = 0

    def add(self, step: str, status: int | str, seconds: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.latencies.setdefault(step, []).append(seconds)
            if not (isinstance(status, int) and 200 <= status < 400):
                self.errors.append(f"{step}: {status}")


@dataclass
class Window:
    """When the operators may start deleting, and when they stop (set once all have logged in)."""

    start: threading.Event = field(default_factory=threading.Event)
    stop_at: float = 0.0


LOGIN_STEPS = ("login form", "login")


def operator(index: int, names: list[str], urls: list[str], window: Window, tally: Tally) -> None:
    import requests

    session = requests.Session()
    turn = index  # alternate instances request by request, starting at a different one per operator

    def call(step: str, method: str, path: str, expect: int, **kwargs):
        nonlocal turn
        url = urls[turn % len(urls)] + path
        turn += 1
        t = time.perf_counter()
        try:
            response = session.request(method, url, allow_redirects=False, timeout=(3, 60), **kwargs)
        except requests.RequestException as exc:
            tally.add(step, type(exc).__name__, time.perf_counter() - t)
            return None
        tally.add(step, response.status_code, time.perf_counter() - t)
        return response if response.status_code == expect else None

    try:
        page = call("login form", "GET", "/accounts/login/", 200)
        token = CSRF_RE.search(page.text).group(1) if page is not None else ""
        data = {"login": f"op{index:02d}", "password": PASSWORD, "csrfmiddlewaretoken": token}
        logged_in = call("login", "POST", "/accounts/login/", 302, data=data) is not None
    finally:
        with tally.lock:
            tally.ready += 1
    if not logged_in or not window.start.wait(timeout=300):
        return
    form = call("delete form", "GET", "/delete/", 200)
    found = form is not None and re.search(r'<option value="(\d+)"[^>]*>Load app</option>', form.text)
    if not found:
        return
    app = found.group(1)
    for name in names:
        if time.monotonic() >= window.stop_at:
            return
        csrf = {"csrfmiddlewaretoken": session.cookies.get("csrftoken", "")}
        step1 = call("POST /delete/", "POST", "/delete/", 200, data={"app": app, "name": name, **csrf})
        ticket = step1 is not None and re.search(r'name="ticket" value="([^"]+)"', step1.text)
        if not ticket:
            continue
        confirm = {"app": app, "name": name, "confirm_name": name, "ticket": ticket.group(1), **csrf}
        done = call("POST /delete/confirm/", "POST", "/delete/confirm/", 302, data=confirm)
        if done is not None:
            with tally.lock:
                tally.confirmed += 1
    with tally.lock:
        tally.exhausted += 1


def percentile(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def audit_checks() -> dict:
    from django.db.models import Count, Q

    from audienceadmin.models import AuditEvent

    Kind = AuditEvent.Kind
    per_attempt = (
        AuditEvent.objects.filter(kind__in=[Kind.DELETE_REQUESTED, Kind.DELETE_COMPLETED])
        .order_by()
        .values("attempt")
        .annotate(
            requested=Count("id", filter=Q(kind=Kind.DELETE_REQUESTED)),
            completed=Count("id", filter=Q(kind=Kind.DELETE_COMPLETED)),
        )
    )
    attempts = list(per_attempt)
    completed = AuditEvent.objects.filter(kind=Kind.DELETE_COMPLETED)
    return {
        "attempts": len(attempts),
        "bad_attempts": [a for a in attempts if (a["requested"], a["completed"]) != (1, 1)],
        "outcomes": dict(Counter(completed.values_list("outcome", flat=True))),
        "events": AuditEvent.objects.count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operators", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance (4 threads each)")
    args = parser.parse_args()
    if not (1 <= args.operators <= 200 and 1 <= args.seconds <= 600 and 1 <= args.workers <= 16):
        raise SystemExit("--operators 1..200, --seconds 1..600, --workers 1..16")
    OUT.mkdir(parents=True, exist_ok=True)

    from audienceadmin.batch.simulator import BatchSimulator

    simulator = BatchSimulator(latency=SIMULATOR_LATENCY).start()
    instances: list[Instance] = []
    try:
        env = environment(database_url(), simulator.url)
        os.environ.update(env | {"DJANGO_LOG_LEVEL": "WARNING"})
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("collectstatic", "--no-input", verbosity=0)
        # at most one delete per simulator latency per operator: enough names, whatever the speed
        names = seed(args.operators, int(args.seconds / SIMULATOR_LATENCY) + 10, simulator)
        instances = [Instance(label, env, args.workers) for label in ("a", "b")]
        for instance in instances:
            instance.wait_ready()
        urls = [instance.url for instance in instances]
        print(f"PostgreSQL {DATABASE}; 2 gunicorn instances ({args.workers} workers x 4 threads) at {', '.join(urls)}")
        print(f"simulator latency {SIMULATOR_LATENCY * 1000:.0f} ms; {args.operators} operators for {args.seconds:g} s")

        tally, window = Tally(), Window()
        threads = [
            threading.Thread(target=operator, args=(i, names[i], urls, window, tally), daemon=True)
            for i in range(args.operators)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 300  # logins are not measured (password hashing)
        while tally.ready < args.operators and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        window.stop_at = started + args.seconds
        window.start.set()
        for thread in threads:
            thread.join(timeout=max(1.0, window.stop_at + 120 - time.monotonic()))
        elapsed = time.monotonic() - started
    finally:
        for instance in instances:
            instance.stop()
        simulator.stop()

    hung = sum(t.is_alive() for t in threads)
    requests_total = sum(len(v) for k, v in tally.latencies.items() if k not in LOGIN_STEPS)
    deletes = [r for r in simulator.requests if r.method == "DELETE"]
    sim_deleted = sum(r.status == 200 for r in deletes)
    audit = audit_checks()
    verify = subprocess.run(
        [sys.executable, "manage.py", "verify_audit_log"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    confirm = tally.latencies.get("POST /delete/confirm/", [])
    step1 = tally.latencies.get("POST /delete/", [])
    p50, p95 = percentile(confirm, 50), percentile(confirm, 95)

    rate = requests_total / elapsed
    print(f"\n  HTTP requests                     {requests_total:,} in {elapsed:.1f} s = {rate:.1f}/s")
    print(f"  deletions confirmed               {tally.confirmed:,} = {tally.confirmed / elapsed:.1f}/s")
    print(f"  POST /delete/ (step 1)            p50 {percentile(step1, 50) * 1000:.0f} ms, "
          f"p95 {percentile(step1, 95) * 1000:.0f} ms")  # fmt: skip
    print(f"  POST /delete/confirm/             p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    print(f"  confirm p50 / simulator latency   {p50 / SIMULATOR_LATENCY:.1f}x")
    print(f"  statuses                          {dict(sorted(tally.statuses.items(), key=str))}")
    checks = [
        ("every request answered 2xx/3xx", f"{len(tally.errors)} not", not tally.errors and not hung),
        ("one requested + one completed per attempt", f"{audit['attempts']:,} attempts, "
         f"{len(audit['bad_attempts'])} bad", not audit["bad_attempts"]),
        ("attempts == confirmed deletions", f"{audit['attempts']:,} vs {tally.confirmed:,}",
         audit["attempts"] == tally.confirmed),
        ("simulator DELETE 200 == audit deleted", f"{sim_deleted:,} vs {audit['outcomes'].get('deleted', 0):,}",
         sim_deleted == audit["outcomes"].get("deleted", 0)),
        ("verify_audit_log", (verify.stdout.strip().splitlines() or ["?"])[-1] + f" ({audit['events']:,} events)",
         verify.returncode == 0),
    ]  # fmt: skip
    print("\n  check                                          result")
    for label, result, ok in checks:
        print(f"  {label:<46} {result:<34} {'ok' if ok else 'FAILED'}")
    if tally.errors:
        print(f"  first errors: {tally.errors[:5]}")
    if tally.exhausted:
        print(f"  note: {tally.exhausted} operator(s) ran out of audiences before the time was up")
    sys.exit(0 if all(ok for *_, ok in checks) else 1)


if __name__ == "__main__":
    main()
