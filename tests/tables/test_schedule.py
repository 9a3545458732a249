"""The beat's round: due table sources get a run, lost runs are failed or sent again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tables import services
from tables.models import Run
from tables.services import AlreadyActive, forget_old_runs, request_run, schedule_runs


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """The run ids whose task would go to Celery."""
    ids: list[int] = []
    monkeypatch.setattr(services, "send_run_task", ids.append)
    return ids


def age(run: Run, **delta) -> None:
    Run.objects.filter(pk=run.pk).update(queued_at=timezone.now() - timedelta(**delta))


@pytest.mark.django_db
def test_a_source_every_five_minutes_gets_a_run_five_minutes_after_its_last(table_source):
    table = table_source(schedule_minutes=5)
    assert schedule_runs() == 1
    run = Run.objects.get()
    Run.objects.filter(pk=run.pk).update(status="succeeded")

    assert schedule_runs() == 0
    age(run, minutes=5)
    assert schedule_runs() == 1
    assert table.runs.filter(trigger="schedule").count() == 2


@pytest.mark.django_db
def test_manual_disabled_and_busy_sources_get_no_scheduled_run(table_source):
    table_source(name="manual")
    table_source(name="disabled", schedule_minutes=1, enabled=False)
    busy = table_source(name="busy", schedule_minutes=1)
    Run.objects.create(table_source=busy, trigger="manual", status="running")

    assert schedule_runs() == 0


@pytest.mark.django_db
def test_a_second_run_now_is_refused_while_one_is_queued(table_source):
    table = table_source()
    request_run(table)

    with pytest.raises(AlreadyActive):
        request_run(table)


@pytest.mark.django_db
def test_a_queued_run_whose_task_was_lost_is_sent_again(table_source, sent):
    """Flushing Redis loses the task message; the run, in the database, is not lost."""
    run = request_run(table_source())
    schedule_runs()
    assert sent == []

    age(run, minutes=2)
    schedule_runs()
    assert sent == [run.pk]


@pytest.mark.django_db
def test_a_running_run_silent_past_its_timeout_and_grace_lost_its_worker(table_source, settings):
    settings.TABLE_SOURCE_GRACE_SECONDS = 60
    table = table_source(timeout_seconds=30)
    now = timezone.now()
    alive = Run.objects.create(
        table_source=table, trigger="manual", status="running", heartbeat_at=now
    )
    schedule_runs()
    assert Run.objects.get(pk=alive.pk).status == "running"

    Run.objects.filter(pk=alive.pk).update(heartbeat_at=now - timedelta(seconds=91))
    schedule_runs()

    lost = Run.objects.get(pk=alive.pk)
    assert (lost.status, lost.error_kind) == ("failed", "worker_lost")


@pytest.mark.django_db
def test_finished_runs_older_than_the_retention_are_forgotten(table_source, settings):
    settings.TABLE_SOURCE_RUN_RETENTION_DAYS = 30
    table = table_source()
    old, recent = (
        Run.objects.create(table_source=table, trigger="schedule", status="succeeded")
        for _ in range(2)
    )
    age(old, days=31)
    age(recent, days=29)

    assert forget_old_runs() == 1

    assert list(Run.objects.values_list("pk", flat=True)) == [recent.pk]
