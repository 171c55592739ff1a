"""Serving processes that stop: gunicorn on SIGTERM with deletions queued, and `manage.py serve` (what
`make run` runs) with a worker that dies and a SIGTERM of its own."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from tests.chaos.conftest import ROOT
from tests.chaos.remote import PASSWORD


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def login(base: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=10)
    form = {"login": "chaos-operator", "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    assert session.post(f"{base}/accounts/login/", data=form, timeout=10, allow_redirects=False).status_code == 302
    return session


def confirmation(session: requests.Session, base: str, app: int, name: str) -> dict[str, str]:
    csrf = session.cookies["csrftoken"]
    page = session.post(f"{base}/delete/", data={"app": app, "name": name, "csrfmiddlewaretoken": csrf}, timeout=10)
    ticket = re.search(r'name="ticket" value="([^"]+)"', page.text)
    assert ticket, page.text[-2000:]
    return {"app": str(app), "name": name, "confirm_name": name, "ticket": ticket.group(1), "csrfmiddlewaretoken": csrf}


def wait_for(what: str, predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_sigterm_with_deletions_queued_starts_no_new_call(stack, simulator):
    """gunicorn is stopped (a deploy) while two deletions are in flight and four wait for a thread:
    the two finish and are recorded; the four answer 503 and nothing of them reaches Batch."""
    api_key, rest_key = "CHAOS" + secrets.token_hex(12).upper(), "chaos-rest-" + secrets.token_hex(12)
    seeded = stack.remote("seed", api_key, rest_key, "6", "nojob")
    simulator.add_app(api_key, rest_key, audiences=seeded["names"])
    stack.env["DJANGO_STATIC_ROOT"] = str(stack.tmp / "static")
    stack.manage("collectstatic", "--no-input", "-v0")  # production pages link hashed static files
    port = free_port()
    server = stack.spawn(
        "gunicorn", "-m", "gunicorn", "-c", "audienceadmin/gunicorn.conf.py", "audienceadmin.wsgi",
        GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="1", GUNICORN_THREADS="2", GUNICORN_GRACEFUL_TIMEOUT="20",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    wait_for("gunicorn", lambda: _answers(f"{base}/healthz"))
    sessions = [login(base) for _ in seeded["names"]]
    forms = [confirmation(s, base, seeded["app"], n) for s, n in zip(sessions, seeded["names"], strict=True)]
    simulator.latency = 2.0  # each deletion takes 2 s: two threads are busy, four requests wait

    answers: dict[str, int] = {}

    def confirm(session: requests.Session, form: dict[str, str]) -> None:
        response = session.post(f"{base}/delete/confirm/", data=form, timeout=60, allow_redirects=False)
        answers[form["name"]] = response.status_code

    threads = [threading.Thread(target=confirm, args=pair) for pair in zip(sessions, forms, strict=True)]
    for thread in threads:
        thread.start()
    wait_for("two deletions in flight", lambda: sum(r.method == "DELETE" for r in simulator.requests) == 2)
    time.sleep(0.3)  # the other four are accepted and queued for a thread
    server.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(timeout=60)
    assert server.wait(timeout=30) == 0, stack.logs()

    assert sorted(answers.values()) == [302, 302, 503, 503, 503, 503], answers
    sent = {r.path.rsplit("/", 1)[-1] for r in simulator.requests if r.method == "DELETE"}
    assert sent == {name for name, status in answers.items() if status == 302}
    audit = stack.remote("check", "0")  # no job: the attempts only
    assert audit["audit"]["ok"] and audit["open_attempts"] == []


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=10).status_code == 200
    except requests.RequestException:  # not listening yet, or still booting on a busy machine
        return False


def _children(pid: int) -> dict[int, str]:
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found[int(proc.name)] = cmdline
    return found


def test_serve_restarts_a_dead_worker_and_stops_everything_on_sigterm(stack):
    stack.env["DJANGO_DEBUG"] = "true"  # as `make run` runs it
    """`make run`'s supervisor: a worker that dies (SIGKILL here; a full disk, a bug) is started again by
    itself; SIGTERM to the supervisor stops the web server and the worker, and leaves nothing behind."""
    port = free_port()
    serve = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "serve", f"127.0.0.1:{port}"], cwd=ROOT, env=stack.env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for("the web server", lambda: _answers(f"http://127.0.0.1:{port}/healthz"), timeout=60)
        workers = lambda: [pid for pid, cmd in _children(serve.pid).items() if " worker " in f"{cmd} "]  # noqa: E731
        wait_for("the worker", lambda: len(workers()) == 1)
        [first] = workers()
        everything = _descendants(serve.pid)
        os.kill(first, signal.SIGKILL)
        wait_for("a new worker", lambda: len(workers()) == 1 and workers()[0] != first, timeout=30)
        everything |= _descendants(serve.pid)
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) is not None
        wait_for("every child to be gone", lambda: not [p for p in everything if _alive(p)], timeout=10)
    finally:
        if serve.poll() is None:
            serve.kill()


def _descendants(pid: int) -> set[int]:
    found = set(_children(pid))
    for child in list(found):
        found |= _descendants(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
