"""A CEP project's request rate, shared through the database by every thread (and so every worker and
web instance): a bulk job paces itself, and its review page says how long it will take."""

from __future__ import annotations

import threading

import pytest
from django.test import Client
from django.urls import reverse

from audienceadmin import bulk_runner, services
from audienceadmin.models import AuditEvent, BatchApp, BulkJob

PROJECT_KEY = "project_pace0123456789abcdef0123456789ab"
PROJECT_REST = "RESTKEY-pace-" + "4b5c6d" * 4


@pytest.fixture
def project(db, keyadmin, simulator) -> BatchApp:
    simulator.add_project(PROJECT_KEY, PROJECT_REST, audiences=[f"old-{i:02d}" for i in range(6)])
    return services.app_create(
        actor=keyadmin, name="Paced CEP", kind="cep", api_key=PROJECT_KEY, rest_api_key=PROJECT_REST, ip=None
    )


@pytest.mark.django_db(transaction=True)
def test_a_bulk_job_in_a_project_keeps_to_the_projects_rate(operator, project, fast_client, simulator, settings):
    settings.BATCH_PROJECT_RATE = 10.0  # 100 ms between requests, however many threads
    settings.BULK_CONCURRENCY = 4
    job = services.bulk_job_create(actor=operator, app=project, names=[f"old-{i:02d}" for i in range(6)])

    bulk_runner.bulk_job_run(job.pk)

    job.refresh_from_db()
    assert job.state == BulkJob.State.DONE
    times = sorted(r.received_at for r in simulator.requests if r.path.endswith("/audiences/remove"))
    assert len(times) == 6
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # 100 ms apart, give or take a busy machine's scheduling (unpaced, 4 threads send within a few ms)
    assert times[-1] - times[0] >= 0.45 and min(gaps) >= 0.05
    assert not [r for r in simulator.requests if r.status == 429]
    assert AuditEvent.objects.filter(kind="delete_completed", outcome="deleted").count() == 6


@pytest.mark.django_db(transaction=True)
def test_two_threads_share_one_projects_pace(project, settings):
    settings.BATCH_PROJECT_RATE = 20.0
    pacer = services.project_pacer(project)
    assert pacer is not None
    import time

    started: list[float] = []
    lock = threading.Lock()

    def go() -> None:
        for _ in range(3):
            pacer()
            with lock:
                started.append(time.monotonic())

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started.sort()
    assert min(b - a for a, b in zip(started, started[1:], strict=False)) >= 0.04


def test_mep_apps_are_not_paced(batch_app, settings):
    settings.BATCH_PROJECT_RATE = 1.0
    assert services.project_pacer(batch_app) is None


def test_the_bulk_review_shows_the_expected_duration(operator, project, settings):
    settings.BATCH_PROJECT_RATE = 1.0
    client = Client()
    client.force_login(operator)
    names = "\n".join(f"name-{i:04d}" for i in range(1000))
    html = client.post(reverse("bulk_new"), {"app": project.pk, "names": names}).content.decode()
    assert "Expected duration: about <strong>17 minutes</strong>" in html and "1 request a second" in html
