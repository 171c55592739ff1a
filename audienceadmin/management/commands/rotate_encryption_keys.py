from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audienceadmin import services


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored Batch key under the first key of FIELD_ENCRYPTION_KEYS. "
        "Run after putting a new key first; safe to run twice and while the site runs."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=100)

    def handle(self, *args, batch_size: int, **options) -> None:
        report = services.encryption_keys_rotate(batch_size=batch_size, actor_label="cli:rotate_encryption_keys")
        self.stdout.write(
            f"{report.reencrypted} secret(s) re-encrypted under the newest key, "
            f"{report.already_current} already under it."
        )
        if report.unreadable:
            raise CommandError(
                "Cannot be decrypted with any configured key (left as they are): "
                + ", ".join(report.unreadable)
                + ". Put back the key that encrypted them, or re-enter these apps' keys.",
                returncode=1,
            )
