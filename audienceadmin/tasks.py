"""Background tasks (Django's tasks framework; queued in the database, run by ``manage.py worker``).

A queued task row names its function by import path (``audienceadmin.tasks.bulk_job_task``): keep
the functions here, under these names.
"""

from __future__ import annotations

from django.tasks import task

from audienceadmin import bulk_runner


@task()
def bulk_job_task(job_id: int) -> str:
    return bulk_runner.bulk_job_run(job_id)


@task()
def removal_check_task(follow_up_id: int) -> str:
    from audienceadmin import services

    return services.removal_check(follow_up_id)
