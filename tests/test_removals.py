"""Following a CEP removal after Batch accepted it: applied, slow, never applied, view failing; the
state survives a worker (it is in the database) and the pages say where the removal stands."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audienceadmin import services
from audienceadmin.models import AuditEvent, BatchApp, RemovalFollowUp

pytestmark = pytest.mark.django_db
Kind, State = AuditEvent.Kind, RemovalFollowUp.State
PROJECT_KEY = "project_0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"
PROJECT_REST = "RESTKEY-followup-" + "9e8d7c" * 4


def make_project(simulator, keyadmin, **project) -> BatchApp:
    simulator.add_project(PROJECT_KEY, PROJECT_REST, audiences=["spring-sale", "beta"], **project)
    return services.app_create(
        actor=keyadmin, name="Shop CEP", kind="cep", api_key=PROJECT_KEY, rest_api_key=PROJECT_REST, ip=None
    )


def remove(operator, app, name="spring-sale") -> RemovalFollowUp:
    result = services.audience_delete(actor=operator, app=app, name=name, ip=None)
    assert result.deleted
    return RemovalFollowUp.objects.get(attempt=result.attempt)


def due_now(row: RemovalFollowUp) -> None:
    RemovalFollowUp.objects.filter(pk=row.pk).update(next_check_at=timezone.now() - timedelta(seconds=1))


def views(simulator) -> list:
    return [r for r in simulator.requests if r.path.endswith("/audiences/view")]


def test_an_applied_removal_is_its_own_audit_event_and_the_pages_say_so(
    operator, viewer, keyadmin, simulator, fast_client
):
    project = make_project(simulator, keyadmin)
    row = remove(operator, project)
    assert row.state == State.PENDING and row.indexing_token

    assert services.removal_check(row.pk) == State.APPLIED

    [view] = views(simulator)
    assert f"indexing_token={row.indexing_token}" in view.query and "name=spring-sale" in view.query
    assert view.headers["X-Batch-Project"] == PROJECT_KEY
    event = AuditEvent.objects.get(kind=Kind.REMOVAL_APPLIED)
    assert event.details["attempt"] == str(row.attempt) and event.audience == "spring-sale"
    assert "HTTP 404" in event.message  # the simulator's answer for an applied removal
    client = Client()
    client.force_login(viewer)
    completed = AuditEvent.objects.get(kind=Kind.DELETE_COMPLETED)
    assert "removal applied at" in client.get(reverse("history_event", args=[completed.pk])).content.decode()
    history = client.get(reverse("history")).content.decode()
    assert "removal applied at" in history and '<span class="tag">CEP project</span>' in history
    assert services.removal_check(row.pk) == ""  # finished: nothing more is asked
    assert len(views(simulator)) == 1


def test_a_slow_removal_is_asked_again_with_backoff_until_applied(operator, viewer, keyadmin, simulator, fast_client):
    project = make_project(simulator, keyadmin, indexing_delay=1.0, removed_view="APPLIED")
    row = remove(operator, project)

    assert services.removal_check(row.pk) == State.PENDING
    row.refresh_from_db()
    assert "IN_PROGRESS" in row.last_answer and row.next_check_at > timezone.now()
    assert services.removal_check(row.pk) == ""  # not due yet: nothing is sent
    assert len(views(simulator)) == 1
    client = Client()
    client.force_login(viewer)
    assert "removal not confirmed yet" in client.get(reverse("history")).content.decode()

    time.sleep(1.1)
    due_now(row)
    assert services.removal_check(row.pk) == State.APPLIED
    assert "APPLIED" in AuditEvent.objects.get(kind=Kind.REMOVAL_APPLIED).message


def test_a_removal_never_applied_is_recorded_as_not_confirmed_when_the_window_ends(
    operator, keyadmin, simulator, fast_client, settings
):
    settings.BATCH_REMOVAL_FOLLOW_UP_SECONDS = 0
    project = make_project(simulator, keyadmin, indexing_delay=600)
    row = remove(operator, project)

    assert services.removal_check(row.pk) == State.UNCONFIRMED
    event = AuditEvent.objects.get(kind=Kind.REMOVAL_UNCONFIRMED)
    assert "did not confirm" in event.message and "IN_PROGRESS" in event.message
    assert not AuditEvent.objects.filter(kind=Kind.REMOVAL_APPLIED).exists()


def test_a_failing_view_keeps_the_removal_unconfirmed_and_says_why(operator, keyadmin, simulator, fast_client):
    project = make_project(simulator, keyadmin)
    row = remove(operator, project)
    simulator.add_fault(action="error", error="MAINTENANCE_ERROR", path="/audiences/view")

    assert services.removal_check(row.pk) == State.PENDING
    row.refresh_from_db()
    assert "503" in row.last_answer
    RemovalFollowUp.objects.filter(pk=row.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    due_now(row)
    assert services.removal_check(row.pk) == State.UNCONFIRMED
    event = AuditEvent.objects.get(kind=Kind.REMOVAL_UNCONFIRMED)
    assert "MAINTENANCE_ERROR" in event.message
    assert PROJECT_KEY not in event.message and PROJECT_REST not in event.message


def test_the_janitor_queues_each_due_check_once(operator, keyadmin, simulator, fast_client):
    project = make_project(simulator, keyadmin)
    row = remove(operator, project)
    assert services.removal_checks_queue() == 0  # its first check was queued with the delete
    RemovalFollowUp.objects.filter(pk=row.pk).update(queued_for=None)  # a worker died with it
    assert services.removal_checks_queue() == 1
    assert services.removal_checks_queue() == 0


def test_an_mep_delete_starts_no_follow_up(operator, batch_app, fast_client):
    services.audience_delete(actor=operator, app=batch_app, name="beta", ip=None)
    assert not RemovalFollowUp.objects.exists()
