"""Reads about apps and users: which apps a user may act in, the apps pages, the operators."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery

from audienceadmin import app_names, roles, wording
from audienceadmin.models import AuditEvent, BatchApp

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Kind = AuditEvent.Kind


def apps_for_delete(*, user: User) -> QuerySet[BatchApp]:
    """Active apps the user may delete audiences in: those open to every operator, and those
    restricted to a list of operators that names the user (superusers: all)."""
    return apps_open_to(user).filter(archived_at__isnull=True)


def apps_open_to(user: User) -> QuerySet[BatchApp]:
    """Apps, archived or not, that are not restricted to a list of operators leaving the user out."""
    if user.is_superuser:
        return BatchApp.objects.all()
    restricted = BatchApp.allowed_operators.through.objects.filter(batchapp=OuterRef("pk"))
    return BatchApp.objects.filter(~Exists(restricted) | Exists(restricted.filter(user=user)))


def apps_hidden_in_history(user: User) -> list[int]:
    """The ids of the apps whose events ``user`` may not read: none for auditors (Viewers, Key
    administrators, superusers); for anyone else, the apps restricted to operators other than them."""
    if user.has_perm(roles.VIEW_EVERY_APP_HISTORY):
        return []
    return list(BatchApp.objects.exclude(pk__in=apps_open_to(user).values("pk")).values_list("pk", flat=True))


def app_usable_by(app: BatchApp, user: User) -> bool:
    return apps_for_delete(user=user).filter(pk=app.pk).exists()


def may_delete_in(app: BatchApp, user: User) -> bool:
    """The user has the permission to delete audiences, and the app is open to them."""
    return user.has_perm(roles.DELETE_AUDIENCE) and app_usable_by(app, user)


def apps_all() -> QuerySet[BatchApp]:
    """Every app, with who last changed its keys and its last connection test (from the audit), and
    whom it is restricted to."""
    last_key_event = AuditEvent.objects.filter(
        app=OuterRef("pk"), kind__in=[Kind.APP_CREATED, Kind.APP_KEYS_CHANGED]
    ).order_by("-id")
    last_test = AuditEvent.objects.filter(app=OuterRef("pk"), kind=Kind.CONNECTION_TESTED).order_by("-id")
    return (
        BatchApp.objects.order_by(F("archived_at").asc(nulls_first=True), "name")  # active apps first, both databases
        .annotate(
            keys_changed_by=Subquery(last_key_event.values("actor_username")[:1]),
            keys_changed_at=Subquery(last_key_event.values("at")[:1]),
            keys_changed_id=Subquery(last_key_event.values("id")[:1]),
            last_test_at=Subquery(last_test.values("at")[:1]),
            last_test_id=Subquery(last_test.values("id")[:1]),
            last_test_status=Subquery(last_test.values("http_status")[:1]),
            last_test_error=Subquery(last_test.values("error_name")[:1]),
        )
        .prefetch_related("allowed_operators")
    )


def operators() -> QuerySet[User]:
    """Active users who may delete audiences (through a group or directly), for restricting apps."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(groups__permissions__codename=roles.DELETE_AUDIENCE_CODENAME)
            | Q(user_permissions__codename=roles.DELETE_AUDIENCE_CODENAME)
        )
        .distinct()
        .order_by("username")
    )


def apps_active() -> QuerySet[BatchApp]:
    """Apps not archived: those whose keys may be changed or tested."""
    return BatchApp.objects.filter(archived_at__isnull=True)


def app_allowed_operators(app: BatchApp) -> QuerySet[User]:
    """The operators an app is restricted to (none: open to every operator)."""
    return app.allowed_operators.all()


def app_name_refusal(name: str, *, by_another_than: BatchApp | None = None) -> str | None:
    """Why a new name (already ``app_names.normalised``) is refused, or None: it holds invisible or
    odd characters, or it looks like the name of an app other than ``by_another_than`` (the one
    being renamed). Apps are few: their names are compared in Python, by skeleton."""
    why = app_names.refusal(name)
    if why is not None:
        return why
    others = BatchApp.objects.all()
    if by_another_than is not None:
        others = others.exclude(pk=by_another_than.pk)
    target = app_names.skeleton(name)
    for other in others.values_list("name", flat=True).iterator():
        if app_names.skeleton(other) == target:
            return wording.APP_NAME_TAKEN if other == name else wording.app_name_confusable(other)
    return None


def app_by_name(name: str) -> BatchApp | None:
    return BatchApp.objects.filter(name=name).first()


def apps_in_history(*, user: User) -> QuerySet[BatchApp]:
    """The apps whose events ``user`` may read in the history (the filter's choices)."""
    return BatchApp.objects.exclude(pk__in=apps_hidden_in_history(user)).order_by("name")


def apps_for_filter(*, user: User) -> list[BatchApp]:
    return list(apps_in_history(user=user).only("pk", "name"))


def apps_with_key_status() -> QuerySet[BatchApp]:
    """Active apps with who last set their keys and the last connection test's result."""
    return apps_all().filter(archived_at__isnull=True)


def project_names() -> frozenset[str]:
    """The names of the CEP projects (the history marks their rows)."""
    return frozenset(BatchApp.objects.filter(kind=BatchApp.Kind.CEP).values_list("name", flat=True))
