from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from audienceadmin.fields import EncryptedTextField


class BatchAppManager(models.Manager):
    def get_queryset(self):
        # Secrets are decrypted only where they are used: listing or loading an app never does.
        return super().get_queryset().defer("api_key", "rest_api_key")


class BatchApp(models.Model):
    """One Batch app, i.e. one Batch API key, with the company REST API key that authorises calls."""

    name = models.CharField("display name", max_length=100, unique=True)
    api_key = EncryptedTextField("Batch API key")
    rest_api_key = EncryptedTextField("REST API key")
    api_key_hint = models.CharField(max_length=8, editable=False)
    rest_api_key_hint = models.CharField(max_length=8, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    archived_at = models.DateTimeField(null=True, blank=True, editable=False)
    allowed_operators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        verbose_name="restricted to",
        help_text="Leave empty: every operator may delete audiences in this app.",
    )

    objects = BatchAppManager()

    class Meta:
        ordering = ["name"]
        verbose_name = "Batch app"
        permissions = [("delete_audience", "Can delete custom audiences in Batch")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


def key_hint(key: str) -> str:
    """What may be shown of a key after saving: its last four characters."""
    return "…" + key[-4:] if len(key) >= 12 else "…"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Audit events are insert-only: they cannot be updated.")

    def delete(self):
        raise PermissionError("Audit events are insert-only: they cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise PermissionError("Audit events are insert-only: they cannot be updated.")


class AuditEvent(models.Model):
    """An append-only record. A deletion attempt is two events sharing ``attempt``:
    *delete requested* (written before Batch is called) and *delete completed* (with the outcome)."""

    class Kind(models.TextChoices):
        DELETE_REQUESTED = "delete_requested", "Delete requested"
        DELETE_COMPLETED = "delete_completed", "Delete completed"
        APP_CREATED = "app_created", "App added"
        APP_KEYS_CHANGED = "app_keys_changed", "App keys replaced"
        APP_RENAMED = "app_renamed", "App renamed"
        APP_ARCHIVED = "app_archived", "App archived"
        APP_ACCESS_CHANGED = "app_access_changed", "App access changed"
        CONNECTION_TESTED = "connection_tested", "Connection tested"
        KEYS_REENCRYPTED = "keys_reencrypted", "Stored keys re-encrypted"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOCKED_OUT = "locked_out", "Locked out"
        PERMISSION_DENIED = "permission_denied", "Permission denied"

    class Outcome(models.TextChoices):
        DELETED = "deleted", "Deleted"
        REJECTED = "rejected", "Rejected by Batch"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown"

    class Source(models.TextChoices):
        WEB = "web", "Web"
        CLI = "cli", "Command line"

    at = models.DateTimeField(default=timezone.now, editable=False)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    attempt = models.UUIDField(null=True, blank=True, editable=False)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_username = models.CharField(max_length=150)
    app = models.ForeignKey(BatchApp, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events")
    app_name = models.CharField(max_length=100, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    audience = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_name = models.CharField(max_length=64, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    message = models.TextField(blank=True)
    tries = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["kind", "-id"], name="audit_kind_id"),
            models.Index(fields=["kind", "at"], name="audit_kind_at"),
        ]
        constraints = [
            # An attempt has one *requested* and at most one *completed* event, whoever writes it.
            models.UniqueConstraint(fields=["attempt", "kind"], name="audit_one_event_per_attempt_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.actor_username} at {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Audit events are insert-only: they cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are insert-only: they cannot be deleted.")
