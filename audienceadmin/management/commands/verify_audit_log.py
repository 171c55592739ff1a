from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audienceadmin import services


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chain from the first event to the last. Reports the first event "
        "that was modified, removed, inserted or reordered, and prints the head MAC: record it elsewhere "
        "and pass it back with --expect-head to detect events removed from the end. Exit 0 intact, 1 tampered."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--expect-head", metavar="MAC", help="a head MAC printed by an earlier run")

    def handle(self, *args, expect_head: str | None, **options) -> None:
        verdict = services.audit_log_verify(expect_head=expect_head)
        self.stdout.write(f"events: {verdict.events}")
        self.stdout.write(f"head: {verdict.head_mac}")
        if not verdict.ok:
            raise CommandError(f"TAMPERED: {verdict.problem}", returncode=1)
        self.stdout.write(self.style.SUCCESS("intact"))
