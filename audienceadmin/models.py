from __future__ import annotations

import ipaddress

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models, router, transaction
from django.utils import timezone

from audienceadmin import audit, roles
from audienceadmin.fields import EncryptedTextField


class BatchAppManager(models.Manager):
    def get_queryset(self):
        # Secrets are decrypted only where they are used: listing or loading an app never does.
        return super().get_queryset().defer("api_key", "rest_api_key")


class BatchApp(models.Model):
    """One Batch app (MEP: its API key, with the company REST API key that authorises calls) or one
    CEP project (its project key, held in ``api_key``, and its REST API key). The two kinds share the
    two encrypted key fields, so sealing, hints and key rotation are the same for both."""

    class Kind(models.TextChoices):
        MEP = "mep", "MEP app"
        CEP = "cep", "CEP project"

    class ApprovalPolicy(models.TextChoices):
        NONE = "none", "No approval"
        SECOND_PERSON = "second_person", "A second person must approve every deletion"

    name = models.CharField("display name", max_length=100, unique=True)
    kind = models.CharField(max_length=3, choices=Kind.choices, default=Kind.MEP)
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
    # The two-person rule (services.approvals): with SECOND_PERSON, nothing is sent to Batch for this
    # app without a deletion request approved by someone other than its requester (or a break glass).
    approval_policy = models.CharField(
        "approval policy", max_length=16, choices=ApprovalPolicy.choices, default=ApprovalPolicy.NONE
    )

    objects = BatchAppManager()
    KEY_FIELDS = ("api_key", "rest_api_key")

    class Meta:
        ordering = ["name"]
        verbose_name = "Batch app"
        permissions = [(roles.DELETE_AUDIENCE_CODENAME, "Can delete custom audiences in Batch")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        """A key is sealed with its row's id (``fields.EncryptedTextField``), which the insert
        assigns: a new row is inserted without its keys, which are written once it has its id, in
        the same transaction."""
        if self.pk is not None:
            return super().save(*args, **kwargs)
        using = kwargs.get("using") or router.db_for_write(BatchApp, instance=self)
        with transaction.atomic(using=using):
            super().save(*args, **kwargs)
            super().save(using=using, update_fields=self.KEY_FIELDS)
        return None

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def is_project(self) -> bool:
        return self.kind == self.Kind.CEP

    @property
    def labelled_name(self) -> str:
        """The name with its kind, wherever an app is named: "Shop (CEP project)"."""
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def needs_approval(self) -> bool:
        return self.approval_policy == self.ApprovalPolicy.SECOND_PERSON


class Person(User):
    """A user as the People page manages them (a proxy: the table is Django's ``auth_user``). It carries
    the user administrators' permission."""

    class Meta:
        proxy = True
        verbose_name = "person"
        verbose_name_plural = "people"
        permissions = [
            (roles.MANAGE_PEOPLE_CODENAME, "Can invite people, change their roles, deactivate and unlock them")
        ]


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Audit events are insert-only: they cannot be updated.")

    def delete(self):
        raise PermissionError("Audit events are insert-only: they cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise PermissionError("Audit events are insert-only: they cannot be updated.")

    def bulk_create(self, objs, *args, **kwargs):
        raise PermissionError("Audit events are appended one by one to the chain: use save().")


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
        APP_RESTORED = "app_restored", "App restored"
        APP_ACCESS_CHANGED = "app_access_changed", "App access changed"
        CONNECTION_TESTED = "connection_tested", "Connection tested"
        KEYS_REENCRYPTED = "keys_reencrypted", "Stored keys re-encrypted"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOGIN_FAILURES_COUNTED = "login_failures_counted", "Failed logins counted"
        LOCKED_OUT = "locked_out", "Locked out"
        PERMISSION_DENIED = "permission_denied", "Permission denied"
        BULK_QUEUED = "bulk_queued", "Bulk deletion queued"
        BULK_CANCELLED = "bulk_cancelled", "Bulk deletion cancelled"
        # Signing in (issue 17): every way in, and what the People page changes.
        LOGIN_SUCCEEDED = "login_succeeded", "Signed in"
        SSO_REFUSED = "sso_refused", "Sign-in refused"
        MFA_FAILED = "mfa_failed", "Wrong MFA code or key"
        MFA_CHANGED = "mfa_changed", "MFA changed"
        LOCKOUT_CLEARED = "lockout_cleared", "Lockout lifted"
        USER_INVITED = "user_invited", "Person invited"
        USER_CREATED = "user_created", "Person added by SSO"
        ROLES_CHANGED = "roles_changed", "Roles changed"
        USER_DEACTIVATED = "user_deactivated", "Person deactivated"
        USER_REACTIVATED = "user_reactivated", "Person reactivated"
        # A CEP removal's follow-up (issue 14): its own event, naming the attempt in ``details``.
        REMOVAL_APPLIED = "removal_applied", "Removal applied"
        REMOVAL_UNCONFIRMED = "removal_unconfirmed", "Removal not confirmed"
        # The two-person rule (issue 16): the app's policy, and every step of a deletion request.
        APP_POLICY_CHANGED = "app_policy_changed", "Approval policy changed"
        REQUEST_CREATED = "request_created", "Deletion requested for approval"
        REQUEST_APPROVED = "request_approved", "Deletion request approved"
        REQUEST_REJECTED = "request_rejected", "Deletion request rejected"
        REQUEST_WITHDRAWN = "request_withdrawn", "Deletion request withdrawn"
        REQUEST_EXPIRED = "request_expired", "Deletion request expired"
        REQUEST_EXECUTED = "request_executed", "Deletion request executed"
        BREAK_GLASS = "break_glass", "BREAK GLASS: executed without approval"

    class Outcome(models.TextChoices):
        DELETED = "deleted", "Deleted"
        REJECTED = "rejected", "Rejected by Batch"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown"
        NOT_SENT = "not_sent", "Not sent"

    class Source(models.TextChoices):
        WEB = "web", "Web"
        CLI = "cli", "Command line"
        BULK = "bulk", "Bulk job"

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
    details = models.JSONField(default=dict, blank=True)
    # The hash chain (audienceadmin/audit.py): set by save(), never by callers.
    prev_mac = models.CharField(max_length=64, editable=False)
    mac = models.CharField(max_length=64, editable=False)
    key_id = models.CharField(max_length=12, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        # One index per history filter, each ending in id for keyset pagination (see selectors).
        # PostgreSQL also gets a varchar_pattern_ops index for audience prefixes (migration 0005).
        indexes = [
            models.Index(fields=["kind", "id"], name="audit_kind_id"),
            models.Index(fields=["kind", "app", "id"], name="audit_kind_app_id"),
            models.Index(fields=["kind", "actor_username", "id"], name="audit_kind_actor_id"),
            models.Index(fields=["kind", "outcome", "id"], name="audit_kind_outcome_id"),
            models.Index(fields=["kind", "app", "outcome", "id"], name="audit_kind_app_outcome_id"),
            models.Index(fields=["audience", "id"], name="audit_audience_id"),
            models.Index(fields=["at"], name="audit_at"),
        ]
        constraints = [
            # An attempt has one *requested* and at most one *completed* event, whoever writes it.
            models.UniqueConstraint(fields=["attempt", "kind"], name="audit_one_event_per_attempt_kind"),
        ]
        permissions = [
            (roles.VIEW_EVERY_APP_HISTORY_CODENAME, "Can read the history of every app, restricted ones included")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.actor_username} at {self.at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, using=None, force_insert=True, **kwargs):
        """Append to the chain: under the chain lock, take the next id and the previous mac, seal."""
        if not self._state.adding:
            raise PermissionError("Audit events are insert-only: they cannot be changed.")
        using = using or router.db_for_write(AuditEvent)
        if self.ip:
            self.ip = ipaddress.ip_address(self.ip).compressed  # the form the database gives back
        self.message = self.message.replace("\x00", "")
        # No savepoint of its own: an append that fails fails its caller's transaction too (a savepoint
        # costs two round trips, one of them while the chain is locked).
        with transaction.atomic(using=using, savepoint=False):
            now = audit.lock_chain(using)  # the database's clock: no skewed instance stamps the future
            last = AuditEvent.objects.using(using).order_by("-id").values_list("id", "mac", "at").first()
            last_id, self.prev_mac, last_at = last or (0, audit.GENESIS, None)
            # Ids and times grow with the chain, so a date range is an id range.
            self.id = last_id + 1
            self.at = max(now, last_at) if last_at else now
            self.key_id, key = audit.signing_key()
            self.mac = audit.seal(
                key, self.prev_mac, audit.sealed_items({f: getattr(self, f) for f in audit.SEALED_FIELDS})
            )
            super().save(*args, using=using, force_insert=True, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are insert-only: they cannot be deleted.")


class LoginFailureBurst(models.Model):
    """Failed logins from one IP counted, not recorded one by one, while they come in a burst
    (``services.logins``): a row per burst, closed into one audit event with its counts. Not part
    of the chain: a counter the audit event replaces, in the same transaction."""

    ip = models.GenericIPAddressField()
    started_at = models.DateTimeField()
    last_at = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)
    refused_while_locked_out = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["ip", "started_at"], name="login_burst_ip_started"),
            models.Index(fields=["started_at"], name="login_burst_started"),
        ]

    def __str__(self) -> str:
        return f"{self.failures} failed logins from {self.ip} since {self.started_at:%Y-%m-%d %H:%M:%S}"


class AuditVerification(models.Model):
    """The result of one run of `verify_audit_log` (not part of the chain; shown on the history page)."""

    at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    events = models.PositiveBigIntegerField()
    head_mac = models.CharField(max_length=64, blank=True)
    problem = models.TextField(blank=True)
    seconds = models.FloatField()

    class Meta:
        ordering = ["-id"]
        get_latest_by = "id"

    def __str__(self) -> str:
        return f"{'intact' if self.ok else 'TAMPERED'} ({self.events} events) at {self.at:%Y-%m-%d %H:%M}"


class BulkJob(models.Model):
    """Deleting many audiences of one app in the background (a task run by `manage.py worker`)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Finished"
        CANCELLED = "cancelled", "Cancelled"

    app = models.ForeignKey(BatchApp, on_delete=models.PROTECT, related_name="bulk_jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    concurrency = models.PositiveSmallIntegerField()
    cancel_requested = models.BooleanField(default=False)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # The run holding the job: its token (fencing every write of an item) and its lease, renewed by
    # the database's clock while it runs. Once the lease has passed, another run may take the job.
    runner = models.CharField(max_length=40, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    runs = models.PositiveIntegerField(default=0)  # how many runs took the job (1 unless taken over)
    resume_queued_at = models.DateTimeField(null=True, blank=True)  # a new run was queued (by the database's clock)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A retry of an ended job's failed and not-attempted items: the job it retries.
    retry_of = models.ForeignKey("self", on_delete=models.PROTECT, related_name="retries", null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Bulk job {self.pk} ({self.get_state_display()})"

    @property
    def is_active(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)


class BulkItem(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "In progress"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Not attempted (cancelled)"

    job = models.ForeignKey(BulkJob, on_delete=models.PROTECT, related_name="items")
    position = models.PositiveIntegerField()
    audience = models.CharField(max_length=255)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    outcome = models.CharField(max_length=16, choices=AuditEvent.Outcome.choices, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_name = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)
    attempt = models.UUIDField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The id of the audit event that last changed the item: ids grow in commit order (the chain's
    # lock), so the job page asks for the items changed since the last one it saw.
    seq = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["job", "position"]
        constraints = [models.UniqueConstraint(fields=["job", "audience"], name="bulk_item_unique_audience")]
        indexes = [
            models.Index(fields=["job", "state", "position"], name="bulk_item_job_state"),
            models.Index(fields=["job", "seq"], name="bulk_item_job_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.audience} ({self.get_state_display()})"


class ReadinessProbe(models.Model):
    """One row that ``/readyz`` rewrites: an instance whose database takes no write (a full disk, a
    read-only replica after a failover) is not ready, even if reads still work."""

    probed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"readiness probe at {self.probed_at:%Y-%m-%d %H:%M:%S}"


# The two-person rule's models and CEP projects' live in their own modules (this one stays readable);
# imported here so that Django registers them and callers import every model from ``audienceadmin.models``.
from audienceadmin.models_approvals import DeletionRequest, Notification  # noqa: E402
from audienceadmin.models_projects import ProjectPace, RemovalFollowUp  # noqa: E402

__all__ = [
    "AuditEvent",
    "AuditVerification",
    "BatchApp",
    "BulkItem",
    "BulkJob",
    "DeletionRequest",
    "LoginFailureBurst",
    "Notification",
    "Person",
    "ProjectPace",
    "ReadinessProbe",
    "RemovalFollowUp",
]
