"""Benchmark: the audit history at a million events.

    .venv/bin/python bench/history.py --rows 1000000            # SQLite (bench/out/history-N.sqlite3)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/history.py --rows 1000000
        # PostgreSQL: a database "audienceadmin_bench" is created next to the one named (never touched)

Seeds a realistic sealed chain once (kept for re-runs), then measures in one run, with medians of
repeated in-process requests (middleware, session and template included):
history pages (first, 10,000 events deep, app+outcome, a rare actor, an audience prefix) against
the stock Django admin changelist (first page and ?p=10000) as the baseline; queries per page;
streamed CSV export of every row (rows/s and peak memory growth, in a fresh process);
verify_audit_log over every row. It prints figures, ratios and the targets; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

APPS = ["Shop iOS", "Shop Android", "News iOS", "News Android", "Games Web"]
ACTORS = [f"operator{i:02d}" for i in range(19)]
RARE_ACTOR = "rare-auditor"
OUTCOMES = [("deleted", 200, "", "", 70), ("rejected", 404, "ROUTE_NOT_FOUND", "20", 15),
            ("failed", 503, "MAINTENANCE_ERROR", "2", 10), ("unknown", None, "", "", 5)]  # fmt: skip


def configure(rows: int) -> str:
    engine = common.configure(f"history-{rows}")
    from django.conf import settings

    settings.ROOT_URLCONF = "bench_urls"  # the project's URLs plus a stock admin site
    return engine


def seed(rows: int) -> None:
    """Append a sealed chain of ``rows`` events with raw batched INSERTs (what save() would write)."""
    from django.db import connection, transaction

    from audienceadmin import audit
    from audienceadmin.models import AuditEvent, BatchApp

    have = AuditEvent.objects.count()
    if have >= rows:
        print(f"seed: {have:,} events already there")
        return
    if have:
        raise SystemExit(f"{have:,} events exist, fewer than {rows:,}: delete {connection.settings_dict['NAME']}")
    apps = {}
    for name in APPS:
        app = BatchApp.objects.filter(name=name).first() or BatchApp.objects.create(
            name=name, api_key="BENCH" + secrets.token_hex(8), rest_api_key="BENCH" + secrets.token_hex(8),
            api_key_hint="…", rest_api_key_hint="…",
        )  # fmt: skip
        apps[name] = app.pk
    key_id, key = audit.signing_key()
    rng = random.Random(7)
    ops = connection.ops
    uuid_native = connection.features.has_native_uuid_field
    columns = ["id", *audit.SEALED_FIELDS, "prev_mac", "mac"]
    sql = f"INSERT INTO {audit.TABLE} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
    start_at = datetime.now(UTC) - timedelta(days=730)
    step = timedelta(days=729) / rows
    prev_mac, next_id, batch, started = audit.GENESIS, 1, [], time.perf_counter()
    weights = [o[4] for o in OUTCOMES]

    def append(values: dict) -> None:
        nonlocal prev_mac, next_id
        values["key_id"] = key_id
        mac = audit.seal(key, prev_mac, audit.sealed_items(values))
        at = values["at"]
        attempt = values["attempt"]
        row = dict(values, at=ops.adapt_datetimefield_value(at), details=ops.adapt_json_value({}, None))
        row["attempt"] = (attempt if uuid_native else attempt.hex) if attempt else None
        batch.append([next_id, *(row[f] for f in audit.SEALED_FIELDS), prev_mac, mac])
        prev_mac, next_id = mac, next_id + 1

    blank = dict.fromkeys(audit.SEALED_FIELDS, "")
    blank.update(attempt=None, actor_id=None, app_id=None, ip=None, http_status=None, tries=None,
                 duration_ms=None, details={}, source="web")  # fmt: skip
    with transaction.atomic():
        while next_id <= rows:
            at = start_at + step * next_id
            roll = rng.random()
            app = rng.choice(APPS)
            actor = RARE_ACTOR if rng.random() < 0.0005 else rng.choice(ACTORS)
            if roll < 0.90 and next_id < rows:
                attempt, audience = uuid.uuid4(), f"aud-{rng.randrange(200_000):06d}"
                common = dict(blank, attempt=attempt, actor_username=actor, app_id=apps[app], app_name=app,
                              audience=audience, ip="10.0.0.7")  # fmt: skip
                append(dict(common, at=at, kind="delete_requested"))
                outcome, status, name, code, _ = rng.choices(OUTCOMES, weights)[0]
                append(dict(common, at=at + timedelta(milliseconds=40), kind="delete_completed", outcome=outcome,
                            http_status=status, error_name=name, error_code=code, tries=1, duration_ms=40))  # fmt: skip
            elif roll < 0.97:
                append(dict(blank, at=at, kind="app_keys_changed", actor_username=actor, app_id=apps[app],
                            app_name=app, message="REST API key"))  # fmt: skip
            else:
                append(dict(blank, at=at, kind="login_failed", actor_username=actor, ip="10.9.9.9"))
            if len(batch) >= 20_000:
                with connection.cursor() as cursor:
                    cursor.executemany(sql, batch)
                batch.clear()
                print(f"\rseed: {next_id - 1:,} events", end="", flush=True)
        with connection.cursor() as cursor:
            cursor.executemany(sql, batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {audit.TABLE}")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"\rseed: {next_id - 1:,} events in {time.perf_counter() - started:.0f} s")


def median_ms(client, url: str, repeat: int) -> float:
    client.get(url)  # warm caches
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times)


def queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    return len(ctx)


def export_in_child() -> dict:
    """Stream the whole CSV in a fresh process, so its peak memory is the export's own."""
    from django.test import Client

    from audienceadmin.models import AuditEvent

    client = Client()
    client.force_login(_superuser())
    total = AuditEvent.objects.count()
    before = _status_kb("VmRSS")  # what the process holds now; VmHWM afterwards is its peak
    t = time.perf_counter()
    response = client.get("/history/export.csv?view=all")
    lines = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
    seconds = time.perf_counter() - t
    after = _status_kb("VmHWM")
    return {"rows": lines - 1, "seconds": seconds, "growth_mb": (after - before) / 1024, "events": total}


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _superuser():
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_superuser": True, "is_staff": True}
    )
    return user


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--export-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    engine = configure(args.rows)
    if args.export_child:
        print(json.dumps(export_in_child()))
        return
    seed(args.rows)

    from django.test import Client

    from audienceadmin import selectors, services
    from audienceadmin.models import AuditEvent, BatchApp

    client = Client()
    client.force_login(_superuser())
    requested = AuditEvent.objects.filter(kind="delete_requested").values_list("id", flat=True)
    deep_cursor = requested.order_by("-id")[min(10_000, requested.count() - 1)]
    oldest_cursor = requested.order_by("id")[50]
    app = BatchApp.objects.get(name="Shop iOS").pk
    total = AuditEvent.objects.count()
    pages = {
        "history first page": "/history/",
        "history 10,000 attempts deep": f"/history/?before={deep_cursor}",
        "history oldest page": f"/history/?before={oldest_cursor}",
        "history app + outcome": f"/history/?app={app}&outcome=unknown",
        "history rare actor": f"/history/?actor={RARE_ACTOR}",
        "who: rare, prefix in capitals": "/history/?actor=RARE-AUD",
        "who: busy actor in capitals": "/history/?actor=OPERATOR07",
        "who: prefix of 10 busy actors": "/history/?actor=Operator0",
        "who: Everything, busy actor": "/history/?view=all&actor=operator07",
        "history audience prefix": "/history/?audience=aud-0123&prefix=on",
        "history key changes": "/history/?view=keys",
        "stock admin first page": "/bench-admin/audienceadmin/auditevent/",
        "stock admin ?p=10000": f"/bench-admin/audienceadmin/auditevent/?p={min(10_000, total // 100 - 1)}",
    }
    print(f"\n{engine}: {total:,} events; medians of {args.repeat} requests (server time, in-process)\n")
    figures = {}
    for label, url in pages.items():
        repeat = max(3, args.repeat // 3) if "stock" in label else args.repeat
        figures[label] = median_ms(client, url, repeat)
        q = queries(client, url) if label.startswith(("history", "who")) else ""
        print(f"  {label:<32} {figures[label]:9.2f} ms   {f'{q} queries' if q else ''}")
    small = selectors.HistoryFilter()
    assert selectors.history_page(small, user=_superuser()).rows

    child = subprocess.run(
        [sys.executable, __file__, "--rows", str(args.rows), "--export-child"],
        capture_output=True, text=True, check=True, env=os.environ | {"DATABASE_URL": os.environ["DATABASE_URL"]},
    )  # fmt: skip
    export = json.loads(child.stdout.strip().splitlines()[-1])
    t = time.perf_counter()
    verdict = services.audit_log_verify()
    verify_s = time.perf_counter() - t

    first, deep = figures["history first page"], figures["history 10,000 attempts deep"]
    admin_deep = figures["stock admin ?p=10000"]
    rate = export["rows"] / export["seconds"]
    print(f"\n  CSV export: {export['rows']:,} rows in {export['seconds']:.1f} s = {rate:,.0f} rows/s, "
          f"peak memory growth {export['growth_mb']:.1f} MB")  # fmt: skip
    print(f"  verify_audit_log: {verdict.events:,} events in {verify_s:.1f} s, intact={verdict.ok}")
    worst = max(v for k, v in figures.items() if k.startswith(("history", "who")))
    print("\n  target                                         measured     ")
    checks = [
        ("every history page <= 15 ms", f"worst {worst:.1f} ms", worst <= 15),
        ("deep page within 1.5x the first", f"{deep / first:.2f}x", deep <= 1.5 * first),
        ("history >= 25x faster than stock admin deep", f"{admin_deep / deep:.0f}x", admin_deep >= 25 * deep),
        ("CSV >= 100,000 rows/s", f"{rate:,.0f} rows/s", rate >= 100_000),
        ("CSV peak memory growth < 100 MB", f"{export['growth_mb']:.1f} MB", export["growth_mb"] < 100),
        ("verification <= 15 s", f"{verify_s:.1f} s", verify_s <= 15),
    ]
    for target, measured, ok in checks:
        print(f"  {target:<46} {measured:<14} {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
