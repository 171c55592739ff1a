from __future__ import annotations

from django.core.management.base import BaseCommand

from audienceadmin import services


class Command(BaseCommand):
    help = (
        "Queue again the bulk jobs whose worker died (no heartbeat for a minute). Run it when workers "
        "start (`make run` does); the job page does it too. Items that were in flight become 'unknown'."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Queued again {services.bulk_jobs_resume()} bulk job(s).")
