"""What a chaos test runs inside its own database, in a process of its own (JSON on stdout):

    python tests/chaos/remote.py seed API_KEY REST_KEY COUNT   -> {"job": id, "names": [...]}
    python tests/chaos/remote.py job JOB_ID                     -> {"state", "runs", "done", "counts"}
    python tests/chaos/remote.py check JOB_ID                   -> {"items": [...], "audit": {...}}

The environment (DATABASE_URL, the keys, BATCH_API_URL...) is the one the workers get.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "audienceadmin.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group, Permission  # noqa: E402
from django.db.models import Count  # noqa: E402

from audienceadmin import roles, services  # noqa: E402
from audienceadmin.models import AuditEvent, BulkItem, BulkJob  # noqa: E402

PASSWORD = "chaos-password-0123456789"  # noqa: S105 - a throwaway test database


def seed(api_key: str, rest_key: str, count: str, make_job: str = "job") -> dict:
    roles.ensure_roles(Group, Permission)
    user = get_user_model().objects.create_user("chaos-operator", password=PASSWORD)
    user.groups.add(Group.objects.get(name=roles.OPERATORS))
    user = get_user_model().objects.get(pk=user.pk)
    app = services.app_create(actor=None, name="Chaos app", api_key=api_key, rest_api_key=rest_key, ip=None)
    names = [f"chaos-{i:04d}" for i in range(int(count))]
    job = services.bulk_job_create(actor=user, app=app, names=names) if names and make_job == "job" else None
    return {"job": job.pk if job else None, "names": names, "app": app.pk}


def job(job_id: str) -> dict:
    found = BulkJob.objects.get(pk=int(job_id))
    counts = dict(found.items.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    done = counts.get(BulkItem.State.DONE, 0) + counts.get(BulkItem.State.SKIPPED, 0)
    return {"state": found.state, "runs": found.runs, "done": done, "counts": counts}


def check(job_id: str) -> dict:
    completed = {str(e.attempt): e.outcome for e in AuditEvent.objects.filter(kind=AuditEvent.Kind.DELETE_COMPLETED)}
    requested = {str(a) for a in AuditEvent.objects.filter(kind=AuditEvent.Kind.DELETE_REQUESTED).values_list(
        "attempt", flat=True)}  # fmt: skip
    items = [
        {
            "audience": i.audience,
            "state": i.state,
            "outcome": i.outcome,
            "attempt": str(i.attempt) if i.attempt else None,
            "audit": completed.get(str(i.attempt)) if i.attempt else None,
            "requested": str(i.attempt) in requested if i.attempt else False,
        }
        for i in BulkItem.objects.filter(job_id=int(job_id)).order_by("position")
    ]
    verdict = services.audit_log_verify()
    open_attempts = sorted(requested - set(completed))
    return {"items": items, "audit": {"ok": verdict.ok, "problem": verdict.problem}, "open_attempts": open_attempts}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    print(json.dumps({"seed": seed, "job": job, "check": check}[command](*args)))
