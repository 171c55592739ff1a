from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from audienceadmin import services


class Command(BaseCommand):
    help = (
        "Queue a new run for the bulk jobs whose run died (its lease has passed). Workers do this "
        "by themselves every few seconds (`manage.py worker`); this is for when none runs. Items that "
        "were in flight are closed as the audit says (unknown if nothing was recorded)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"Queued again {services.bulk_jobs_resume()} bulk job(s).")
