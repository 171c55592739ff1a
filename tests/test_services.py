from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from audienceadmin import batch, services
from audienceadmin.models import AuditEvent

pytestmark = pytest.mark.django_db
Kind, Outcome = AuditEvent.Kind, AuditEvent.Outcome


def attempt_events(result):
    return list(AuditEvent.objects.filter(attempt=result.attempt).order_by("id"))


def delete(operator, batch_app, name="spring-sale"):
    return services.audience_delete(actor=operator, app=batch_app, name=name, ip="10.0.0.7")


def test_a_successful_delete_writes_requested_then_completed(operator, batch_app, fast_client, simulator, app_keys):
    result = delete(operator, batch_app)

    assert result.deleted
    assert result.message == "Audience “spring-sale” was deleted from app “Shop iOS”."
    requested, completed = attempt_events(result)
    assert (requested.kind, requested.outcome) == (Kind.DELETE_REQUESTED, "")
    assert (completed.kind, completed.outcome, completed.http_status) == (
        Kind.DELETE_COMPLETED,
        Outcome.DELETED,
        200,
    )
    for event in (requested, completed):
        assert (event.actor, event.actor_username, event.app, event.app_name) == (
            operator,
            "otto",
            batch_app,
            "Shop iOS",
        )
        assert (event.audience, event.ip) == ("spring-sale", "10.0.0.7")
    assert completed.tries == 1 and completed.duration_ms is not None
    assert "spring-sale" not in simulator.audience_names(app_keys.api_key)


def test_the_requested_event_exists_before_batch_is_called(operator, batch_app, monkeypatch):
    seen = []

    class SpyClient:
        api, version, label = "mep", "1.1", "Custom Audience API 1.1"

        def delete_audience(self, credentials, name):
            seen.append(list(AuditEvent.objects.filter(audience=name).values_list("kind", flat=True)))
            raise batch.OutcomeUnknown("timeout")

    services.audience_delete(actor=operator, app=batch_app, name="beta", ip=None, client=SpyClient())
    assert seen == [[Kind.DELETE_REQUESTED]]


def test_a_delete_inside_a_callers_transaction_fails_before_anything_is_sent(
    operator, batch_app, fast_client, simulator, app_keys
):
    """Inside a caller's transaction the *requested* event could still be rolled back after Batch
    deleted the audience: the service refuses loudly instead (its transaction is durable)."""
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        services.audience_delete(actor=operator, app=batch_app, name="beta", ip=None)
    assert simulator.requests == []
    assert "beta" in simulator.audience_names(app_keys.api_key)
    assert not AuditEvent.objects.filter(kind=Kind.DELETE_REQUESTED).exists()


@pytest.mark.parametrize(
    ("fault", "outcome", "status", "error_name", "words"),
    [
        (
            {"action": "error", "error": "AUTHENTICATION_INVALID"},
            Outcome.REJECTED,
            401,
            "AUTHENTICATION_INVALID",
            "key administrator should check",
        ),
        (
            {"action": "error", "error": "API_MISUSE"},
            Outcome.REJECTED,
            403,
            "API_MISUSE",
            "not allowed",
        ),
        (
            {"action": "error", "error": "ROUTE_NOT_FOUND"},
            Outcome.REJECTED,
            404,
            "ROUTE_NOT_FOUND",
            "has no audience",
        ),
        (
            {"action": "error", "error": "MALFORMED_PARAMETER"},
            Outcome.REJECTED,
            400,
            "MALFORMED_PARAMETER",
            "as invalid",
        ),
        (
            {"action": "error", "error": "SERVER_ERROR"},
            Outcome.FAILED,
            500,
            "SERVER_ERROR",
            "server error",
        ),
        (
            {"action": "error", "error": "MAINTENANCE_ERROR"},
            Outcome.FAILED,
            503,
            "MAINTENANCE_ERROR",
            "maintenance",
        ),
        (
            {"action": "error", "error": "TOO_MANY_REQUESTS"},
            Outcome.FAILED,
            429,
            "TOO_MANY_REQUESTS",
            "rate-limiting",
        ),
        ({"action": "timeout"}, Outcome.UNKNOWN, None, "", "may or may not have deleted"),
        ({"action": "drop"}, Outcome.UNKNOWN, None, "", "connection lost"),
    ],
)
def test_every_batch_failure_is_an_honest_outcome(
    operator, batch_app, fast_client, simulator, app_keys, fault, outcome, status, error_name, words
):
    simulator.add_fault(audience="spring-sale", **fault)
    result = delete(operator, batch_app)

    assert not result.deleted
    assert words in result.message
    if status:  # what Batch answered, in the order the history shows it
        assert f"Batch said: HTTP {status} {error_name}" in result.message
    requested, completed = attempt_events(result)
    assert (completed.outcome, completed.http_status, completed.error_name) == (
        outcome,
        status,
        error_name,
    )
    assert not AuditEvent.objects.filter(outcome=Outcome.DELETED).exists()
    for text in (result.message, completed.message):
        assert app_keys.api_key not in text and app_keys.rest_api_key not in text


def test_a_missing_audience_is_rejected_not_deleted(operator, batch_app, fast_client):
    result = delete(operator, batch_app, name="never-existed")
    assert result.outcome == Outcome.REJECTED
    assert "Nothing was deleted" in result.message


def test_undecryptable_keys_fail_without_calling_batch(operator, batch_app, settings, simulator, fast_client):
    from cryptography.fernet import Fernet

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    result = delete(operator, batch_app)
    assert result.outcome == Outcome.FAILED
    assert "cannot be decrypted" in result.message
    assert simulator.requests == []
    assert len(attempt_events(result)) == 2


def test_refuses_invalid_names_archived_apps_and_users_without_the_role(
    operator, viewer, keyadmin, batch_app, simulator
):
    with pytest.raises(ValidationError):
        services.audience_delete(actor=operator, app=batch_app, name="a b", ip=None)
    with pytest.raises(PermissionDenied):
        services.audience_delete(actor=viewer, app=batch_app, name="beta", ip=None)
    services.app_archive(actor=keyadmin, app=batch_app, ip=None)
    with pytest.raises(ValidationError):
        services.audience_delete(actor=operator, app=batch_app, name="beta", ip=None)
    assert simulator.requests == []
    assert not AuditEvent.objects.filter(kind=Kind.DELETE_REQUESTED).exists()


def test_audit_events_are_insert_only(operator, batch_app, fast_client):
    event = attempt_events(delete(operator, batch_app))[1]
    event.outcome = Outcome.FAILED
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(outcome=Outcome.FAILED)
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).outcome == Outcome.DELETED


def test_key_administration_is_audited_without_the_keys(keyadmin, batch_app, app_keys):
    services.app_update(
        actor=keyadmin,
        app=batch_app,
        name="Shop iOS (prod)",
        api_key="",
        rest_api_key="NEWRESTKEY-abcdef123456",
        ip="10.1.1.1",
    )
    services.app_update(actor=keyadmin, app=batch_app, name="Shop iOS (prod)", ip=None)  # no change
    services.app_archive(actor=keyadmin, app=batch_app, ip=None)

    events = list(AuditEvent.objects.order_by("id").values_list("kind", "app_name", "message"))
    assert events == [
        (Kind.APP_CREATED, "Shop iOS", "open to every operator"),
        (Kind.APP_RENAMED, "Shop iOS (prod)", "was “Shop iOS”"),
        (Kind.APP_KEYS_CHANGED, "Shop iOS (prod)", "REST API key"),
        (Kind.APP_ARCHIVED, "Shop iOS (prod)", ""),
    ]
    batch_app.refresh_from_db()
    assert batch_app.rest_api_key_hint == "…3456"
    assert services.app_credentials(batch_app).api_key.reveal() == app_keys.api_key  # empty kept it
    for row in AuditEvent.objects.values():
        flat = repr(row)
        assert app_keys.api_key not in flat and "NEWRESTKEY" not in flat
