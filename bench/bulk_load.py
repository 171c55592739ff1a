"""Benchmark: what a bulk job costs while operators work, and where its time goes.

    .venv/bin/python bench/bulk_load.py [--items 500] [--operators 6] [--latency 0.05] [--concurrency 8]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/bulk_load.py   # on PostgreSQL

Real processes, as in production: one gunicorn instance (2 workers x 4 threads) for the operators, one
`manage.py worker` for the job, the Batch simulator in this process (``--latency`` per call), on a
database of its own (bench/out/bulk_load.sqlite3, or a database "audienceadmin_bulk_load" beside the
one DATABASE_URL names). Twice, in the same run: a job of ``--items`` audiences alone, then the same
size of job while ``--operators`` operators delete single audiences through the two-step pages.

For each it prints the job's wall time against the ideal (items x latency / concurrency), and where an
item's time went, from the audit trail: the Batch call (``duration_ms`` of its completed event) and
the rest — recording the item (two audit appends, each under the chain's lock) and waiting for a free
slot and for the database. On PostgreSQL it also samples how many sessions wait on the audit chain's
advisory lock. Prints figures; asserts nothing.
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
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path[:0] = [str(ROOT)]

DATABASE = "audienceadmin_bulk_load"
PASSWORD = "bulk-load-" + secrets.token_urlsafe(16)
LISTENING_RE = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")


def database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        path = OUT / "bulk_load.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    return urlparse(url)._replace(path=f"/{DATABASE}").geturl()


def environment(db_url: str, batch_url: str, concurrency: int) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GUNICORN_", "BULK_"))}
    env.update({
        "DATABASE_URL": db_url, "BATCH_API_URL": batch_url,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "AUDIT_HMAC_KEYS": secrets.token_urlsafe(32),
        "DJANGO_DEBUG": "false", "DJANGO_SECURE_COOKIES": "false", "DJANGO_SECURE_SSL_REDIRECT": "false",
        "MFA_REQUIRED": "false", "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_LOG_LEVEL": "WARNING",
        "DJANGO_STATIC_ROOT": str(OUT / "bulk-load-static"), "DJANGO_SETTINGS_MODULE": "audienceadmin.settings",
        "BULK_CONCURRENCY": str(concurrency), "GUNICORN_BIND": "127.0.0.1:0", "GUNICORN_WORKERS": "2",
    })  # fmt: skip
    return env


def start(env: dict[str, str], log: str, *args: str) -> subprocess.Popen[bytes]:
    with (OUT / log).open("wb") as out:
        return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for_url(log: str, timeout: float = 60) -> str:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = LISTENING_RE.search((OUT / log).read_text(errors="replace"))
        if found:
            try:
                if requests.get(f"{found.group(1)}/readyz", timeout=5).status_code == 200:
                    return found.group(1)
            except requests.RequestException:
                pass
        time.sleep(0.1)
    raise SystemExit(f"gunicorn not ready: see bench/out/{log}")


def operator(base: str, username: str, app: int, names: list[str], stop_at: threading.Event, latencies: list) -> None:
    import requests

    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=30)
    form = {"login": username, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    session.post(f"{base}/accounts/login/", data=form, timeout=30)
    for name in names:
        if stop_at.is_set():
            return
        csrf = {"csrfmiddlewaretoken": session.cookies.get("csrftoken", "")}
        page = session.post(f"{base}/delete/", data={"app": app, "name": name, **csrf}, timeout=60)
        ticket = re.search(r'name="ticket" value="([^"]+)"', page.text)
        if not ticket:
            continue
        data = {"app": app, "name": name, "confirm_name": name, "ticket": ticket.group(1), **csrf}
        started = time.perf_counter()
        session.post(f"{base}/delete/confirm/", data=data, timeout=60, allow_redirects=False)
        latencies.append(time.perf_counter() - started)


def lock_waits(stop_at: threading.Event, samples: list[int]) -> None:
    """PostgreSQL: how many sessions wait on the audit chain's advisory lock, sampled every 50 ms."""
    from django.db import connection

    sql = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"
    while not stop_at.wait(0.05):
        with connection.cursor() as cursor:
            cursor.execute(sql)
            samples.append(cursor.fetchone()[0])
    connection.close()


def wait_for_job(job_id: int) -> float:
    from audienceadmin.models import BulkJob

    started = time.perf_counter()
    while BulkJob.objects.values_list("state", flat=True).get(pk=job_id) != BulkJob.State.DONE:
        time.sleep(0.1)
    return time.perf_counter() - started


def where_the_time_goes(job_id: int, wall: float, concurrency: int) -> tuple[float, float, int]:
    """(mean item cycle in ms, mean Batch call in ms, items deleted): cycle = wall x concurrency / items."""
    from audienceadmin.models import AuditEvent

    requested = AuditEvent.objects.filter(kind="delete_requested", details__job=job_id).values("attempt")
    completed = AuditEvent.objects.filter(kind="delete_completed", attempt__in=requested)
    durations = list(completed.values_list("duration_ms", flat=True))
    deleted = completed.filter(outcome="deleted").count()
    return wall * concurrency / len(durations) * 1000, statistics.fmean(durations), deleted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--operators", type=int, default=6)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)

    from audienceadmin.batch.simulator import BatchSimulator

    simulator = BatchSimulator(latency=args.latency).start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        db_url = database_url()
        env = environment(db_url, simulator.url, args.concurrency)
        os.environ.update(env)
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import make_password
        from django.contrib.auth.models import Group
        from django.core.management import call_command

        from audienceadmin import roles, services

        call_command("migrate", verbosity=0)
        call_command("collectstatic", "--no-input", verbosity=0)
        User = get_user_model()
        hashed = make_password(PASSWORD)
        users = [User.objects.create(username=f"op{i:02d}", password=hashed) for i in range(args.operators + 1)]
        Group.objects.get(name=roles.OPERATORS).user_set.add(*users)
        api_key, rest_key = "LOADAPI" + secrets.token_hex(12), "LOADREST" + secrets.token_hex(12)
        singles = [[f"single-{i:02d}-{n:05d}" for n in range(5000)] for i in range(args.operators)]
        jobs = {label: [f"{label}-{i:05d}" for i in range(args.items)] for label in ("alone", "loaded")}
        jobs["warm-up"] = [f"warm-up-{i:05d}" for i in range(2 * args.concurrency)]
        simulator.add_app(api_key, rest_key, audiences=[n for ns in [*singles, *jobs.values()] for n in ns])
        app = services.app_create(actor=None, name="Load app", api_key=api_key, rest_api_key=rest_key, ip=None)
        job_user = User.objects.get(pk=users[-1].pk)

        processes.append(start(env, "bulk-load-gunicorn.log", "-m", "gunicorn", "-c", "audienceadmin/gunicorn.conf.py",
                               "audienceadmin.wsgi"))  # fmt: skip
        base = wait_for_url("bulk-load-gunicorn.log")
        processes.append(start(env, "bulk-load-worker.log", "manage.py", "worker", "--interval", "0.1"))
        wait_for_job(services.bulk_job_create(actor=job_user, app=app, names=jobs["warm-up"]).pk)  # imports, pools
        vendor = "PostgreSQL" if db_url.startswith("postgres") else "SQLite"
        ideal = args.items * args.latency / args.concurrency
        print(f"{vendor}: a job of {args.items:,} audiences, concurrency {args.concurrency}, simulator "
              f"{args.latency * 1000:.0f} ms per call; ideal {ideal:.2f} s")  # fmt: skip
        print("  one gunicorn instance (2 workers x 4 threads), one worker process\n")
        print(f"  {'':<28}{'wall':>8}{'ratio':>8}{'item cycle':>12}{'Batch call':>12}{'the rest':>10}"
              f"{'deleted':>9}{'confirm p50/p95':>18}{'lock waiters':>14}")  # fmt: skip

        for label, operators in (("alone", 0), ("loaded", args.operators)):
            stop_at, latencies, waiters = threading.Event(), [], []
            threads = [
                threading.Thread(target=operator, args=(base, f"op{i:02d}", app.pk, singles[i], stop_at, latencies))
                for i in range(operators)
            ]
            if vendor == "PostgreSQL":
                threads.append(threading.Thread(target=lock_waits, args=(stop_at, waiters)))
            for thread in threads:
                thread.start()
            time.sleep(1.0 if operators else 0)  # the operators are at work when the job starts
            job = services.bulk_job_create(actor=job_user, app=app, names=jobs[label]).pk
            wall = wait_for_job(job)
            stop_at.set()
            for thread in threads:
                thread.join(timeout=120)
            cycle, call, deleted = where_the_time_goes(job, wall, args.concurrency)
            confirm = (
                f"{statistics.median(latencies) * 1000:.0f}/{statistics.quantiles(latencies, n=20)[-1] * 1000:.0f} ms"
                if len(latencies) > 2 else "–"
            )  # fmt: skip
            print(f"  {f'job {label} ({operators} operators)':<28}{wall:>7.2f}s{wall / ideal:>7.2f}x{cycle:>10.0f}ms"
                  f"{call:>10.0f}ms{cycle - call:>8.0f}ms{deleted:>9,}{confirm:>18}"
                  f"{statistics.fmean(waiters) if waiters else 0:>14.2f}")  # fmt: skip
            if operators:
                print(f"  {'':<28}operators: {len(latencies):,} single deletions meanwhile")
    finally:
        for process in reversed(processes):
            stop(process)
        simulator.stop()


if __name__ == "__main__":
    main()
