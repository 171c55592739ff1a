"""The Batch simulator, exercised over real sockets with the standard library only."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from audienceadmin.batch.simulator import BatchSimulator, RecordedRequest, main
from tests.batch.simclient import (
    API_KEY,
    BASE,
    OTHER_KEY,
    OTHER_REST,
    REST_KEY,
    address,
    assert_error,
    call,
    control,
    urlopen,
)

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


# -- API happy paths -------------------------------------------------------------------------


def test_list_is_newest_first_with_the_documented_fields(sim: BatchSimulator) -> None:
    resp = call(sim, "GET", BASE)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert int(resp.headers["Content-Length"]) == len(resp.body)
    items = resp.json()["custom_audiences"]
    assert [item["name"] for item in items] == ["newest", "middle", "oldest"]
    assert set(items[0]) == {"name", "type", "description", "nb_ids", "created", "updated"}
    assert TIMESTAMP.fullmatch(items[0]["created"])
    assert sim.audience_names(API_KEY) == ["newest", "middle", "oldest"]


def test_list_pagination_and_limits(sim: BatchSimulator) -> None:
    for i in range(120):
        sim.add_audience(API_KEY, f"bulk_{i:03d}")
    default = call(sim, "GET", BASE).json()["custom_audiences"]
    assert [a["name"] for a in default] == [f"bulk_{i:03d}" for i in range(119, 109, -1)]
    page = call(sim, "GET", f"{BASE}?from=10&limit=5").json()["custom_audiences"]
    assert [a["name"] for a in page] == [f"bulk_{i:03d}" for i in range(109, 104, -1)]
    assert len(call(sim, "GET", f"{BASE}?limit=100").json()["custom_audiences"]) == 100
    tail = call(sim, "GET", f"{BASE}?from=120&limit=100").json()["custom_audiences"]
    assert [a["name"] for a in tail] == ["newest", "middle", "oldest"]
    assert call(sim, "GET", f"{BASE}?from=500").json() == {"custom_audiences": []}
    for query in ("limit=101", "limit=0", "limit=abc", "from=-1", "from=x", "from=", "limit=1.5"):
        assert_error(call(sim, "GET", f"{BASE}?{query}"), "MALFORMED_PARAMETER")


def test_view_returns_detail_with_indexing_state(sim: BatchSimulator) -> None:
    sim.add_audience(API_KEY, "vip", type="advertising_ids", description="VIPs", nb_ids=42)
    resp = call(sim, "GET", f"{BASE}/vip")
    assert resp.status == 200
    assert resp.json() == {
        "name": "vip",
        "type": "advertising_ids",
        "description": "VIPs",
        "created": resp.json()["created"],
        "updated": resp.json()["updated"],
        "nb_ids": 42,
        "indexing_state": "APPLIED",
    }
    assert TIMESTAMP.fullmatch(resp.json()["updated"])


@pytest.mark.parametrize(
    ("version", "kind"), [("1.0", "custom_ids"), ("1.0", "advertising_ids"), ("1.1", "install_ids")]
)
def test_create_view_delete_cycle(sim: BatchSimulator, version: str, kind: str) -> None:
    base = f"/{version}/{API_KEY}/custom-audience"
    created = call(sim, "POST", f"{base}/fresh", body={"type": kind})
    assert (created.status, created.json()) == (200, {})
    assert sim.audience_names(API_KEY, version)[0] == "fresh"
    assert call(sim, "GET", f"{base}/fresh").json()["type"] == kind
    duplicate = call(sim, "POST", f"{base}/fresh", body={"type": kind})
    assert "exists" in assert_error(duplicate, "MALFORMED_PARAMETER")["message"]
    deleted = call(sim, "DELETE", f"{base}/fresh")
    assert (deleted.status, deleted.json()) == (200, {})
    assert "fresh" not in sim.audience_names(API_KEY, version)
    assert_error(call(sim, "GET", f"{base}/fresh"), "ROUTE_NOT_FOUND")
    assert_error(call(sim, "DELETE", f"{base}/fresh"), "ROUTE_NOT_FOUND")


@pytest.mark.parametrize(
    ("version", "kind"), [("1.0", "install_ids"), ("1.1", "custom_ids"), ("1.1", "advertising_ids")]
)
def test_each_version_creates_only_its_own_types(sim: BatchSimulator, version: str, kind: str) -> None:
    resp = call(sim, "POST", f"/{version}/{API_KEY}/custom-audience/fresh", body={"type": kind})
    assert version in assert_error(resp, "MALFORMED_PARAMETER")["message"]
    assert "fresh" not in sim.audience_names(API_KEY, version)


def test_1_0_and_1_1_keep_separate_audiences(sim: BatchSimulator) -> None:
    base_10 = f"/1.0/{API_KEY}/custom-audience"
    sim.add_audience(API_KEY, "shared", version="1.0", nb_ids=10)
    sim.add_audience(API_KEY, "shared", nb_ids=11)
    sim.add_audience(API_KEY, "only-10", version="1.0", type="advertising_ids")
    assert sim.audience_names(API_KEY, "1.0") == ["only-10", "shared"]
    assert sim.audience_names(API_KEY) == sim.audience_names(API_KEY, "1.1") == ["shared", "newest", "middle", "oldest"]
    listed_10 = call(sim, "GET", base_10).json()["custom_audiences"]
    assert [(a["name"], a["type"], a["nb_ids"]) for a in listed_10] == [
        ("only-10", "advertising_ids", 0),
        ("shared", "custom_ids", 10),
    ]
    assert [a["name"] for a in call(sim, "GET", BASE).json()["custom_audiences"]][:2] == ["shared", "newest"]
    assert call(sim, "GET", f"{BASE}/shared").json()["type"] == "install_ids"
    assert_error(call(sim, "GET", f"{BASE}/only-10"), "ROUTE_NOT_FOUND")
    assert_error(call(sim, "DELETE", f"{base_10}/oldest"), "ROUTE_NOT_FOUND")
    assert call(sim, "DELETE", f"{base_10}/shared").status == 200
    assert sim.audience_names(API_KEY, "1.0") == ["only-10"]
    assert call(sim, "GET", f"{BASE}/shared").json()["nb_ids"] == 11
    with pytest.raises(ValueError):
        sim.audience_names(API_KEY, "2.0")
    with pytest.raises(ValueError):
        sim.add_audience(API_KEY, "x", version="1.2")


def test_add_app_puts_names_in_one_version_and_dicts_where_they_say(sim: BatchSimulator) -> None:
    sim.add_app(OTHER_KEY, OTHER_REST, ["a", {"name": "b", "version": "1.1"}], version="1.0")
    assert (sim.audience_names(OTHER_KEY, "1.0"), sim.audience_names(OTHER_KEY, "1.1")) == (["a"], ["b"])
    created = control(
        sim, "POST", "/apps", {"api_key": "K3", "rest_api_key": "R3", "audiences": ["c"], "version": "1.0"}
    )
    assert created.json() == {"audiences": ["c"]}
    added = control(sim, "POST", "/audiences", {"api_key": "K3", "name": "d", "version": "1.0", "nb_ids": 2})
    assert added.json() == {"audiences": ["d", "c"]}
    assert control(sim, "GET", "/audiences?api_key=K3&version=1.0").json() == {"audiences": ["d", "c"]}
    assert control(sim, "GET", "/audiences?api_key=K3").json() == {"audiences": []}
    assert control(sim, "GET", "/audiences?api_key=K3&version=9").status == 400


def test_create_validates_its_body(sim: BatchSimulator) -> None:
    assert_error(call(sim, "POST", f"{BASE}/x1", body=b"{not json"), "MALFORMED_JSON_BODY")
    assert_error(call(sim, "POST", f"{BASE}/x1", body=b"[1, 2]"), "MALFORMED_JSON_BODY")
    assert_error(call(sim, "POST", f"{BASE}/x1", body=b"\xff\xfe"), "MALFORMED_JSON_BODY")
    assert_error(call(sim, "POST", f"{BASE}/x1", body={"description": "d"}), "MISSING_PARAMETER")
    assert_error(call(sim, "POST", f"{BASE}/x1", body={"type": "nope"}), "MALFORMED_PARAMETER")
    assert "x1" not in sim.audience_names(API_KEY)


def test_patch_and_put_adjust_nb_ids(sim: BatchSimulator) -> None:
    add = {"ids": [{"action": "add", "id": f"install-{i}"} for i in range(5)]}
    resp = call(sim, "PATCH", f"{BASE}/middle", body=add)
    assert resp.status == 200
    assert re.fullmatch(r"[0-9a-f]+", resp.json()["indexing_token"])
    remove = {"ids": [{"action": "remove", "id": "install-0"}, {"action": "remove", "id": "x"}]}
    assert call(sim, "PATCH", f"{BASE}/middle", body=remove).status == 200
    assert call(sim, "GET", f"{BASE}/middle").json()["nb_ids"] == 4
    replace = {"ids": [{"id": "a"}, {"id": "b"}]}
    assert call(sim, "PUT", f"{BASE}/middle", body=replace).status == 200
    assert call(sim, "GET", f"{BASE}/middle").json()["nb_ids"] == 2
    assert_error(call(sim, "PATCH", f"{BASE}/middle", body=b"{"), "MALFORMED_JSON_BODY")
    assert_error(call(sim, "PATCH", f"{BASE}/ghost", body=add), "ROUTE_NOT_FOUND")
    bad_action = {"ids": [{"action": "toggle", "id": "a"}]}
    assert_error(call(sim, "PATCH", f"{BASE}/middle", body=bad_action), "MALFORMED_PARAMETER")


def test_keep_alive_connection_is_reused(sim: BatchSimulator) -> None:
    host, port = address(sim)
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        statuses = []
        for method, path, body in [
            ("GET", BASE, None),
            ("GET", f"{BASE}/ghost", None),
            ("POST", f"{BASE}/kept", b'{"type": "install_ids"}'),
            ("POST", f"{BASE}/kept2", b"{broken"),
            ("DELETE", f"{BASE}/kept", None),
            ("HEAD", BASE, None),
            ("GET", f"{BASE}/newest", None),
        ]:
            conn.request(method, path, body=body, headers={"X-Authorization": REST_KEY})
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
            assert resp.getheader("Connection") != "close"
        sock = conn.sock
        assert sock is not None
        assert statuses == [200, 404, 200, 400, 200, 404, 200]
        assert conn.sock is sock
    finally:
        conn.close()


def test_chunked_request_body_is_accepted(sim: BatchSimulator) -> None:
    host, port = address(sim)
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        chunks = iter([b'{"type": ', b'"install_ids"}'])
        conn.request(
            "POST",
            f"{BASE}/chunky",
            body=chunks,
            headers={"X-Authorization": REST_KEY},
            encode_chunked=True,
        )
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    assert sim.requests[-1].body == b'{"type": "install_ids"}'


# -- authentication, routing, names ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "auth"),
    [
        (BASE, None),
        (BASE, "wrong-rest-key"),
        (BASE, OTHER_REST),
        (BASE, ""),
        ("/1.1/UNKNOWNAPIKEY/custom-audience", REST_KEY),
        ("/1.1/UNKNOWNAPIKEY/custom-audience/oldest", REST_KEY),
        (f"{BASE}/oldest", None),
    ],
)
def test_authentication_failures_are_401(sim: BatchSimulator, path: str, auth: str | None) -> None:
    method = "DELETE" if path.endswith("oldest") else "GET"
    assert_error(call(sim, method, path, auth=auth), "AUTHENTICATION_INVALID")
    assert "oldest" in sim.audience_names(API_KEY)


def test_one_app_cannot_reach_another(sim: BatchSimulator) -> None:
    cross = call(sim, "DELETE", f"/1.1/{OTHER_KEY}/custom-audience/theirs")
    assert_error(cross, "AUTHENTICATION_INVALID")
    assert_error(call(sim, "GET", f"{BASE}/theirs"), "ROUTE_NOT_FOUND")
    assert sim.audience_names(OTHER_KEY) == ["theirs"]


def test_percent_encoding_never_reaches_another_route(sim: BatchSimulator) -> None:
    sim.add_audience(API_KEY, "a")
    sim.add_audience(API_KEY, "Abc")
    before = sim.audience_names(API_KEY)
    for encoded in ("a%2Fb", "a%2F..%2Fb", "%2E%2E", "..", "a%20b", "%C3%A9t%C3%A9", "%ff", "a%00"):
        assert_error(call(sim, "DELETE", f"{BASE}/{encoded}"), "MALFORMED_PARAMETER")
    assert_error(call(sim, "DELETE", f"{BASE}/{'x' * 256}"), "MALFORMED_PARAMETER")
    assert sim.audience_names(API_KEY) == before
    assert call(sim, "GET", f"{BASE}/%41bc").json()["name"] == "Abc"
    encoded_key = "".join(f"%{ord(c):02X}" for c in API_KEY)
    assert call(sim, "GET", f"/1.1/{encoded_key}/custom-audience/a").status == 200
    assert sim.requests[-1].path == f"/1.1/{encoded_key}/custom-audience/a"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/1.1"),
        ("GET", f"/1.2/{API_KEY}/custom-audience"),
        ("GET", f"/1.1/{API_KEY}/custom-audiences"),
        ("GET", f"{BASE}/a/b"),
        ("POST", BASE),
        ("DELETE", BASE),
        ("OPTIONS", f"{BASE}/oldest"),
        ("BREW", f"{BASE}/oldest"),
        ("GET", f"/1.1/{API_KEY}/custom%2Daudience"),
    ],
)
def test_unknown_routes_and_methods_are_404(sim: BatchSimulator, method: str, path: str) -> None:
    assert_error(call(sim, method, path), "ROUTE_NOT_FOUND")
    assert sim.audience_names(API_KEY) == ["newest", "middle", "oldest"]


def test_garbage_on_the_socket_does_not_kill_the_server(sim: BatchSimulator) -> None:
    host, port = address(sim)
    for garbage, expected in (
        (b"\x00\x01\x02 nonsense\r\n\r\n", b"HTTP/1.1 400"),
        (b"GET /x HTTP/9.9\r\n\r\n", b"HTTP/1.1 505"),
        (b"GET /x HTTP/1.1\r\nBad Header\r\n\r\n", b"HTTP/1.1 404"),
        (f"POST {BASE}/x HTTP/1.1\r\nContent-Length: -5\r\n\r\n".encode(), b"HTTP/1.1 400"),
        (f"POST {BASE}/x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc".encode(), b"HTTP/1.1 400"),
        (f"POST {BASE}/x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n".encode(), b"HTTP/1.1 400"),
        # The server may reset before the client reads its 414: an empty reply is acceptable.
        (b"GET " + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b""),
    ):
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(garbage)
            sock.shutdown(socket.SHUT_WR)
            reply = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(65536):
                    reply += chunk
            assert reply.startswith(expected)
            assert API_KEY.encode() not in reply
    assert call(sim, "GET", BASE).status == 200


# -- request log and control plane -------------------------------------------------------------


def test_request_log_records_what_the_server_received(sim: BatchSimulator) -> None:
    call(sim, "GET", f"{BASE}?from=0&limit=2")
    call(sim, "POST", f"{BASE}/logged", body={"type": "custom_ids"}, auth="bad-key")
    call(sim, "DELETE", f"{BASE}/a%2Fb")
    control(sim, "GET", "/faults")
    log = sim.requests
    assert all(isinstance(r, RecordedRequest) for r in log)
    assert [(r.method, r.path, r.query, r.status) for r in log] == [
        ("GET", BASE, "from=0&limit=2", 200),
        ("POST", f"{BASE}/logged", "", 401),
        ("DELETE", f"{BASE}/a%2Fb", "", 400),
    ]
    assert log[0].headers["X-Authorization"] == REST_KEY
    assert log[1].headers["X-Authorization"] == "bad-key"
    assert json.loads(log[1].body) == {"type": "custom_ids"}
    assert all(r.fault is None for r in log)
    assert log[0].received_at <= log[1].received_at <= log[2].received_at <= time.monotonic()
    sim.clear_requests()
    assert sim.requests == []


def test_request_log_normalises_header_names(sim: BatchSimulator) -> None:
    with urlopen(f"{sim.url}{BASE}", {"x-authorization": REST_KEY}) as resp:
        assert resp.status == 200
    assert sim.requests[-1].headers["X-Authorization"] == REST_KEY


def test_control_plane_round_trip(sim: BatchSimulator) -> None:
    assert control(sim, "GET", "/health").json() == {"status": "ok"}
    created = control(
        sim,
        "POST",
        "/apps",
        {"api_key": "K2", "rest_api_key": "R2", "audiences": ["one", {"name": "two", "nb_ids": 7}]},
    )
    assert created.json() == {"audiences": ["two", "one"]}
    resp = call(sim, "GET", "/1.1/K2/custom-audience/two", auth="R2")
    assert resp.json()["nb_ids"] == 7
    added = control(sim, "POST", "/audiences", {"api_key": "K2", "name": "three"})
    assert added.json()["audiences"][0] == "three"

    spec = {"action": "error", "error": "SERVER_ERROR", "times": 2}
    fault = control(sim, "POST", "/faults", spec)
    assert fault.status == 200
    assert fault.json()["remaining"] == 2
    assert call(sim, "GET", "/1.1/K2/custom-audience", auth="R2").status == 500
    listed = control(sim, "GET", "/faults").json()["faults"]
    assert [(f["id"], f["remaining"]) for f in listed] == [(fault.json()["id"], 1)]
    assert control(sim, "DELETE", "/faults").status == 200
    assert control(sim, "GET", "/faults").json() == {"faults": []}

    requests = control(sim, "GET", "/requests").json()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [
        ("GET", "/1.1/K2/custom-audience/two", 200),
        ("GET", "/1.1/K2/custom-audience", 500),
    ]
    assert requests[1]["fault"] == "error"
    assert requests[0]["headers"]["X-Authorization"] == "<redacted>"  # the key stays in Python's log only
    assert sim.requests[0].headers["X-Authorization"] == "R2"
    assert isinstance(requests[0]["received_at"], float)
    assert all(not r.path.startswith("/_sim") for r in sim.requests)
    assert control(sim, "DELETE", "/requests").status == 200
    assert sim.requests == []

    assert control(sim, "POST", "/reset").status == 200
    assert sim.audience_names(API_KEY) == []
    assert_error(call(sim, "GET", BASE), "AUTHENTICATION_INVALID")


def test_control_plane_is_never_faulted(sim: BatchSimulator) -> None:
    sim.add_fault(action="drop")
    assert control(sim, "GET", "/faults").status == 200
    assert control(sim, "GET", "/requests").json() == {"requests": []}


@pytest.mark.parametrize(
    ("method", "route", "body"),
    [
        ("POST", "/faults", b"{nope"),
        ("POST", "/faults", b"[]"),
        ("POST", "/faults", b'{"action": "explode"}'),
        ("POST", "/faults", b'{"action": "error", "times": "many"}'),
        ("POST", "/faults", b'{"action": "error", "bogus": 1}'),
        ("POST", "/apps", b'{"api_key": "K"}'),
        ("POST", "/apps", b'{"api_key": "K", "rest_api_key": "R", "audiences": ["a/b"]}'),
        ("POST", "/audiences", b'{"api_key": "missing", "name": "x"}'),
        ("POST", "/latency", b'{"latency": "fast"}'),
        ("POST", "/latency", b'{"latency": -1}'),
    ],
)
def test_control_plane_rejects_bad_input(
    sim: BatchSimulator,
    method: str,
    route: str,
    body: bytes,
) -> None:
    resp = call(sim, method, f"/_sim{route}", body=body, auth=None)
    assert resp.status == 400
    assert isinstance(resp.json()["message"], str)
    assert sim.faults() == []
    assert sim.latency == 0.0
    assert control(sim, "GET", "/nowhere").status == 404


# -- lifecycle --------------------------------------------------------------------------------


def test_stop_is_prompt_while_a_request_hangs() -> None:
    simulator = BatchSimulator().start()
    simulator.add_app(API_KEY, REST_KEY, ["a"])
    simulator.add_fault(action="timeout")
    outcome: list[BaseException | int] = []

    def hang() -> None:
        try:
            outcome.append(call(simulator, "GET", BASE, timeout=10).status)
        except (OSError, http.client.HTTPException) as exc:
            outcome.append(exc)

    client = threading.Thread(target=hang)
    client.start()
    deadline = time.monotonic() + 5
    while not simulator.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert simulator.requests[0].fault == "timeout"
    started = time.monotonic()
    simulator.stop()
    assert time.monotonic() - started < 2.0
    client.join(timeout=3)
    assert not client.is_alive()
    assert isinstance(outcome[0], BaseException)
    simulator.stop()
    with pytest.raises(OSError):
        socket.create_connection(address(simulator), timeout=1).close()


def test_stop_closes_idle_keep_alive_connections() -> None:
    with BatchSimulator() as simulator:
        simulator.add_app(API_KEY, REST_KEY)
        host, port = address(simulator)
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.request("GET", BASE, headers={"X-Authorization": REST_KEY})
        conn.getresponse().read()
        started = time.monotonic()
    assert time.monotonic() - started < 2.0
    assert conn.sock is not None
    assert conn.sock.recv(1) == b""
    conn.close()


def test_url_and_python_api_validation() -> None:
    simulator = BatchSimulator()
    with pytest.raises(RuntimeError):
        _ = simulator.url
    with simulator:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", simulator.url)
        with pytest.raises(ValueError):
            simulator.add_app(API_KEY, REST_KEY, ["bad name"])
        with pytest.raises(ValueError):
            simulator.add_app("", REST_KEY)
        with pytest.raises(KeyError):
            simulator.add_audience("unregistered", "x")
        assert simulator.audience_names("unregistered") == []
        simulator.add_app(API_KEY, REST_KEY, [{"name": "d", "description": "kept", "nb_ids": 3}])
        simulator.add_app(API_KEY, REST_KEY, ["replaced"])
        assert simulator.audience_names(API_KEY) == ["replaced"]


def test_request_logging_never_prints_keys(capsys: pytest.CaptureFixture[str]) -> None:
    encoded_key = "".join(f"%{ord(c):02X}" for c in API_KEY)
    with BatchSimulator(quiet=False) as simulator:
        simulator.add_app(API_KEY, REST_KEY, ["a"])
        assert call(simulator, "GET", BASE).status == 200
        assert call(simulator, "GET", f"/1.1/{encoded_key}/custom-audience").status == 200
        assert call(simulator, "GET", f"//1.1/{API_KEY}/custom-audience").status == 404
        with socket.create_connection(address(simulator), timeout=2) as sock:
            sock.sendall(f"GET /1.1/{API_KEY}/x HTTP/9\r\n\r\n".encode())
            assert sock.recv(65536).startswith(b"HTTP/1.1 400")
    err = capsys.readouterr().err
    assert "GET /1.1/<key>/custom-audience 200" in err
    assert len(err.splitlines()) == 4
    assert API_KEY not in err
    assert encoded_key not in err
    assert REST_KEY not in err


# -- command line ----------------------------------------------------------------------------


def test_cli_serves_until_sigterm() -> None:
    fault = json.dumps({"action": "error", "error": "MAINTENANCE_ERROR", "times": 1})
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        [
            sys.executable,
            "-m",
            "audienceadmin.batch.simulator",
            "--port",
            "0",
            "--app",
            f"{API_KEY}:{REST_KEY}",
            "--audience",
            f"{API_KEY}:cli_audience",
            "--audience-1.0",
            f"{API_KEY}:cli_10",
            "--fault",
            fault,
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        killer = threading.Timer(10, proc.kill)
        killer.start()
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        killer.cancel()
        match = re.fullmatch(r"Batch simulator listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        url = match.group(1)
        headers = {"X-Authorization": REST_KEY}
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            urlopen(f"{url}{BASE}", headers)
        assert excinfo.value.code == 503
        excinfo.value.close()
        with urlopen(f"{url}{BASE}", headers) as resp:
            names = [a["name"] for a in json.load(resp)["custom_audiences"]]
        assert names == ["cli_audience"]
        with urlopen(f"{url}/1.0/{API_KEY}/custom-audience", headers) as resp:
            assert [a["name"] for a in json.load(resp)["custom_audiences"]] == ["cli_10"]
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=5)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    log = err.decode()
    assert "GET /1.1/<key>/custom-audience 200" in log
    assert API_KEY not in log
    assert REST_KEY not in log


def test_cli_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["--port", "0", "--audience", "NOAPP:name"])
    assert excinfo.value.code == 2
    with pytest.raises(SystemExit):
        main(["--port", "0", "--fault", '{"action": "explode"}'])
    with pytest.raises(SystemExit):
        main(["--app", "no-colon"])
    assert "usage:" in capsys.readouterr().err
