"""The CEP client (Audience API 2.x) against the simulator, over a real socket."""

from __future__ import annotations

import json

import pytest

from audienceadmin import batch
from audienceadmin.batch import BatchApiError, BatchUnavailable, Credentials, cep

PROJECT_KEY = "project_0664hxvwffvbpn278gxdyhsadddqgna6"
REST_KEY = "RESTKEY-cep-secret-0123456789"
CREDS = Credentials(api_key=PROJECT_KEY, rest_api_key=REST_KEY)


@pytest.fixture
def client(simulator, fake_time, client_config, settings):
    simulator.add_project(PROJECT_KEY, REST_KEY, audiences=["spring-sale", "beta", "gamma"])
    transport = batch.Transport(client_config, sleep=fake_time.sleep, clock=fake_time.clock)
    return batch.CepClient(transport, settings.BATCH_PROJECT_API_VERSION)


def api_requests(simulator):
    return [r for r in simulator.requests if not r.path.startswith("/_sim")]


def test_remove_sends_exactly_the_documented_request(client, simulator):
    response = client.delete_audience(CREDS, "spring-sale")

    assert response.status == 202
    assert response.data["indexing_token"]
    [sent] = api_requests(simulator)
    assert (sent.method, sent.path) == ("POST", "/2.11/audiences/remove")
    assert sent.headers["Authorization"] == f"Bearer {REST_KEY}"
    assert sent.headers["X-Batch-Project"] == PROJECT_KEY
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == {"name": "spring-sale"}
    assert PROJECT_KEY not in sent.path and REST_KEY not in sent.path


def test_the_view_with_the_token_says_when_the_removal_is_applied(client, simulator):
    token = client.delete_audience(CREDS, "beta").data["indexing_token"]
    with pytest.raises(BatchApiError) as excinfo:  # the simulator's default: 404 once applied
        client.get_audience(CREDS, "beta", indexing_token=token)
    assert excinfo.value.http_status == 404
    assert "beta" not in simulator.cep_audience_names(PROJECT_KEY)


def test_an_applied_state_counts_as_applied(client, simulator):
    simulator.add_project(PROJECT_KEY, REST_KEY, audiences=["beta"], removed_view="APPLIED")
    token = client.delete_audience(CREDS, "beta").data["indexing_token"]
    assert cep.removal_applied(client.get_audience(CREDS, "beta", indexing_token=token))


def test_list_follows_the_cursor_and_gives_the_count_first(client):
    first = client.list_audiences(CREDS, limit=2)
    assert first.data["count"] == 3 and first.data["has_more"]
    second = client.list_audiences(CREDS, limit=2, cursor=first.data["next_from"])
    names = [a["name"] for a in first.data["audiences"] + second.data["audiences"]]
    assert sorted(names) == ["beta", "gamma", "spring-sale"]
    assert not second.data["has_more"]


def test_a_cep_error_body_is_parsed_with_its_string_code(client, simulator):
    with pytest.raises(BatchApiError) as excinfo:
        client.delete_audience(CREDS, "no-such-audience")
    exc = excinfo.value
    assert (exc.http_status, exc.name, exc.message) == (404, "NOT_FOUND", "Not found")


def test_a_wrong_rest_key_is_a_final_rejection_without_the_keys(client, simulator):
    wrong = Credentials(api_key=PROJECT_KEY, rest_api_key="RESTKEY-wrong-0000000000")
    with pytest.raises(BatchApiError) as excinfo:
        client.delete_audience(wrong, "spring-sale")
    assert excinfo.value.http_status == 401
    assert PROJECT_KEY not in str(excinfo.value) and "RESTKEY" not in str(excinfo.value)


@pytest.mark.parametrize("error", ["SERVER_ERROR", "MAINTENANCE_ERROR", "TOO_MANY_REQUESTS"])
def test_a_remove_is_retried_like_a_delete(client, simulator, error):
    simulator.add_fault(action="error", error=error, times=2)
    response = client.delete_audience(CREDS, "spring-sale")
    assert response.status == 202 and response.tries == 3
    assert [r.path for r in api_requests(simulator)] == ["/2.11/audiences/remove"] * 3


def test_a_remove_that_keeps_failing_is_unavailable(client, simulator):
    simulator.add_fault(action="error", error="SERVER_ERROR")
    with pytest.raises(BatchUnavailable) as excinfo:
        client.delete_audience(CREDS, "spring-sale")
    assert (excinfo.value.http_status, excinfo.value.tries) == (500, 4)


def test_client_for_gives_each_kind_its_dialect(settings, batch_url):
    settings.BATCH_PROJECT_API_VERSION = "2.9"
    assert batch.client_for(batch.CEP).label == "Audience API 2.9"
    assert batch.client_for(batch.MEP).label == "Custom Audience API 1.1"
    assert batch.client_for(batch.MEP, version="1.0").label == "Custom Audience API 1.0"
