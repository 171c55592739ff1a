"""A hostile Batch, over a real socket: bodies cut short or dripped, headers dripped, redirects, keys
echoed back. Whatever it does, the client ends within its deadline with an honest outcome."""

from __future__ import annotations

import time

import pytest

from audienceadmin import batch
from audienceadmin.batch import BatchApiError, BatchUnavailable, Credentials, NotSent, OutcomeUnknown, transport

API_KEY = "APIKEYABCDEF0123456789"
REST_KEY = "RESTKEY-secret-0123456789"
CREDS = Credentials(api_key=API_KEY, rest_api_key=REST_KEY)


def real_client(simulator, **config) -> batch.MepClient:
    """Real time: the watchdog and the socket timeouts are what is tested."""
    defaults = {"connect_timeout": 1.0, "read_timeout": 1.0, "deadline": 1.5, "max_tries": 2, "min_try_window": 0.5}
    return batch.MepClient(batch.Transport(batch.ClientConfig(base_url=simulator.url, **(defaults | config))))


@pytest.fixture
def client(simulator):
    simulator.add_app(API_KEY, REST_KEY, audiences=["spring-sale", "beta"])
    return real_client(simulator)


def deletes(simulator) -> list:
    return [r for r in simulator.requests if r.method == "DELETE"]


def test_a_200_with_a_body_cut_short_is_still_batch_saying_200(client, simulator):
    simulator.add_fault(action="truncate", length=1000, send=7)
    response = client.delete_audience(CREDS, "spring-sale")
    assert (response.status, response.body_error, response.data) == (200, "truncated", None)
    assert len(deletes(simulator)) == 1


def test_a_404_with_a_body_cut_short_is_still_a_404(client, simulator):
    simulator.add_fault(action="truncate", status=404, length=1000, send=7)
    with pytest.raises(BatchApiError) as excinfo:
        client.delete_audience(CREDS, "spring-sale")
    assert (excinfo.value.http_status, excinfo.value.name, excinfo.value.code) == (404, "ROUTE_NOT_FOUND", "20")


def test_a_200_whose_body_stalls_past_the_read_timeout_is_still_200(client, simulator):
    simulator.add_fault(action="stall_body", latency=5)
    started = time.monotonic()
    response = client.delete_audience(CREDS, "spring-sale")
    assert response.status == 200 and response.body_error in ("timeout", "deadline")
    assert time.monotonic() - started < 2.5


def test_a_body_dripped_one_byte_at_a_time_is_cut_at_the_deadline(client, simulator):
    simulator.add_fault(action="drip", interval=0.2, length=40)
    started = time.monotonic()
    response = client.delete_audience(CREDS, "spring-sale")
    took = time.monotonic() - started
    assert response.status == 200 and response.body_error == "deadline"
    assert took < 1.5 + 0.5  # the deadline, not 40 × 0.2 s


def test_headers_dripped_one_line_at_a_time_are_cut_at_the_deadline(client, simulator):
    """The status line came: it is Batch's answer, whatever happens to the headers after it."""
    simulator.add_fault(action="drip_headers", interval=0.2, length=40)
    started = time.monotonic()
    response = client.delete_audience(CREDS, "spring-sale")
    assert (response.status, response.body_error) == (200, "deadline")
    assert time.monotonic() - started < 1.5 + 0.5
    assert len(deletes(simulator)) == 1


def test_no_status_line_within_the_deadline_is_unknown_even_with_a_longer_read_timeout(simulator):
    simulator.add_app(API_KEY, REST_KEY, audiences=["spring-sale"])
    client = real_client(simulator, read_timeout=5.0)
    simulator.add_fault(action="delay", latency=4.0)
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown) as excinfo:
        client.delete_audience(CREDS, "spring-sale")
    assert excinfo.value.reason == "deadline"  # sent, no answer: Batch may or may not have deleted it
    assert time.monotonic() - started < 1.5 + 0.5
    assert len(deletes(simulator)) == 1  # never retried


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_and_says_so(client, simulator, status):
    simulator.add_fault(action="redirect", status=status, location="/1.1/elsewhere")
    with pytest.raises(BatchUnavailable) as excinfo:
        client.delete_audience(CREDS, "spring-sale")
    assert (excinfo.value.reason, excinfo.value.http_status) == ("redirect", status)
    assert len(simulator.requests) == 1  # neither retried nor followed


def test_no_try_starts_with_less_than_the_minimum_left(simulator, fake_time):
    """A pause that outlasts what is left of the deadline: nothing is sent (not a 0.05 s timeout)."""
    simulator.add_app(API_KEY, REST_KEY, audiences=["spring-sale"])
    config = batch.ClientConfig(base_url=simulator.url, read_timeout=5.0, deadline=30.0)
    client = batch.MepClient(batch.Transport(config, sleep=fake_time.sleep, clock=fake_time.clock))
    gate = client.new_gate()
    gate.pause(29.0)  # another thread of the job got a 429 asking for 29 s
    with pytest.raises(NotSent) as excinfo:
        client.bound(gate=gate).delete_audience(CREDS, "spring-sale")
    assert excinfo.value.reason == "pause_too_long"
    assert simulator.requests == []


def test_a_stop_check_keeps_a_waiting_call_from_sending(simulator, fake_time):
    simulator.add_app(API_KEY, REST_KEY, audiences=["spring-sale"])
    client = batch.MepClient(batch.Transport(batch.ClientConfig(base_url=simulator.url), clock=fake_time.clock,
                                             sleep=fake_time.sleep))  # fmt: skip
    gate = client.new_gate()
    gate.pause(10.0)
    asked = []

    def should_stop() -> str:
        asked.append(fake_time.now)
        return "cancelled" if len(asked) > 3 else ""

    with pytest.raises(NotSent) as excinfo:
        client.bound(gate=gate, should_stop=should_stop).delete_audience(CREDS, "spring-sale")
    assert excinfo.value.reason == "cancelled"
    assert simulator.requests == [] and max(asked) - min(asked) < 1.0  # stopped within a second of the pause


def test_a_shutting_down_process_starts_no_call(client, simulator):
    transport.refuse_new_calls()
    try:
        with pytest.raises(NotSent) as excinfo:
            client.delete_audience(CREDS, "spring-sale")
    finally:
        transport.accept_calls_again()
    assert excinfo.value.reason == "shutting_down" and simulator.requests == []
