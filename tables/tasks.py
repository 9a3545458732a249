"""Celery tasks of table sources: each takes ids and calls a service."""

from celery import shared_task
from django.conf import settings

from . import services


# Longer than a run may take (TABLE_SOURCE_RUN_SECONDS, which the run itself keeps to).
@shared_task(
    name="tables.run",
    soft_time_limit=settings.TABLE_SOURCE_RUN_SECONDS + 120,
    time_limit=settings.TABLE_SOURCE_RUN_SECONDS + 180,
)
def run(run_id: int) -> None:
    services.execute_run(run_id)


@shared_task(name="tables.schedule")
def schedule() -> None:
    services.schedule_runs()


@shared_task(name="tables.purge")
def purge() -> None:
    services.forget_old_runs()
