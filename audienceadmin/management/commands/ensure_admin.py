from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "If there is no user at all, create a superuser 'admin' with a generated password and "
        "print it once. Does nothing when any user exists."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options) -> None:
        User = get_user_model()
        if User.objects.exists():
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.WARNING(
                "\n  First administrator created. This password is shown only once:\n"
                f"    username: {username}\n    password: {password}\n"
                "  Change it after logging in (Admin → Users), or reset it any time with\n"
                f"    .venv/bin/python manage.py changepassword {username}\n"
            )
        )
