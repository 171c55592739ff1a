from __future__ import annotations

import os
import pwd

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from audienceadmin import names, roles, selectors, services, wording
from audienceadmin.models import AuditEvent, BatchApp

USAGE_ERROR = 2
NOT_DELETED = 1
REQUESTED = 3


def os_user() -> str:
    """Who runs this process, by its real uid (``LOGNAME`` and ``USER`` are whatever the caller set)."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (some containers)
        return f"uid {uid}"


class Command(BaseCommand):
    help = (
        "Delete a Batch custom audience, audited like a delete from the dashboard. "
        "Exit status: 0 deleted, 1 not deleted (or outcome unknown), 2 bad usage or input, "
        "3 a deletion request was created (an app under the two-person rule: another person approves it "
        "with `approve_request`)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("audience", help="the audience name (case-sensitive)")
        parser.add_argument("--app", required=True, help="the app's display name in Audience Admin")
        parser.add_argument(
            "--actor",
            help="the user on whose behalf to delete (must be allowed to delete audiences in the app); "
            "recorded as the actor, with the operating-system user who ran the command. "
            "Default: the operating-system user alone, recorded as cli:NAME",
        )
        parser.add_argument(
            "--api-version",
            choices=["1.1", "1.0"],
            help="an MEP app's Custom Audience API version (1.1: install IDs; 1.0: custom user IDs, advertising "
            "IDs). Default: where Batch says the name is, as the dashboard's preview does; exit status 2 when "
            "the name is in both or Batch could not be asked",
        )
        parser.add_argument(
            "--reason",
            default="",
            help="in an app whose policy asks for a second person: why the deletion is needed (with --actor, "
            "the command creates a deletion request instead of deleting)",
        )

    def handle(
        self,
        *args,
        audience: str,
        app: str,
        actor: str | None,
        api_version: str | None = None,
        reason: str = "",
        **options,
    ) -> None:
        if not names.is_valid(audience):
            raise CommandError(f"Invalid audience name {audience!r}. {wording.NAME_RULE}", returncode=USAGE_ERROR)
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
        if user is None or selectors.may_delete_in(batch_app, user):  # else the service refuses, sending nothing
            api_version = self.resolve_version(batch_app, audience, api_version)
        if batch_app.needs_approval:  # the two-person rule: ask, never delete (later, through api_version)
            self._ask(batch_app, audience, user, reason, api_version)
            return
        # Nothing here proves who the --actor is: the audit says who ran the command, and for whom.
        runner = os_user()
        details = {"cli_os_user": runner} | ({"on_behalf_of": user.get_username()} if user else {})
        try:
            result = services.audience_delete(
                actor=user,
                app=batch_app,
                name=audience,
                ip=None,
                source=AuditEvent.Source.CLI,
                actor_label=f"cli:{runner}",
                details=details,
                api_version=api_version,
            )
        except DatabaseError as exc:
            raise CommandError(
                f"The audit trail could not be written ({type(exc).__name__}), so nothing was sent to "
                f"Batch: audience {audience!r} was not deleted.",
                returncode=NOT_DELETED,
            ) from None
        except PermissionDenied:  # the user is an operator, so the app is restricted to others; or is not one
            restricted = user is not None and user.has_perm(roles.DELETE_AUDIENCE)
            why = (
                wording.cli_app_restricted(actor or "", app)
                if restricted
                else wording.cli_needs_operator_role(actor or "")
            )
            raise CommandError(why, returncode=USAGE_ERROR) from None
        if not result.deleted:
            raise CommandError(f"{result.outcome}: {result.message}", returncode=NOT_DELETED)
        self.stdout.write(result.message)

    @staticmethod
    def resolve_version(app: BatchApp, audience: str, given: str | None) -> str | None:
        """The MEP version to delete through: the one given, or where the preview found the name."""
        if app.kind == BatchApp.Kind.CEP:
            if given is not None:
                raise CommandError(wording.cli_version_for_project(app.name), returncode=USAGE_ERROR)
            return None
        if given is not None:
            return given
        preview = services.audience_preview(app=app, name=audience)
        if preview.choose_version and preview.exists is not None:  # in both, or in one while the other failed
            raise CommandError(wording.cli_version_undecided(audience, preview.warning), returncode=USAGE_ERROR)
        # Batch could not be asked at all: 1.1, the documented route (as the dashboard's default); a
        # 1.0 audience then answers 404, rejected, and nothing is deleted by mistake.
        return preview.version or None

    def _ask(self, batch_app, audience: str, user, reason: str, api_version: str | None) -> None:
        if user is None or not reason.strip():
            raise CommandError(wording.CLI_NEEDS_REQUESTER, returncode=USAGE_ERROR)
        try:
            asked = services.deletion_request_create(
                actor=user,
                app=batch_app,
                audiences=[audience],
                reason=reason,
                ip=None,
                preview={"cli_os_user": os_user()} | ({"delete_version": api_version} if api_version else {}),
                source=AuditEvent.Source.CLI,
            )
        except PermissionDenied:
            raise CommandError(wording.cli_needs_operator_role(user.get_username()), returncode=USAGE_ERROR) from None
        hours = settings.APPROVAL_EXPIRY_HOURS
        self.stdout.write(wording.request_waiting(asked.pk, hours))
        raise CommandError(f"request {asked.pk} created; nothing deleted yet", returncode=REQUESTED)
