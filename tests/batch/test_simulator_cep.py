"""The simulator's CEP Audience API 2.x, over real sockets: routes, authentication, pagination, indexing."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from audienceadmin.batch.simulator import BatchSimulator
from tests.batch.simclient import (
    API_KEY,
    CEP,
    OTHER_PROJECT,
    OTHER_PROJECT_REST,
    PROJECT_KEY,
    PROJECT_REST,
    REST_KEY,
    Response,
    Target,
    assert_cep_error,
    assert_error,
    cep_call,
    control,
    request,
)

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
FIELDS = {"name", "display_name", "type", "nb_ids", "indexing_state", "created", "updated"}
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def view(sim: Target, name: str, token: str | None = None) -> Response:
    query = f"name={name}" + (f"&indexing_token={token}" if token else "")
    return cep_call(sim, "GET", f"view?{query}")


def remove(sim: Target, name: str) -> str:
    resp = cep_call(sim, "POST", "remove", body={"name": name})
    assert resp.status == 202
    assert set(resp.json()) == {"indexing_token"}
    return resp.json()["indexing_token"]


def eventually(predicate: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# -- list -------------------------------------------------------------------------------------------


def test_list_first_page_has_the_documented_shape(sim: BatchSimulator) -> None:
    resp = cep_call(sim, "GET", "list")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    body = resp.json()
    assert list(body) == ["audiences", "count", "has_more"]
    assert (body["count"], body["has_more"]) == (3, False)
    assert [a["name"] for a in body["audiences"]] == ["gamma", "beta", "alpha"]
    gamma = body["audiences"][0]
    assert set(gamma) == FIELDS
    assert (gamma["type"], gamma["nb_ids"], gamma["indexing_state"], gamma["display_name"]) == (
        "CUSTOM_ID",
        3,
        "APPLIED",
        "",
    )
    assert RFC3339_UTC.fullmatch(gamma["created"])
    assert RFC3339_UTC.fullmatch(gamma["updated"])


@pytest.mark.parametrize("limit", [None, 7, 100])
def test_the_cursor_walks_250_audiences_each_exactly_once(sim: BatchSimulator, limit: int | None) -> None:
    names = [f"aud-{i:03d}" for i in range(250)]
    sim.add_project(PROJECT_KEY, PROJECT_REST, names)
    seen: list[str] = []
    pages = []
    cursor = None
    while True:
        query = "&".join(q for q in (f"limit={limit}" if limit else "", f"from={cursor}" if cursor else "") if q)
        page = cep_call(sim, "GET", f"list?{query}").json()
        pages.append(page)
        seen += [a["name"] for a in page["audiences"]]
        if not page["has_more"]:
            assert "next_from" not in page
            break
        cursor = page["next_from"]
        assert isinstance(cursor, str)
        assert cursor
    assert seen == names[::-1]  # newest first, none twice, none missing
    assert pages[0]["count"] == 250
    assert all("count" not in page for page in pages[1:])
    assert len(pages) == -(-250 // (limit or 10))
    assert all(len(page["audiences"]) == (limit or 10) for page in pages[:-1])


def test_a_cursor_survives_deletions_and_creations_between_pages(sim: BatchSimulator) -> None:
    sim.add_project(PROJECT_KEY, PROJECT_REST, [f"n{i}" for i in range(6)])
    first = cep_call(sim, "GET", "list?limit=2").json()
    assert [a["name"] for a in first["audiences"]] == ["n5", "n4"]
    remove(sim, "n5")
    remove(sim, "n3")
    sim.add_cep_audience(PROJECT_KEY, "late")
    rest = cep_call(sim, "GET", f"list?limit=10&from={first['next_from']}").json()
    assert [a["name"] for a in rest["audiences"]] == ["n2", "n1", "n0"]
    assert rest["has_more"] is False


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "limit=abc", "limit=1.5", "limit=", "from=", "from=not-a-cursor", "limit=2&limit=3"],
)
def test_list_rejects_bad_parameters(sim: BatchSimulator, query: str) -> None:
    assert_cep_error(cep_call(sim, "GET", f"list?{query}"), 400, "MALFORMED_PARAMETER")


# -- view -------------------------------------------------------------------------------------------


def test_view_answers_the_audience_or_404(sim: BatchSimulator) -> None:
    sim.add_cep_audience(PROJECT_KEY, "vip", display_name="VIPs", nb_ids=42)
    resp = view(sim, "vip")
    assert resp.status == 200
    body = resp.json()
    assert set(body) == FIELDS
    assert (body["name"], body["display_name"], body["nb_ids"], body["indexing_state"]) == (
        "vip",
        "VIPs",
        42,
        "APPLIED",
    )
    assert assert_cep_error(view(sim, "ghost"), 404, "NOT_FOUND") == "Not found"
    assert_cep_error(view(sim, "other"), 404, "NOT_FOUND")  # another project's audience
    assert_cep_error(cep_call(sim, "GET", "view"), 400, "MISSING_PARAMETER")
    for bad in ("a%2Fb", "a%20b", "%C3%A9", "x" * 256, ""):
        assert_cep_error(view(sim, bad), 400, "MALFORMED_PARAMETER")
    assert_cep_error(cep_call(sim, "GET", "view?name=vip&name=alpha"), 400, "MALFORMED_PARAMETER")
    assert_cep_error(view(sim, "vip", "0" * 32), 400, "MALFORMED_PARAMETER")  # a token view never gave


# -- remove and indexing ------------------------------------------------------------------------------


def test_remove_with_no_indexing_delay_applies_at_once(sim: BatchSimulator) -> None:
    token = remove(sim, "beta")
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert sim.cep_audience_names(PROJECT_KEY) == ["gamma", "alpha"]
    assert_cep_error(view(sim, "beta"), 404, "NOT_FOUND")
    assert_cep_error(view(sim, "beta", token), 404, "NOT_FOUND")
    assert [a["name"] for a in cep_call(sim, "GET", "list").json()["audiences"]] == ["gamma", "alpha"]
    assert_cep_error(cep_call(sim, "POST", "remove", body={"name": "beta"}), 404, "NOT_FOUND")
    assert sim.cep_audience_names(OTHER_PROJECT) == ["other"]


def test_remove_is_in_progress_until_the_indexing_delay_then_gone(sim: BatchSimulator) -> None:
    sim.add_project(PROJECT_KEY, PROJECT_REST, ["alpha", "beta"], indexing_delay=0.2)
    token = remove(sim, "beta")
    assert remove(sim, "beta") == token  # removing again while pending: the same operation
    pending = view(sim, "beta", token)
    assert (pending.status, pending.json()["indexing_state"], pending.json()["name"]) == (200, "IN_PROGRESS", "beta")
    assert view(sim, "beta").json()["indexing_state"] == "IN_PROGRESS"  # no token: the last operation's state
    listed = cep_call(sim, "GET", "list").json()["audiences"]
    assert [(a["name"], a["indexing_state"]) for a in listed] == [("beta", "IN_PROGRESS"), ("alpha", "APPLIED")]
    eventually(lambda: view(sim, "beta", token).status == 404)
    assert_cep_error(view(sim, "beta", token), 404, "NOT_FOUND")
    assert_cep_error(view(sim, "beta"), 404, "NOT_FOUND")
    assert sim.cep_audience_names(PROJECT_KEY) == ["alpha"]


@pytest.mark.parametrize("where", ["project", "simulator", "control plane"])
def test_an_applied_removal_can_answer_applied_instead_of_404(sim: BatchSimulator, where: str) -> None:
    if where == "project":
        sim.add_project(PROJECT_KEY, PROJECT_REST, ["beta"], indexing_delay=0.2, removed_view="APPLIED")
    elif where == "simulator":
        sim.add_project(PROJECT_KEY, PROJECT_REST, [{"name": "beta", "display_name": "B", "nb_ids": 5}])
        sim.removed_view, sim.indexing_delay = "APPLIED", 0.2
    else:
        sim.add_project(PROJECT_KEY, PROJECT_REST, ["beta"])
        settings = control(sim, "POST", "/indexing", {"removed_view": "APPLIED", "indexing_delay": 0.2}).json()
        assert settings == {"removed_view": "APPLIED", "indexing_delay": 0.2}
    token = remove(sim, "beta")
    assert view(sim, "beta", token).json()["indexing_state"] == "IN_PROGRESS"
    eventually(lambda: view(sim, "beta", token).json()["indexing_state"] == "APPLIED")
    assert view(sim, "beta", token).json()["name"] == "beta"
    assert_cep_error(view(sim, "beta"), 404, "NOT_FOUND")  # without the token the audience is gone
    assert sim.cep_audience_names(PROJECT_KEY) == []


def test_remove_validates_its_body(sim: BatchSimulator) -> None:
    for body, code in (
        (b"{not json", "MALFORMED_JSON_BODY"),
        (b'["beta"]', "MALFORMED_JSON_BODY"),
        (b"\xff", "MALFORMED_JSON_BODY"),
        (b"{}", "MISSING_PARAMETER"),
        (b'{"name": "a/b"}', "MALFORMED_PARAMETER"),
        (b'{"name": 7}', "MALFORMED_PARAMETER"),
    ):
        assert_cep_error(cep_call(sim, "POST", "remove", body=body), 400, code)
    assert sim.cep_audience_names(PROJECT_KEY) == ["gamma", "beta", "alpha"]


# -- create -----------------------------------------------------------------------------------------


def test_create_answers_202_with_a_token_and_indexes_after_the_delay(sim: BatchSimulator) -> None:
    sim.indexing_delay = 0.2
    resp = cep_call(sim, "POST", "create", body={"name": "fresh", "display_name": "New", "type": "custom_ids"})
    assert resp.status == 202
    token = resp.json()["indexing_token"]
    body = view(sim, "fresh", token).json()
    assert (body["type"], body["display_name"], body["nb_ids"], body["indexing_state"]) == (
        "CUSTOM_ID",
        "New",
        0,
        "IN_PROGRESS",
    )
    assert sim.cep_audience_names(PROJECT_KEY)[0] == "fresh"
    eventually(lambda: view(sim, "fresh", token).json()["indexing_state"] == "APPLIED")
    assert view(sim, "fresh").json()["indexing_state"] == "APPLIED"
    duplicate = cep_call(sim, "POST", "create", body={"name": "fresh", "type": "custom_ids"})
    assert_cep_error(duplicate, 400, "ALREADY_EXISTS")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "custom_ids"}, "MISSING_PARAMETER"),
        ({"name": "x"}, "MISSING_PARAMETER"),
        ({"name": "x", "type": "install_ids"}, "MALFORMED_PARAMETER"),
        ({"name": "x", "type": "custom_ids", "display_name": 3}, "MALFORMED_PARAMETER"),
        ({"name": "a b", "type": "custom_ids"}, "MALFORMED_PARAMETER"),
    ],
)
def test_create_validates_its_body(sim: BatchSimulator, body: dict[str, Any], code: str) -> None:
    assert_cep_error(cep_call(sim, "POST", "create", body=body), 400, code)
    assert "x" not in sim.cep_audience_names(PROJECT_KEY)


# -- authentication and routing ---------------------------------------------------------------------

WRONG_AUTH = [
    {"rest_key": None},
    {"project_key": None},
    {"rest_key": None, "project_key": None},
    {"rest_key": "wrong-rest-key"},
    {"rest_key": OTHER_PROJECT_REST},  # the other project's REST key
    {"project_key": OTHER_PROJECT},
    {"project_key": "project_unknown"},
    {"rest_key": ""},
    {"rest_key": None, "headers": {"Authorization": PROJECT_REST}},  # no Bearer scheme
    {"rest_key": None, "headers": {"Authorization": f"Basic {PROJECT_REST}"}},
    {"rest_key": None, "headers": {"X-Authorization": PROJECT_REST}},  # MEP's header
    {"project_key": None, "headers": {"X-Batch-Project": ""}},
]
ROUTES = [
    ("GET", "list", None),
    ("GET", "view?name=beta", None),
    ("POST", "remove", {"name": "beta"}),
    ("POST", "create", {"name": "new", "type": "custom_ids"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize("auth", WRONG_AUTH)
def test_every_route_refuses_wrong_authentication(
    sim: BatchSimulator, method: str, path: str, body: Any, auth: dict[str, Any]
) -> None:
    message = assert_cep_error(cep_call(sim, method, path, body=body, **auth), 401, "AUTHENTICATION_INVALID")
    assert message == "The Rest API Key is not valid for this project"
    assert sim.cep_audience_names(PROJECT_KEY) == ["gamma", "beta", "alpha"]
    assert sim.cep_audience_names(OTHER_PROJECT) == ["other"]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_route_accepts_the_documented_headers_in_any_2x_version(
    sim: BatchSimulator, method: str, path: str, body: Any
) -> None:
    for version in ("2.2", "2.8", "2.9", "2.11"):
        sim.add_project(PROJECT_KEY, PROJECT_REST, ["beta"])
        headers = {"Authorization": f"bearer {PROJECT_REST}", "X-Batch-Project": PROJECT_KEY}
        resp = request(sim, method, f"/{version}/audiences/{path}", body=body, headers=headers)
        assert resp.status == (202 if method == "POST" else 200)
    assert {r.dialect for r in sim.requests} == {"cep"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{CEP}/delete"),
        ("DELETE", f"{CEP}/remove"),
        ("GET", f"{CEP}/remove"),
        ("POST", f"{CEP}/list"),
        ("GET", CEP),
        ("GET", f"{CEP}/list/more"),
        ("GET", "/2.11/audience/list"),
    ],
)
def test_unknown_cep_routes_are_a_cep_404(sim: BatchSimulator, method: str, path: str) -> None:
    headers = {"Authorization": f"Bearer {PROJECT_REST}", "X-Batch-Project": PROJECT_KEY}
    assert_cep_error(request(sim, method, path, headers=headers), 404, "ROUTE_NOT_FOUND")


def test_paths_outside_both_apis_keep_mep_404s(sim: BatchSimulator) -> None:
    for path in ("/3.0/audiences/list", "/2.x/audiences/list", "/2/audiences/list"):
        assert_error(request(sim, "GET", path, headers={}), "ROUTE_NOT_FOUND")


def test_mep_and_cep_keys_do_not_cross(sim: BatchSimulator) -> None:
    assert_cep_error(cep_call(sim, "GET", "list", rest_key=REST_KEY), 401, "AUTHENTICATION_INVALID")
    assert_cep_error(
        cep_call(sim, "GET", "list", project_key=API_KEY, rest_key=REST_KEY), 401, "AUTHENTICATION_INVALID"
    )
    mep = request(sim, "GET", f"/1.1/{PROJECT_KEY}/custom-audience", headers={"X-Authorization": PROJECT_REST})
    assert_error(mep, "AUTHENTICATION_INVALID")


# -- rate limit ----------------------------------------------------------------------------------------


def test_the_rate_limit_answers_429_with_retry_after_per_project(sim: BatchSimulator) -> None:
    sim.add_project(PROJECT_KEY, PROJECT_REST, ["alpha"], rate_limit=1)  # slow enough for a busy machine
    statuses = [cep_call(sim, "GET", "list").status for _ in range(1)]
    assert statuses == [200]  # a burst up to the rate
    refused = cep_call(sim, "GET", "view?name=alpha")
    assert_cep_error(refused, 429, "TOO_MANY_REQUESTS")
    assert refused.headers["Retry-After"] == "1"
    assert cep_call(sim, "GET", "list", project_key=OTHER_PROJECT, rest_key=OTHER_PROJECT_REST).status == 200
    assert_cep_error(cep_call(sim, "GET", "list", rest_key="wrong"), 401, "AUTHENTICATION_INVALID")
    assert [(r.status, r.fault) for r in sim.requests][0:2] == [(200, None), (429, None)]
    time.sleep(1.05)  # one request's worth at 1/s
    assert cep_call(sim, "GET", "list").status == 200
    assert cep_call(sim, "GET", "list").status == 429


def test_without_a_rate_limit_nothing_is_refused(sim: BatchSimulator) -> None:
    assert {cep_call(sim, "GET", "list").status for _ in range(30)} == {200}


# -- faults, the log and the control plane ---------------------------------------------------------------


def test_faults_answer_cep_requests_in_cep_shape_and_match_cep_names(sim: BatchSimulator) -> None:
    sim.add_fault(action="error", error="MAINTENANCE_ERROR", audience="beta", method="POST")
    sim.add_fault(action="error", error="TOO_MANY_REQUESTS", retry_after="7", api_key=OTHER_PROJECT)
    sim.add_fault(action="error", error="SERVER_ERROR", audience="gamma")
    maintenance = cep_call(sim, "POST", "remove", body={"name": "beta"})
    message = assert_cep_error(maintenance, 503, "MAINTENANCE_ERROR")
    assert message == "Batch's services are under maintenance. Please try again later"
    assert view(sim, "beta").status == 200  # a GET: the first fault does not match
    assert_cep_error(view(sim, "gamma"), 500, "SERVER_ERROR")
    limited = cep_call(sim, "GET", "list", project_key=OTHER_PROJECT, rest_key=OTHER_PROJECT_REST)
    assert_cep_error(limited, 429, "TOO_MANY_REQUESTS")
    assert limited.headers["Retry-After"] == "7"
    assert cep_call(sim, "GET", "list").status == 200
    assert sim.cep_audience_names(PROJECT_KEY) == ["gamma", "beta", "alpha"]
    assert [(r.fault, r.status) for r in sim.requests] == [
        ("error", 503),
        (None, 200),
        ("error", 500),
        ("error", 429),
        (None, 200),
    ]


def test_cep_requests_are_recorded_and_their_keys_never_leave_python(
    sim: BatchSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.quiet = False
    remove(sim, "beta")
    [recorded] = sim.requests
    assert (recorded.method, recorded.path, recorded.dialect, recorded.status) == ("POST", f"{CEP}/remove", "cep", 202)
    assert json.loads(recorded.body) == {"name": "beta"}
    assert recorded.headers["Authorization"] == f"Bearer {PROJECT_REST}"
    assert recorded.headers["X-Batch-Project"] == PROJECT_KEY
    [as_json] = control(sim, "GET", "/requests").json()["requests"]
    assert as_json["headers"]["Authorization"] == as_json["headers"]["X-Batch-Project"] == "<redacted>"
    assert PROJECT_KEY not in json.dumps(as_json)
    assert PROJECT_REST not in json.dumps(as_json)
    request(sim, "GET", f"{CEP}/view?name={PROJECT_KEY}&k={PROJECT_REST}", headers={})
    err = capsys.readouterr().err
    assert f"POST {CEP}/remove 202" in err
    assert PROJECT_KEY not in err
    assert PROJECT_REST not in err


def test_control_plane_manages_projects(sim: BatchSimulator) -> None:
    spec = {"project_key": "P2", "rest_api_key": "R2", "audiences": ["one", {"name": "two", "nb_ids": 2}]}
    assert control(sim, "POST", "/projects", {**spec, "rate_limit": 100, "indexing_delay": 0}).json() == {
        "audiences": ["two", "one"]
    }
    added = control(sim, "POST", "/project-audiences", {"project_key": "P2", "name": "three", "display_name": "3"})
    assert added.json() == {"audiences": ["three", "two", "one"]}
    assert control(sim, "GET", "/project-audiences?project_key=P2").json() == {"audiences": ["three", "two", "one"]}
    resp = cep_call(sim, "GET", "view?name=three", rest_key="R2", project_key="P2")
    assert resp.json()["display_name"] == "3"
    assert control(sim, "GET", "/indexing").json() == {"indexing_delay": 0.0, "removed_view": "404"}
    for route, body in [
        ("/projects", {"project_key": "P3"}),
        ("/projects", {**spec, "removed_view": "GONE"}),
        ("/projects", {**spec, "rate_limit": 0}),
        ("/projects", {**spec, "indexing_delay": -1}),
        ("/projects", {**spec, "audiences": ["bad name"]}),
        ("/projects", {**spec, "colour": "red"}),
        ("/project-audiences", {"project_key": "nope", "name": "x"}),
        ("/indexing", {"removed_view": "maybe"}),
        ("/indexing", {"indexing_delay": "soon"}),
    ]:
        assert control(sim, "POST", route, body).status == 400, (route, body)
    assert control(sim, "POST", "/reset").status == 200
    assert sim.cep_audience_names("P2") == []
    assert_cep_error(cep_call(sim, "GET", "list"), 401, "AUTHENTICATION_INVALID")


def test_python_api_validation() -> None:
    with pytest.raises(ValueError):
        BatchSimulator(removed_view="gone")
    with pytest.raises(ValueError):
        BatchSimulator(indexing_delay=-1)
    sim = BatchSimulator()
    with pytest.raises(ValueError):
        sim.add_project("", "R")
    with pytest.raises(ValueError):
        sim.add_project("P", "R", rate_limit=-2)
    with pytest.raises(KeyError):
        sim.add_cep_audience("P", "x")
    with pytest.raises(ValueError):
        sim.removed_view = "yes"
    assert sim.cep_audience_names("P") == []


def test_cli_serves_projects() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "audienceadmin.batch.simulator",
            "--port",
            "0",
            "--project",
            f"{PROJECT_KEY}:{PROJECT_REST}",
            "--cep-audience",
            f"{PROJECT_KEY}:cli_cep",
            "--project-rate-limit",
            "1",
            "--removed-view",
            "APPLIED",
            "--indexing-delay",
            "0.5",
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
        match = re.fullmatch(r"Batch simulator listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        url = match.group(1)
        token = remove(url, "cli_cep")
        assert_cep_error(view(url, "cli_cep", token), 429, "TOO_MANY_REQUESTS")  # 1 per second
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=5)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert PROJECT_KEY not in err.decode()
    assert PROJECT_REST not in err.decode()
