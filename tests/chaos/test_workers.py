"""Bulk jobs whose workers are killed, paused, stopped, or lose their database — and finish anyway,
with no human action, no DELETE sent twice and an audit that tells the truth."""

from __future__ import annotations

import secrets
import signal
import time

from tests.chaos.conftest import assert_job_truthful


def seed(stack, simulator, count: int) -> int:
    api_key, rest_key = "CHAOS" + secrets.token_hex(12).upper(), "chaos-rest-" + secrets.token_hex(12)
    seeded = stack.remote("seed", api_key, rest_key, str(count))
    simulator.add_app(api_key, rest_key, audiences=seeded["names"])
    return seeded["job"]


def deletes(simulator) -> int:
    return sum(r.method == "DELETE" for r in simulator.requests)


def test_a_killed_worker_promptly_replaced_hands_its_job_over(stack, simulator):
    """SIGKILL mid-job, a new worker at once: it waits out the dead run's lease (by the database's
    clock), takes the job by itself, closes what was in flight as the audit says, and finishes."""
    simulator.latency = 0.2  # 200 x 0.2 s / 4 at a time: 10 s of work, time enough to look and kill
    job = seed(stack, simulator, 200)
    first = stack.worker("first")
    stack.wait("the first worker to be well into the job", lambda: stack.job(job)["done"] >= 30)
    first.send_signal(signal.SIGKILL)
    first.wait()
    stack.worker("second")
    stack.wait("the job to finish", lambda: stack.job(job)["state"] == "done", timeout=90)
    assert stack.job(job)["runs"] == 2
    check = assert_job_truthful(stack, job, simulator)
    outcomes = [i["outcome"] for i in check["items"]]
    assert outcomes.count("deleted") >= 200 - 4  # at most the few in flight are unknown
    assert set(outcomes) <= {"deleted", "unknown"}


def test_a_paused_worker_resumed_after_a_takeover_sends_and_records_nothing(pg_stack, simulator):
    """SIGSTOP (a frozen VM, a debugger, a swapped-out process): another worker takes the job once the
    lease has passed. Woken up while the new run is busy with the job, the old run finds it has lost
    it (its fencing token is stale, its lease has run out by its own monotonic clock): it sends
    nothing more and records nothing, and no audience gets a second DELETE."""
    stack = pg_stack
    simulator.latency = 0.2
    job = seed(stack, simulator, 200)
    first = stack.worker("first")
    stack.wait("the first worker to be into the job", lambda: stack.job(job)["done"] >= 20)
    first.send_signal(signal.SIGSTOP)
    sent_by_first = deletes(simulator)
    stack.worker("second")
    stack.wait("the second worker to take the job", lambda: stack.job(job)["runs"] == 2, timeout=30)
    stack.wait("the second worker to be into the job", lambda: stack.job(job)["done"] >= 40, timeout=30)
    first.send_signal(signal.SIGCONT)  # woken up while the job is still going on
    stack.wait("the job to finish", lambda: stack.job(job)["state"] == "done", timeout=90)
    assert stack.job(job)["runs"] == 2
    check = assert_job_truthful(stack, job, simulator)
    assert sent_by_first >= 20 and sum(i["outcome"] == "deleted" for i in check["items"]) >= 200 - 2 * 4


def test_sigterm_mid_job_gives_the_job_back_at_once(stack, simulator):
    """A deploy stops a worker (SIGTERM): no new call starts, those in flight finish and are recorded,
    the job is handed back; another worker finishes it without waiting for a lease, and nothing is
    unknown."""
    simulator.latency = 0.2
    job = seed(stack, simulator, 200)
    first = stack.worker("first")
    stack.wait("the first worker to be into the job", lambda: stack.job(job)["done"] >= 10)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=20) == 0, stack.logs()
    progress = stack.job(job)
    assert progress["state"] == "running" and progress["done"] < 200
    stack.worker("second")
    stack.wait("the job to finish", lambda: stack.job(job)["state"] == "done", timeout=60)
    check = assert_job_truthful(stack, job, simulator)
    assert {i["outcome"] for i in check["items"]} == {"deleted"}  # stopping cleanly loses nothing


def test_workers_ride_out_a_postgresql_restart(pg_stack, cluster, simulator):
    """The database server restarts (~3 s down) mid-job, with one worker busy and one idle: both stay
    up, the busy one keeps its job and finishes it; nobody has to do anything."""
    stack = pg_stack
    stack.env["BULK_LEASE_SECONDS"] = "15"  # longer than the outage: the busy worker keeps its job
    simulator.latency = 0.05
    job = seed(stack, simulator, 150)
    workers = [stack.worker("busy"), stack.worker("idle")]
    stack.wait("the job to be under way", lambda: stack.job(job)["done"] >= 20)
    cluster.pg_ctl("-m", "fast", "stop")
    time.sleep(3)
    cluster.pg_ctl("start")
    stack.wait("the job to finish", lambda: stack.job(job)["state"] == "done", timeout=90)
    assert all(w.poll() is None for w in workers), "a worker exited:\n" + stack.logs()
    assert stack.job(job)["runs"] == 1  # the busy worker kept its job
    assert_job_truthful(stack, job, simulator)
