"""The Batch client against the simulator, over a real socket."""

from __future__ import annotations

import socket

import pytest

from audienceadmin import batch
from audienceadmin.batch import BatchApiError, BatchUnavailable, Credentials, OutcomeUnknown, mep, transport
from audienceadmin.batch.redaction import Redactor

API_KEY = "APIKEYABCDEF0123456789"
REST_KEY = "RESTKEY-secret-0123456789"
CREDS = Credentials(api_key=API_KEY, rest_api_key=REST_KEY)


@pytest.fixture
def client(simulator, fake_time, client_config):
    simulator.add_app(API_KEY, REST_KEY, audiences=["spring-sale", "beta"])
    return batch.MepClient(batch.Transport(client_config, sleep=fake_time.sleep, clock=fake_time.clock))


def api_requests(simulator):
    return [r for r in simulator.requests if not r.path.startswith("/_sim")]


def test_delete_sends_the_documented_request(client, simulator):
    response = client.delete_audience(CREDS, "spring-sale")

    assert response.status == 200
    assert response.tries == 1
    [sent] = api_requests(simulator)
    assert sent.method == "DELETE"
    assert sent.path == f"/1.1/{API_KEY}/custom-audience/spring-sale"
    assert sent.headers["X-Authorization"] == REST_KEY
    assert sent.headers["Content-Type"] == "application/json"
    assert simulator.audience_names(API_KEY) == ["beta"]


def test_the_name_is_percent_encoded_and_cannot_reach_another_route(client, simulator):
    with pytest.raises(BatchApiError):
        client.delete_audience(CREDS, "../../x/custom-audience/beta")
    [sent] = api_requests(simulator)
    assert sent.path == f"/1.1/{API_KEY}/custom-audience/..%2F..%2Fx%2Fcustom-audience%2Fbeta"
    assert "beta" in simulator.audience_names(API_KEY)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        ("AUTHENTICATION_INVALID", 401, "10"),
        ("API_MISUSE", 403, "12"),
        ("ROUTE_NOT_FOUND", 404, "20"),
        ("MISSING_PARAMETER", 400, "30"),
        ("MALFORMED_PARAMETER", 400, "31"),
        ("MALFORMED_JSON_BODY", 400, "32"),
    ],
)
def test_each_documented_4xx_is_a_final_rejection(client, simulator, error, status, code):
    simulator.add_fault(action="error", error=error)
    with pytest.raises(BatchApiError) as excinfo:
        client.delete_audience(CREDS, "spring-sale")
    exc = excinfo.value
    assert (exc.http_status, exc.name, exc.code, exc.tries) == (status, error, code, 1)
    assert exc.message  # Batch's own words are kept
    assert len(api_requests(simulator)) == 1  # 4xx is never retried


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [("SERVER_ERROR", 500, "1"), ("MAINTENANCE_ERROR", 503, "2"), ("TOO_MANY_REQUESTS", 429, "60")],
)
def test_each_documented_retryable_error_fails_after_the_tries(client, simulator, fake_time, error, status, code):
    simulator.add_fault(action="error", error=error)
    with pytest.raises(BatchUnavailable) as excinfo:
        client.delete_audience(CREDS, "spring-sale")
    exc = excinfo.value
    assert (exc.http_status, exc.name, exc.code, exc.tries) == (status, error, code, 4)
    assert len(api_requests(simulator)) == 4
    assert len(fake_time.sleeps) == 3
    if status == 429:
        assert min(fake_time.sleeps) >= 5.0  # Batch asks for at least 5 s
    assert "spring-sale" in simulator.audience_names(API_KEY)


def test_wrong_rest_key_is_authentication_invalid(client, simulator):
    with pytest.raises(BatchApiError) as excinfo:
        client.delete_audience(Credentials(API_KEY, "WRONG-KEY-0123456789"), "spring-sale")
    assert excinfo.value.name == "AUTHENTICATION_INVALID"
    assert "spring-sale" in simulator.audience_names(API_KEY)


def test_a_missing_audience_is_route_not_found(client):
    with pytest.raises(BatchApiError) as excinfo:
        client.delete_audience(CREDS, "no-such-audience")
    assert (excinfo.value.http_status, excinfo.value.name) == (404, "ROUTE_NOT_FOUND")


def test_a_read_timeout_makes_the_outcome_unknown_and_is_not_retried(client, simulator):
    simulator.add_fault(action="timeout", audience="spring-sale")
    with pytest.raises(OutcomeUnknown) as excinfo:
        client.delete_audience(CREDS, "spring-sale")
    assert excinfo.value.reason == "timeout"
    assert len(api_requests(simulator)) == 1


def test_a_connection_dropped_after_sending_makes_the_outcome_unknown(client, simulator):
    simulator.add_fault(action="drop", audience="spring-sale")
    with pytest.raises(OutcomeUnknown) as excinfo:
        client.delete_audience(CREDS, "spring-sale")
    assert excinfo.value.reason == "connection_lost"
    assert len(api_requests(simulator)) == 1


def test_connection_refused_is_retried_then_unavailable(fake_time):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    config = batch.ClientConfig(base_url=f"http://127.0.0.1:{port}", max_tries=3)
    client = batch.MepClient(batch.Transport(config, sleep=fake_time.sleep, clock=fake_time.clock))
    with pytest.raises(BatchUnavailable) as excinfo:
        client.delete_audience(CREDS, "spring-sale")
    assert (excinfo.value.reason, excinfo.value.tries) == ("connect", 3)
    assert API_KEY not in str(excinfo.value) and REST_KEY not in str(excinfo.value)


def test_a_503_then_success_is_deleted_after_a_backoff(client, simulator, fake_time):
    simulator.add_fault(action="error", error="MAINTENANCE_ERROR", times=2)
    response = client.delete_audience(CREDS, "spring-sale")
    assert (response.status, response.tries) == (200, 3)
    assert len(fake_time.sleeps) == 2
    assert fake_time.sleeps[1] >= fake_time.sleeps[0] / 2  # backoff grows (jittered)
    assert simulator.audience_names(API_KEY) == ["beta"]


def test_retry_after_is_honoured(client, simulator, fake_time):
    simulator.add_fault(action="error", error="TOO_MANY_REQUESTS", retry_after="7", times=1)
    client.delete_audience(CREDS, "spring-sale")
    assert fake_time.sleeps == [7.0]


def test_retry_after_beyond_the_deadline_gives_up_at_once(client, simulator, fake_time):
    simulator.add_fault(action="error", error="MAINTENANCE_ERROR", retry_after="3600")
    with pytest.raises(BatchUnavailable) as excinfo:
        client.delete_audience(CREDS, "spring-sale")
    assert excinfo.value.tries == 1
    assert excinfo.value.retry_after == 3600
    assert fake_time.sleeps == []


@pytest.mark.parametrize("action", ["malformed", "html", "empty", "huge"])
def test_odd_error_bodies_never_crash_the_client(client, simulator, action):
    simulator.add_fault(action=action, status=400)
    with pytest.raises(BatchApiError) as excinfo:
        client.delete_audience(CREDS, "spring-sale")
    assert excinfo.value.http_status == 400
    assert "<html" not in excinfo.value.message.lower()
    assert len(excinfo.value.message) <= transport.MAX_MESSAGE_CHARS


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"code": 20, "error_code": "ROUTE_NOT_FOUND", "message": "nope"}',
            ("ROUTE_NOT_FOUND", "20", "nope"),
        ),
        (
            b'{"code": "ROUTE_NOT_FOUND", "error_message": "gone"}',
            ("ROUTE_NOT_FOUND", "20", "gone"),
        ),
        (b'{"error_code": 20}', ("ROUTE_NOT_FOUND", "20", "")),
        (b"", ("ROUTE_NOT_FOUND", "20", "")),
        (b"<html><body>404</body></html>", ("ROUTE_NOT_FOUND", "20", "")),
        (b'["not", "an", "object"]', ("ROUTE_NOT_FOUND", "20", "")),
        (
            b'{"message": "key APIKEYABCDEF0123456789 unknown"}',
            ("ROUTE_NOT_FOUND", "20", "key [redacted] unknown"),
        ),
    ],
)
def test_error_bodies_are_parsed_defensively(body, expected):
    assert transport.parse_error_body(404, body, Redactor(CREDS.secrets()), mep.KNOWN_ERRORS) == expected


def test_an_undocumented_400_keeps_what_the_body_says():
    redactor = Redactor(CREDS.secrets())
    assert transport.parse_error_body(400, b'{"message": "bad"}', redactor, mep.KNOWN_ERRORS) == ("", "", "bad")


def test_list_and_view(client):
    listed = client.list_audiences(CREDS, limit=1)
    assert [a["name"] for a in listed.data["custom_audiences"]] == ["beta"]
    viewed = client.get_audience(CREDS, "spring-sale")
    assert viewed.data["name"] == "spring-sale"


def test_credentials_never_show_in_repr():
    assert API_KEY not in repr(CREDS) and REST_KEY not in repr(CREDS)
