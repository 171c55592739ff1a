"""`manage.py approve_request ID --actor NAME`: approve (or reject) a deletion request from the
command line, with exactly the checks of the dashboard (never the requester, the approval permission
read again under the request's lock, not expired): it never bypasses the two-person rule."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from audienceadmin import services
from audienceadmin.management.commands.delete_audience import NOT_DELETED, USAGE_ERROR
from audienceadmin.models import AuditEvent, DeletionRequest


class Command(BaseCommand):
    help = (
        "Approve (and so execute at once) or reject another person's deletion request. "
        "Exit status: 0 approved and deleted (or rejected), 1 approved but not deleted, 2 refused or bad usage."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("request", type=int, help="the request's number (Requests page)")
        parser.add_argument("--actor", required=True, help="the approver: an active user allowed to approve")
        parser.add_argument("--comment", default="", help="a comment (required with --reject)")
        parser.add_argument("--reject", action="store_true", help="reject instead of approving")

    def handle(self, *args, request: int, actor: str, comment: str, reject: bool, **options) -> None:
        user = get_user_model().objects.filter(username=actor, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {actor!r}.", returncode=USAGE_ERROR)
        asked = DeletionRequest.objects.filter(pk=request).first()
        if asked is None:
            raise CommandError(f"No deletion request {request}.", returncode=USAGE_ERROR)
        try:
            if reject:
                done = services.request_reject(actor=user, request=asked, ip=None, comment=comment)
            else:
                done = services.request_approve(
                    actor=user, request=asked, ip=None, comment=comment, source=AuditEvent.Source.CLI
                )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages), returncode=USAGE_ERROR) from None
        except PermissionDenied as exc:
            raise CommandError(str(exc) or "Not allowed.", returncode=USAGE_ERROR) from None
        if done.bulk_job_id:
            self.stdout.write(f"Request {done.pk} approved: bulk job {done.bulk_job_id} queued.")
            return
        if not reject and done.outcome != AuditEvent.Outcome.DELETED:
            raise CommandError(f"{done.outcome}: {done.outcome_message}", returncode=NOT_DELETED)
        self.stdout.write(f"Request {done.pk}: {done.get_state_display()}. {done.outcome_message}".strip())
