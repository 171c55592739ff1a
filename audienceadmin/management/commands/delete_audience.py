from __future__ import annotations

import getpass

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from audienceadmin import batch, selectors, services
from audienceadmin.forms import NAME_RULE
from audienceadmin.models import AuditEvent

USAGE_ERROR = 2
NOT_DELETED = 1


class Command(BaseCommand):
    help = (
        "Delete a Batch custom audience, audited like a delete from the dashboard. "
        "Exit status: 0 deleted, 1 not deleted (or outcome unknown), 2 bad usage or input."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("audience", help="the audience name (case-sensitive)")
        parser.add_argument("--app", required=True, help="the app's display name in Audience Admin")
        parser.add_argument(
            "--actor",
            help="username recorded as the actor (must be allowed to delete audiences); "
            "default: the operating-system user, recorded as cli:NAME",
        )

    def handle(self, *args, audience: str, app: str, actor: str | None, **options) -> None:
        if not batch.is_valid_audience_name(audience):
            raise CommandError(f"Invalid audience name {audience!r}. {NAME_RULE}", returncode=USAGE_ERROR)
        batch_app = selectors.app_by_name(app)
        if batch_app is None:
            raise CommandError(f"No app named {app!r}.", returncode=USAGE_ERROR)
        if batch_app.is_archived:
            raise CommandError(f"App {app!r} is archived.", returncode=USAGE_ERROR)
        user = None
        if actor is not None:
            user = get_user_model().objects.filter(username=actor, is_active=True).first()
            if user is None:
                raise CommandError(f"No active user named {actor!r}.", returncode=USAGE_ERROR)
        try:
            result = services.audience_delete(
                actor=user,
                app=batch_app,
                name=audience,
                ip=None,
                source=AuditEvent.Source.CLI,
                actor_label=f"cli:{getpass.getuser()}",
            )
        except DatabaseError as exc:
            raise CommandError(
                f"The audit trail could not be written ({type(exc).__name__}), so nothing was sent to "
                f"Batch: audience {audience!r} was not deleted.",
                returncode=NOT_DELETED,
            ) from None
        except PermissionDenied:
            raise CommandError(
                f"User {actor!r} may not delete audiences (needs the Operators role).",
                returncode=USAGE_ERROR,
            ) from None
        if not result.deleted:
            raise CommandError(f"{result.outcome}: {result.message}", returncode=NOT_DELETED)
        self.stdout.write(result.message)
