"""The two-person rule's tables (issue 16): deletion requests and the outbox of their notifications.
Imported at the end of ``audienceadmin.models`` (call sites use ``audienceadmin.models``)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from audienceadmin import roles
from audienceadmin.models import AuditEvent, BatchApp, BulkJob


class DeletionRequest(models.Model):
    """A deletion in an app under the two-person rule, waiting for (or past) a second person's decision.
    One audience, or a whole bulk list. Its state changes only in ``services.approvals``, each under
    ``select_for_update`` in a transaction, each with its audit event."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved, being executed"
        EXECUTED = "executed", "Approved and executed"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"
        EXPIRED = "expired", "Expired"
        BREAK_GLASS = "break_glass", "Executed by break glass, without approval"

    OPEN = (State.PENDING,)
    CLOSED = (State.EXECUTED, State.REJECTED, State.WITHDRAWN, State.EXPIRED, State.BREAK_GLASS)

    app = models.ForeignKey(BatchApp, on_delete=models.PROTECT, related_name="deletion_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=8, choices=AuditEvent.Source.choices, default=AuditEvent.Source.WEB)
    created_at = models.DateTimeField()  # the database's clock (dbclock), as expires_at
    expires_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    reason = models.TextField()
    audiences = models.JSONField()  # the names, in order: one for a single deletion, the list for a bulk one
    bulk = models.BooleanField(default=False)
    preview = models.JSONField(default=dict, blank=True)  # Batch's impact preview when it was requested
    attempt = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # a single deletion's attempt id
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)  # the approver's, or the break glass's reason
    executed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=AuditEvent.Outcome.choices, blank=True)
    outcome_message = models.TextField(blank=True)
    bulk_job = models.OneToOneField(
        BulkJob, null=True, blank=True, on_delete=models.PROTECT, related_name="deletion_request"
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "expires_at"], name="deletion_request_state")]
        permissions = [(roles.APPROVE_DELETION_CODENAME, "Can approve deletion requests of other operators")]

    def __str__(self) -> str:
        return f"Deletion request {self.pk} ({self.get_state_display()})"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.PENDING

    @property
    def count(self) -> int:
        return len(self.audiences)

    @property
    def title(self) -> str:
        return self.audiences[0] if not self.bulk else f"{len(self.audiences)} audiences"


class Notification(models.Model):
    """The outbox: an e-mail or a webhook post to send, retried by the worker's janitor until sent or
    out of tries (``services.approvals.notify``). Never holds a key: only names, people and links."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Webhook"

    channel = models.CharField(max_length=8, choices=Channel.choices)
    request = models.ForeignKey(DeletionRequest, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=32)  # the request's step: created, approved, executed...
    recipients = models.JSONField(default=list, blank=True)  # e-mail addresses (the webhook URL is a setting)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_try_at = models.DateTimeField(default=timezone.now)
    tries = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)  # out of tries
    last_error = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["sent_at", "failed_at", "next_try_at"], name="notification_due")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} about request {self.request_id}: {self.subject}"
