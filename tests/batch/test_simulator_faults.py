"""Faults in the simulator, over real sockets: the classic ones (errors, delays, hangs, broken bodies) and the
hostile ones (truncated, dripping and stalled answers, redirects, raw answers echoing keys)."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
import urllib.error
from collections.abc import Iterator
from typing import Any

import pytest

from audienceadmin.batch.simulator import FAULT_ACTIONS, BatchSimulator
from tests.batch.simclient import (
    API_KEY,
    BASE,
    CEP,
    OTHER_KEY,
    OTHER_REST,
    PROJECT_KEY,
    PROJECT_REST,
    REST_KEY,
    address,
    assert_cep_error,
    assert_error,
    call,
    cep_call,
    control,
    raw_exchange,
    urlopen,
)

GET_OLDEST = f"GET {BASE}/oldest HTTP/1.1\r\nHost: sim\r\nX-Authorization: {REST_KEY}\r\n\r\n".encode()

# -- classic faults ---------------------------------------------------------------------------


def test_error_fault_once_then_normal(sim: BatchSimulator) -> None:
    fault = sim.add_fault(action="error", error="SERVER_ERROR", times=1)
    assert fault["id"]
    assert fault["remaining"] == 1
    assert_error(call(sim, "DELETE", f"{BASE}/oldest"), "SERVER_ERROR")
    assert "oldest" in sim.audience_names(API_KEY)
    assert call(sim, "DELETE", f"{BASE}/oldest").status == 200
    assert [(r.fault, r.status) for r in sim.requests] == [("error", 500), (None, 200)]


def test_error_fault_n_times_with_remaining_counts(sim: BatchSimulator) -> None:
    sim.add_fault(action="error", error="MAINTENANCE_ERROR", times=3, method="get")
    for expected_remaining in (2, 1, 0):
        assert_error(call(sim, "GET", BASE), "MAINTENANCE_ERROR")
        faults = control(sim, "GET", "/faults").json()["faults"]
        assert faults[0]["remaining"] == expected_remaining
    assert call(sim, "GET", BASE).status == 200
    assert control(sim, "GET", "/faults").json()["faults"][0]["hits"] == 3


def test_error_fault_always_with_retry_after_and_status_override(sim: BatchSimulator) -> None:
    sim.add_fault(action="error", error="TOO_MANY_REQUESTS", retry_after="5")
    for _ in range(3):
        resp = call(sim, "GET", f"{BASE}/newest")
        assert_error(resp, "TOO_MANY_REQUESTS")
        assert resp.headers["Retry-After"] == "5"
    sim.clear_faults()
    sim.add_fault(action="error", error="SERVER_ERROR", status=502)
    resp = call(sim, "GET", BASE)
    assert resp.status == 502
    assert resp.json()["error_code"] == "SERVER_ERROR"
    assert "Retry-After" not in resp.headers


def test_fault_selectors(sim: BatchSimulator) -> None:
    sim.add_fault(action="error", error="API_MISUSE", audience="middle", method="DELETE")
    sim.add_fault(action="error", error="MAINTENANCE_ERROR", api_key=OTHER_KEY)
    sim.add_fault(action="error", error="SERVER_ERROR", audience="newest")
    assert call(sim, "GET", f"{BASE}/middle").status == 200
    assert call(sim, "GET", BASE).status == 200
    assert_error(call(sim, "GET", f"{BASE}/newest"), "SERVER_ERROR")
    assert_error(call(sim, "DELETE", f"{BASE}/middle"), "API_MISUSE")
    assert call(sim, "DELETE", f"{BASE}/oldest").status == 200
    other = call(sim, "GET", f"/1.1/{OTHER_KEY}/custom-audience", auth=OTHER_REST)
    assert_error(other, "MAINTENANCE_ERROR")


def test_first_active_fault_wins_in_insertion_order(sim: BatchSimulator) -> None:
    sim.add_fault(action="error", error="SERVER_ERROR", times=1)
    sim.add_fault(action="error", error="MAINTENANCE_ERROR", times=1)
    statuses = [call(sim, "GET", BASE).status for _ in range(3)]
    assert statuses == [500, 503, 200]


def test_delay_fault_and_global_latency(sim: BatchSimulator) -> None:
    sim.add_fault(action="delay", latency=0.3, times=1)
    started = time.monotonic()
    assert call(sim, "GET", BASE).status == 200
    assert 0.3 <= time.monotonic() - started < 2.0
    assert (sim.requests[-1].fault, sim.requests[-1].status) == ("delay", 200)
    started = time.monotonic()
    call(sim, "GET", BASE)
    assert time.monotonic() - started < 0.25
    assert control(sim, "POST", "/latency", {"latency": 0.2}).json() == {"latency": 0.2}
    started = time.monotonic()
    assert call(sim, "GET", BASE).status == 200
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    assert control(sim, "GET", "/faults").status == 200
    assert time.monotonic() - started < 0.15


def test_a_delayed_request_does_not_block_others(sim: BatchSimulator) -> None:
    sim.add_fault(action="delay", latency=0.6, audience="oldest")
    slow = threading.Thread(target=call, args=(sim, "GET", f"{BASE}/oldest"))
    slow.start()
    time.sleep(0.05)
    started = time.monotonic()
    assert call(sim, "DELETE", f"{BASE}/middle").status == 200
    assert control(sim, "GET", "/requests").status == 200
    assert time.monotonic() - started < 0.3
    slow.join(timeout=3)
    assert [(r.path, r.status) for r in sim.requests] == [
        (f"{BASE}/oldest", 200),
        (f"{BASE}/middle", 200),
    ]


def test_constructor_latency_applies_to_api_calls() -> None:
    with BatchSimulator(latency=0.2) as slow:
        slow.add_app(API_KEY, REST_KEY, ["a"])
        started = time.monotonic()
        assert call(slow, "GET", BASE).status == 200
        assert time.monotonic() - started >= 0.2


def test_timeout_fault_never_answers(sim: BatchSimulator) -> None:
    sim.add_fault(action="timeout", times=1)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        call(sim, "DELETE", f"{BASE}/oldest", timeout=0.3)
    assert time.monotonic() - started < 2.0
    recorded = sim.requests[-1]
    assert (recorded.method, recorded.fault, recorded.status) == ("DELETE", "timeout", None)
    assert "oldest" in sim.audience_names(API_KEY)
    assert call(sim, "GET", BASE).status == 200


def test_drop_fault_closes_without_a_byte(sim: BatchSimulator) -> None:
    sim.add_fault(action="drop", times=1, method="DELETE")
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        call(sim, "DELETE", f"{BASE}/oldest", body=b'{"ignored": true}')
    recorded = sim.requests[-1]
    assert (recorded.fault, recorded.status, recorded.body) == ("drop", None, b'{"ignored": true}')
    assert "oldest" in sim.audience_names(API_KEY)
    assert call(sim, "DELETE", f"{BASE}/oldest").status == 200


def test_drop_fault_seen_through_urllib(sim: BatchSimulator) -> None:
    sim.add_fault(action="drop")
    with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
        urlopen(f"{sim.url}{BASE}", {"X-Authorization": REST_KEY})


@pytest.mark.parametrize(
    ("fault", "status", "content_type"),
    [
        ({"action": "malformed"}, 500, "application/json"),
        ({"action": "malformed", "status": 503}, 503, "application/json"),
        ({"action": "html"}, 502, "text/html; charset=utf-8"),
        ({"action": "html", "status": 504}, 504, "text/html; charset=utf-8"),
        ({"action": "empty"}, 503, None),
        ({"action": "huge"}, 500, "application/json"),
    ],
)
def test_broken_body_faults(
    sim: BatchSimulator,
    fault: dict[str, Any],
    status: int,
    content_type: str | None,
) -> None:
    sim.add_fault(**fault)
    resp = call(sim, "DELETE", f"{BASE}/oldest")
    assert resp.status == status
    assert resp.headers.get("Content-Type") == content_type
    assert int(resp.headers["Content-Length"]) == len(resp.body)
    action = fault["action"]
    if action == "malformed":
        with pytest.raises(ValueError):
            resp.json()
        assert resp.body.startswith(b'{"code": 1')
    elif action == "html":
        assert b"<html>" in resp.body
        assert str(status).encode() in resp.body
    elif action == "empty":
        assert resp.body == b""
    else:
        assert len(resp.body) >= 5 * 1024 * 1024 - 1024
        assert resp.json()["error_code"] == "SERVER_ERROR"
    assert "oldest" in sim.audience_names(API_KEY)
    assert (sim.requests[-1].fault, sim.requests[-1].status) == (action, status)


def test_huge_fault_can_be_abandoned_by_a_bounded_reader(sim: BatchSimulator) -> None:
    sim.add_fault(action="huge", times=1)
    host, port = address(sim)
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", BASE, headers={"X-Authorization": REST_KEY})
    resp = conn.getresponse()
    assert len(resp.read(1024)) == 1024
    resp.close()
    conn.close()
    assert call(sim, "GET", BASE).status == 200


def test_add_fault_rejects_bad_input(sim: BatchSimulator) -> None:
    with pytest.raises(ValueError):
        sim.add_fault(action="explode")
    with pytest.raises(ValueError):
        sim.add_fault(action="error", error="NOT_AN_ERROR")
    with pytest.raises(ValueError):
        sim.add_fault(action="error", times=0)
    with pytest.raises(ValueError):
        sim.add_fault(action="delay", latency=-1)
    with pytest.raises(ValueError):
        sim.add_fault(action="error", retry_after="5\r\nX-Injected: 1")
    assert sim.faults() == []


# -- hostile faults: raw bytes on a plain socket ---------------------------------------------------------


@contextlib.contextmanager
def raw_connection(sim: BatchSimulator, request: bytes = GET_OLDEST, timeout: float = 5.0) -> Iterator[socket.socket]:
    with socket.create_connection(address(sim), timeout=timeout) as sock:
        sock.sendall(request)
        yield sock


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read up to the blank line that ends the head: (head, any body bytes read with it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1)
        assert chunk, f"EOF inside the head: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def header(head: bytes, name: str) -> str:
    [value] = [
        line.split(b": ", 1)[1]
        for line in head.split(b"\r\n")[1:]
        if line.split(b":")[0].lower() == name.lower().encode()
    ]
    return value.decode()


def read_to_eof(sock: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def connection_threads() -> list[threading.Thread]:
    return [
        t for t in threading.enumerate() if t.name.startswith("batch-simulator-") and t.name.endswith("-connection")
    ]


def wait_for(predicate: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("fault", "status", "length", "sent"),
    [
        ({}, 200, 1000, b'{"paddi'),
        ({"length": 50, "send": 20}, 200, 50, b'{"padding":"xxxxxxxx'),
        ({"error": "SERVER_ERROR", "send": 0}, 500, 1000, b""),
        ({"status": 503, "length": 3}, 503, 3, b"{}"),  # too short for the error body: {} and a space
    ],
)
def test_truncate_announces_more_than_it_sends_then_closes(
    sim: BatchSimulator, fault: dict[str, Any], status: int, length: int, sent: bytes
) -> None:
    sim.add_fault(action="truncate", **fault)
    with raw_connection(sim) as sock:
        head, body = read_head(sock)
        body += read_to_eof(sock)
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert header(head, "Content-Length") == str(length)
    assert header(head, "Content-Type") == "application/json"
    assert header(head, "Connection") == "close"
    assert body == sent
    assert len(body) < length
    assert (sim.requests[-1].fault, sim.requests[-1].status) == ("truncate", status)
    assert "oldest" in sim.audience_names(API_KEY)
    with pytest.raises(http.client.IncompleteRead):
        call(sim, "GET", f"{BASE}/oldest")
    sim.clear_faults()
    assert call(sim, "GET", BASE).status == 200  # the server lives on


def test_drip_sends_the_body_one_byte_at_a_time(sim: BatchSimulator) -> None:
    sim.add_fault(action="drip", interval=0.05, length=20, error="MAINTENANCE_ERROR")
    with raw_connection(sim) as sock:
        started = time.monotonic()
        head, body = read_head(sock)
        head_after = time.monotonic() - started
        arrivals = []
        while chunk := sock.recv(65536):
            arrivals.append((time.monotonic() - started, chunk))
            body += chunk
    assert head.startswith(b"HTTP/1.1 503 ")
    assert header(head, "Content-Length") == "20"
    assert head_after < 0.5  # the head comes at once
    assert body == b"{}" + b" " * 18  # the error body does not fit in 20 bytes: {} and spaces, valid JSON
    assert json.loads(body) == {}
    assert len(arrivals) >= 10  # in many pieces, not one
    assert arrivals[-1][0] >= 20 * 0.05 * 0.5
    assert (sim.requests[-1].fault, sim.requests[-1].status) == ("drip", 503)


def test_a_dripped_body_is_valid_json_for_a_patient_client(sim: BatchSimulator) -> None:
    sim.add_fault(action="drip", interval=0.005, length=120, error="SERVER_ERROR")
    resp = call(sim, "GET", f"{BASE}/oldest")
    assert (resp.status, len(resp.body)) == (500, 120)
    assert resp.json()["error_code"] == "SERVER_ERROR"
    cep = cep_call(sim, "GET", "view?name=beta")  # the same fault, in CEP's shape
    assert set(json.loads(cep.body)) == {"error_message", "error_code", "padding"}


def test_drip_headers_sends_a_header_line_every_interval(sim: BatchSimulator) -> None:
    sim.add_fault(action="drip_headers", interval=0.05, length=5, times=1)
    with raw_connection(sim) as sock:
        status_line = b""
        while not status_line.endswith(b"\r\n"):
            status_line += sock.recv(1)
        first_filler_at = None
        head, body = b"", b""
        started = time.monotonic()
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
            if first_filler_at is None and b"X-Filler-1:" in head:
                first_filler_at = time.monotonic() - started
        body = read_to_eof(sock)
    assert status_line.startswith(b"HTTP/1.1 200 ")
    fillers = [line.split(b":")[0] for line in head.split(b"\r\n") if line.startswith(b"X-Filler-")]
    assert fillers == [f"X-Filler-{n}".encode() for n in range(1, 6)]
    assert first_filler_at is not None
    assert first_filler_at >= 0.02
    assert head.index(b"X-Filler-5") < head.index(b"Content-Length")
    assert int(header(b"x\r\n" + head, "Content-Length")) == len(body)
    assert json.loads(body) == {}
    assert (sim.requests[-1].fault, sim.requests[-1].status) == ("drip_headers", 200)


def test_drip_headers_parses_with_a_standard_client(sim: BatchSimulator) -> None:
    sim.add_fault(action="drip_headers", interval=0.01, length=3, status=429, retry_after="5")
    resp = call(sim, "DELETE", f"{BASE}/oldest")
    assert_error(resp, "TOO_MANY_REQUESTS")
    assert (resp.headers["X-Filler-3"], resp.headers["Retry-After"]) == ("x" * 16, "5")


def test_stall_body_announces_a_body_then_sends_nothing_until_its_latency(sim: BatchSimulator) -> None:
    sim.add_fault(action="stall_body", latency=0.3, error="SERVER_ERROR")
    with raw_connection(sim) as sock:
        started = time.monotonic()
        head, body = read_head(sock)
        head_after = time.monotonic() - started
        body += read_to_eof(sock)
        closed_after = time.monotonic() - started
    assert head.startswith(b"HTTP/1.1 500 ")
    assert int(header(head, "Content-Length")) > 0
    assert head_after < 0.25  # latency is the stall here, not a wait before the head
    assert body == b""
    assert closed_after >= 0.25
    assert (sim.requests[-1].fault, sim.requests[-1].status) == ("stall_body", 500)


def test_stall_body_ends_when_the_peer_hangs_up(sim: BatchSimulator) -> None:
    sim.add_fault(action="stall_body", times=1)  # no latency: until the peer closes (or the simulator stops)
    with raw_connection(sim) as sock:
        read_head(sock)
        assert len(connection_threads()) == 1
    wait_for(lambda: not connection_threads())
    assert call(sim, "GET", BASE).status == 200


def test_redirect_points_elsewhere_on_the_same_host(sim: BatchSimulator) -> None:
    sim.add_fault(action="redirect", times=1)
    resp = call(sim, "DELETE", f"{BASE}/oldest")  # http.client never follows
    assert resp.status == 302
    assert resp.headers["Location"] == f"{sim.url}/moved"
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"302 Found" in resp.body
    assert "oldest" in sim.audience_names(API_KEY)
    sim.add_fault(action="redirect", status=307, location="http://127.0.0.1:9/steal?key={api_key}", times=1)
    resp = call(sim, "GET", BASE)
    assert (resp.status, resp.headers["Location"]) == (307, f"http://127.0.0.1:9/steal?key={API_KEY}")
    assert [(r.fault, r.status) for r in sim.requests] == [("redirect", 302), ("redirect", 307)]


def test_a_client_that_follows_a_redirect_is_seen_doing_so(sim: BatchSimulator) -> None:
    sim.add_fault(action="redirect", path="/custom-audience")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urlopen(f"{sim.url}{BASE}", {"X-Authorization": REST_KEY})
    excinfo.value.close()
    followed = sim.requests[-1]
    assert (followed.path, followed.status, followed.fault) == ("/moved", 404, None)
    assert followed.headers["X-Authorization"] == REST_KEY  # what a careless client gives away


def test_raw_sends_exactly_what_the_test_gives_with_keys_filled_in(sim: BatchSimulator) -> None:
    body = (
        '{"error_code": "{api_key}", "message": "{rest_api_key_pct}|{api_key_zw}|{api_key_split}|'
        '{api_key_lower}|{rest_api_key_upper}|{project_key}|{unknown}"}'
    )
    sim.add_fault(
        action="raw", status=418, headers=[["X-Echo", "{api_key_upper}"], ["Content-Type", "text/plain"]], body=body
    )
    with raw_connection(sim) as sock:
        reply = read_to_eof(sock)
    head, _, sent = reply.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"HTTP/1.1 418 I'm a Teapot",
        f"X-Echo: {API_KEY.upper()}".encode(),
        b"Content-Type: text/plain",
        f"Content-Length: {len(sent)}".encode(),
        b"Connection: close",
    ]
    pct = "".join(f"%{ord(c):02X}" for c in REST_KEY)
    half = len(API_KEY) // 2
    expected = (
        f'{{"error_code": "{API_KEY}", "message": "{pct}|{API_KEY[:half]}\u200b{API_KEY[half:]}|'
        f'{API_KEY[:half]} {API_KEY[half:]}|{API_KEY.lower()}|{REST_KEY.upper()}||{{unknown}}"}}'
    )
    assert sent.decode("utf-8") == expected
    assert (sim.requests[-1].fault, sim.requests[-1].status) == ("raw", 418)


def test_raw_fills_cep_keys_and_keeps_a_lying_content_length(sim: BatchSimulator) -> None:
    sim.add_fault(
        action="raw",
        headers=[["Content-Length", "999"], ["X-Key", "{project_key}"]],
        body='{"error_message": "{rest_api_key}", "error_code": "{api_key}"}',
    )
    request = (
        f"GET {CEP}/list HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer {PROJECT_REST}\r\n"
        f"X-Batch-Project: {PROJECT_KEY}\r\n\r\n"
    ).encode()
    reply = raw_exchange(sim, request)
    head, _, sent = reply.partition(b"\r\n\r\n")
    assert header(head, "Content-Length") == "999"
    assert header(head, "X-Key") == PROJECT_KEY
    assert json.loads(sent) == {"error_message": PROJECT_REST, "error_code": PROJECT_KEY}


# -- every action: latency, times, selectors, validation, robustness ------------------------------------------

QUICK = {  # every action, shaped to answer fast
    "error": {},
    "delay": {},
    "timeout": {},
    "drop": {},
    "malformed": {},
    "html": {},
    "empty": {},
    "huge": {},
    "truncate": {"length": 10, "send": 2},
    "drip": {"length": 4, "interval": 0},
    "drip_headers": {"length": 2, "interval": 0},
    "stall_body": {"latency": 0.05},
    "redirect": {},
    "raw": {"body": "{}"},
}


def test_quick_covers_every_action() -> None:
    assert set(QUICK) == FAULT_ACTIONS


def first_byte_or_eof_after(sim: BatchSimulator, timeout: float = 0.6) -> float:
    """Seconds until the first byte of the answer, or until the server closes, whichever comes first."""
    with raw_connection(sim, timeout=timeout) as sock:
        started = time.monotonic()
        with contextlib.suppress(ConnectionError, TimeoutError):
            sock.recv(1)
        return time.monotonic() - started


@pytest.mark.parametrize("action", sorted(FAULT_ACTIONS - {"timeout", "stall_body"}))
def test_latency_delays_every_action(sim: BatchSimulator, action: str) -> None:
    sim.add_fault(action=action, latency=0.2, **QUICK[action])
    assert 0.18 <= first_byte_or_eof_after(sim) < 0.6
    assert sim.requests[-1].fault == action


@pytest.mark.parametrize("action", sorted(FAULT_ACTIONS))
def test_times_limits_every_action(sim: BatchSimulator, action: str) -> None:
    fault = sim.add_fault(action=action, times=1, **QUICK[action])
    with contextlib.suppress(OSError, http.client.HTTPException):
        call(sim, "GET", f"{BASE}/oldest", timeout=0.3)
    assert call(sim, "GET", f"{BASE}/oldest").status == 200
    assert [(r.fault is not None) for r in sim.requests] == [True, False]
    assert sim.faults() == [{**fault, "remaining": 0, "hits": 1}]


@pytest.mark.parametrize("action", sorted(FAULT_ACTIONS))
def test_no_action_kills_the_server_or_changes_state(sim: BatchSimulator, action: str) -> None:
    sim.add_fault(action=action, **QUICK[action])
    for _ in range(2):
        with contextlib.suppress(OSError, http.client.HTTPException):
            call(sim, "DELETE", f"{BASE}/oldest", timeout=0.3)
    sim.clear_faults()
    assert call(sim, "GET", f"{BASE}/oldest").status == (404 if action == "delay" else 200)


def test_the_path_selector_matches_a_substring_of_path_and_query(sim: BatchSimulator) -> None:
    sim.add_fault(action="error", error="SERVER_ERROR", path="from=")
    sim.add_fault(action="error", error="MAINTENANCE_ERROR", path="/1.0/")
    sim.add_fault(action="error", error="API_MISUSE", path="/audiences/view", project_key=PROJECT_KEY)
    assert call(sim, "GET", BASE).status == 200
    assert_error(call(sim, "GET", f"{BASE}?from=10"), "SERVER_ERROR")
    assert_error(call(sim, "GET", f"/1.0/{API_KEY}/custom-audience"), "MAINTENANCE_ERROR")
    assert_cep_error(cep_call(sim, "GET", "view?name=beta"), 403, "API_MISUSE")
    assert cep_call(sim, "GET", "list").status == 200
    assert sim.faults()[2]["api_key"] == PROJECT_KEY  # project_key is the same selector as api_key


@pytest.mark.parametrize(
    "spec",
    [
        {"action": "truncate", "length": 10, "send": 10},
        {"action": "truncate", "send": 1000},
        {"action": "truncate", "length": 0},
        {"action": "drip", "length": 1},
        {"action": "drip", "interval": -1},
        {"action": "drip", "location": "/x"},
        {"action": "error", "length": 10},
        {"action": "redirect", "status": 200},
        {"action": "redirect", "location": "/a\r\nSet-Cookie: x"},
        {"action": "raw", "headers": [["X-A", "b\r\nX-Injected: 1"]]},
        {"action": "raw", "headers": [["Bad Name", "v"]]},
        {"action": "raw", "headers": [["X-A"]]},
        {"action": "raw", "headers": {"X-A": "b"}},
        {"action": "raw", "body": 7},
        {"action": "error", "api_key": "A", "project_key": "B"},
        {"action": "error", "path": 3},
    ],
)
def test_add_fault_rejects_bad_shaping_parameters(sim: BatchSimulator, spec: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError)):
        sim.add_fault(**spec)
    assert control(sim, "POST", "/faults", spec).status == 400
    assert sim.faults() == []


def test_hostile_faults_over_the_control_plane(sim: BatchSimulator) -> None:
    spec = {"action": "raw", "status": 401, "headers": [["X-A", "{api_key}"]], "body": "{}", "path": "/1.1/"}
    described = control(sim, "POST", "/faults", spec).json()
    assert {k: described[k] for k in ("action", "status", "headers", "body", "path")} == spec
    assert "length" not in described
    resp = call(sim, "GET", BASE)
    assert (resp.status, resp.headers["X-A"], resp.body) == (401, API_KEY, b"{}")


def test_stop_is_prompt_with_dripping_and_stalled_connections_open() -> None:
    sim = BatchSimulator().start()
    sim.add_app(API_KEY, REST_KEY, ["oldest"])
    sockets = []
    for spec in (
        {"action": "drip", "interval": 2.0},
        {"action": "drip_headers", "interval": 2.0},
        {"action": "stall_body"},
        {"action": "timeout"},
        {"action": "drip", "interval": 0.01, "length": MAX_DRIP},
    ):
        sim.clear_faults()
        sim.add_fault(**spec)
        sock = socket.create_connection(address(sim), timeout=5)
        sock.sendall(GET_OLDEST)
        sockets.append(sock)
        wait_for(lambda: len(sim.requests) == len(sockets))
    time.sleep(0.1)
    assert len(connection_threads()) == 5
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 1.2
    assert connection_threads() == []
    for sock in sockets:
        read_to_eof(sock)  # every connection is closed: EOF (or a reset), never a hang
        sock.close()
    assert [r.status for r in sim.requests] == [200, 200, 200, None, 200]


MAX_DRIP = 16 * 1024 * 1024


def test_cli_takes_hostile_faults(capsys: pytest.CaptureFixture[str]) -> None:
    from audienceadmin.batch.simulator import main

    with pytest.raises(SystemExit):
        main(["--port", "0", "--fault", '{"action": "drip", "location": "/x"}'])
    with pytest.raises(SystemExit):
        main(["--port", "0", "--fault", '{"action": "raw", "colour": "red"}'])
    assert "usage:" in capsys.readouterr().err
