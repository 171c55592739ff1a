"""Benchmark: a bulk job of 1,000 audiences against the simulator with 50 ms of latency per call.

    .venv/bin/python bench/bulk.py [--items 1000] [--latency 0.05] [--concurrency 1 4 8] [--kinds mep cep]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/bulk.py   # on PostgreSQL

For each concurrency it creates a job and runs it to the end exactly as the worker does
(``bulk_runner.bulk_job_run``: threads, shared pause gate, two audit events per item), then prints the
wall time against the ideal ``items × latency / concurrency`` and checks that every item was
audited and deleted. ``cep`` runs the same job in a CEP project (one ``audiences/remove`` per item,
each followed by its removal's follow-up row), with the project's pacing off
(``BATCH_PROJECT_RATE=0``): the ratio measures the runner, not the 1/s Batch imposes (at 1/s, 1,000
removals take ~17 minutes whatever the concurrency). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--kinds", nargs="+", choices=["mep", "cep"], default=["mep", "cep"])
    args = parser.parse_args()
    engine = common.configure("bulk")

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from audienceadmin import bulk_runner, roles, selectors, services
    from audienceadmin.batch.simulator import BatchSimulator
    from audienceadmin.models import AuditEvent, BulkJob

    operator, _ = get_user_model().objects.get_or_create(username="bench-operator")
    operator.groups.add(Group.objects.get(name=roles.OPERATORS))
    operator = get_user_model().objects.get(pk=operator.pk)  # fresh permission cache
    print(f"{engine}: {args.items:,} audiences per job, simulator latency {args.latency * 1000:.0f} ms per call\n")
    print(f"  {'kind':>4}  {'concurrency':>11}  {'wall time':>9}  {'ideal':>7}  {'ratio':>6}  audited  deleted")
    settings.BATCH_PROJECT_RATE = 0  # the runner's speed, not Batch's per-project rate
    with BatchSimulator(latency=args.latency) as simulator:
        settings.BATCH_API_URL = simulator.url
        for kind, concurrency in ((k, c) for k in args.kinds for c in args.concurrency):
            settings.BULK_CONCURRENCY = concurrency
            names = [f"bulk-{concurrency}-{i:05d}" for i in range(args.items)]
            app_name = f"Bench {kind} c{concurrency} {time.time_ns()}"
            api_key, rest_key = f"BENCHAPI{time.time_ns()}", f"BENCHREST{time.time_ns()}"
            if kind == "cep":
                api_key = f"project_bench{time.time_ns()}"
                simulator.add_project(api_key, rest_key, audiences=names)
            else:
                simulator.add_app(api_key, rest_key, audiences=names)
            app = services.app_create(
                actor=operator, name=app_name, kind=kind, api_key=api_key, rest_api_key=rest_key, ip=None
            )
            job = services.bulk_job_create(actor=operator, app=app, names=names)
            started = time.perf_counter()
            bulk_runner.bulk_job_run(job.pk)
            wall = time.perf_counter() - started
            ideal = args.items * args.latency / concurrency
            requested = AuditEvent.objects.filter(kind="delete_requested", details__job=job.pk)
            completed = AuditEvent.objects.filter(kind="delete_completed", attempt__in=requested.values("attempt"))
            audited = min(requested.count(), completed.count())  # attempts with both events
            deleted = completed.filter(outcome="deleted").count()
            progress = selectors.bulk_job_progress(BulkJob.objects.get(pk=job.pk))
            ok = audited == deleted == progress.deleted == args.items
            print(
                f"  {kind:>4}  {concurrency:>11}  {wall:>8.2f}s  {ideal:>6.2f}s  {wall / ideal:>5.2f}x  "
                f"{audited:>7}  {deleted:>7}  {'' if ok else '  (NOT every item deleted and audited!)'}"
            )
    print("\n  target: within 1.25x of ideal at concurrency 8, with every item audited")


if __name__ == "__main__":
    main()
