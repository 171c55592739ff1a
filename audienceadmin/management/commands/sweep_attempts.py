from __future__ import annotations

from django.core.management.base import BaseCommand

from audienceadmin import services


class Command(BaseCommand):
    help = (
        "Close deletion attempts that have a 'requested' event but never got a 'completed' one "
        "(the process died mid-call) as outcome 'unknown'. Safe to run any time, e.g. from cron."
    )

    def handle(self, *args, **options) -> None:
        closed = services.attempts_sweep()
        self.stdout.write(f"Closed {closed} interrupted attempt(s) as unknown.")
