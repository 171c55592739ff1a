"""CEP projects' tables: a removal Batch accepted, followed until it is applied, and the project's
shared request rate. Imported at the end of ``audienceadmin.models`` (call sites use ``audienceadmin.models``)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from audienceadmin.models import BatchApp


class RemovalFollowUp(models.Model):
    """A CEP removal Batch accepted (202), asked about with its indexing token until Batch says it was
    applied or the window passes (``services.removals``). Its state lives here, so that any worker
    carries on after another stopped: the janitor queues a check for each row that is due."""

    class State(models.TextChoices):
        PENDING = "pending", "Not confirmed yet"
        APPLIED = "applied", "Removal applied"
        UNCONFIRMED = "unconfirmed", "Not confirmed within the window"

    attempt = models.UUIDField(unique=True, editable=False)
    app = models.ForeignKey(BatchApp, on_delete=models.PROTECT, related_name="+")
    audience = models.CharField(max_length=255)
    version = models.CharField(max_length=8)
    indexing_token = models.CharField(max_length=200)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    ends_at = models.DateTimeField()
    next_check_at = models.DateTimeField()  # also the claim of a check in flight (moved past its bound)
    queued_for = models.DateTimeField(null=True, blank=True)  # the next_check_at a task was queued for
    checks = models.PositiveIntegerField(default=0)
    last_answer = models.CharField(max_length=200, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_check_at"], name="removal_due")]

    def __str__(self) -> str:
        return f"removal of {self.audience} ({self.get_state_display()})"


class ProjectPace(models.Model):
    """A CEP project's request rate, shared by every thread, worker and web instance: the next moment a
    request may start (``services.pacing``)."""

    app = models.OneToOneField(BatchApp, on_delete=models.CASCADE, primary_key=True, related_name="+")
    next_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"pace of app {self.app_id}"
