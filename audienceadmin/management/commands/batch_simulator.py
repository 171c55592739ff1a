from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from audienceadmin.batch import simulator


class Command(BaseCommand):
    help = (
        "Run the bundled Batch API simulator (an in-memory fake of Batch's Custom Audience API). "
        "All options of `python -m audienceadmin.batch.simulator --help` are accepted."
    )
    requires_system_checks = []
    requires_migrations_checks = False

    def run_from_argv(self, argv: list[str]) -> None:
        sys.exit(simulator.main(argv[2:]))
