"""Table sources: saving one, running it (now or on its schedule), testing and previewing."""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from infra.encryption import SecretsUnreadable

from .connectors import ReadFailed, Select, connector_for, redact
from .models import Run, TableSource
from .rows import Reader, ShapeError, jsonable, message, message_id
from .sync import OutOfTime, shape_of, sync

log = logging.getLogger(__name__)

PREVIEW_ROWS = 10
# A queued run whose task has not started by then was lost (Redis flushed): sent again.
REQUEUE_AFTER = timedelta(minutes=1)


class AlreadyActive(Exception):
    """The table source has a run queued or running: one at a time."""


def request_run(source: TableSource, trigger: str = Run.Trigger.MANUAL) -> Run:
    """Queue a run; its task starts once the transaction commits."""
    try:
        with transaction.atomic():
            run = Run.objects.create(table_source=source, trigger=trigger)
    except IntegrityError:
        raise AlreadyActive(f"“{source}” already has a run queued or running") from None
    # Robust: with Redis away the run still stands, queued, and the beat sends it again.
    transaction.on_commit(lambda: send_run_task(run.pk), robust=True)
    return run


def send_run_task(run_id: int) -> None:
    from . import tasks  # the tasks module imports this one

    tasks.run.delay(run_id)


def execute_run(run_id: int) -> None:
    """Claim the queued run and carry it out; every way it can end is recorded on it."""
    now = timezone.now()
    claimed = Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(
        status=Run.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        return  # done already, or another worker has it
    run = Run.objects.select_related("table_source__source").get(pk=run_id)
    if disabled := why_disabled(run.table_source):
        finish(run, Run.Status.FAILED, "disabled", disabled)
        return
    try:
        sync(run, deadline=time.monotonic() + settings.TABLE_SOURCE_RUN_SECONDS)
    except (ReadFailed, ShapeError, OutOfTime) as failure:
        finish(run, Run.Status.FAILED, failure.kind, str(failure))
    except Exception as error:
        log.exception("table source run %s failed", run_id)
        finish(run, Run.Status.FAILED, "internal", f"{type(error).__name__}: {error}")
    else:
        finish(run, Run.Status.SUCCEEDED)


def why_disabled(table_source: TableSource) -> str:
    # As the Tracking API refuses a disabled source's events, so does a table source.
    if not table_source.enabled:
        return f"the table source “{table_source}” is disabled"
    if not table_source.source.enabled:
        return f"its source “{table_source.source}” is disabled"
    return ""


def finish(run: Run, status: str, error_kind: str = "", error: str = "") -> None:
    error = redact(error, readable_url(run.table_source))
    Run.objects.filter(pk=run.pk).update(
        status=status, finished_at=timezone.now(), error_kind=error_kind, error=error
    )


def readable_url(source: TableSource) -> str:
    try:
        return source.connection_url
    except SecretsUnreadable:
        return ""


def schedule_runs() -> int:
    """The beat's round: fail runs whose worker died, resend lost ones, queue the due ones."""
    now = timezone.now()
    fail_abandoned(now)
    for run_id in Run.objects.filter(
        status=Run.Status.QUEUED, queued_at__lt=now - REQUEUE_AFTER
    ).values_list("pk", flat=True):
        send_run_task(run_id)
    queued = 0
    for source in due_sources(now):
        try:
            request_run(source, Run.Trigger.SCHEDULE)
            queued += 1
        except AlreadyActive:
            pass
    return queued


def fail_abandoned(now) -> None:
    # A live run beats at least once per statement timeout (each chunk's fetch is one).
    for run in Run.objects.filter(status=Run.Status.RUNNING).select_related("table_source"):
        silence = timedelta(
            seconds=run.table_source.timeout_seconds + settings.TABLE_SOURCE_GRACE_SECONDS
        )
        last_sign = run.heartbeat_at or run.queued_at
        if last_sign < now - silence:
            Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(
                status=Run.Status.FAILED,
                finished_at=now,
                error_kind="worker_lost",
                error=f"no sign of life since {last_sign:%Y-%m-%d %H:%M:%S} UTC: the worker "
                "stopped; the next run carries on from the rows already done",
            )


def forget_old_runs() -> int:
    """Delete the runs older than the retention, oldest first, a thousand at a time."""
    cutoff = timezone.now() - timedelta(days=settings.TABLE_SOURCE_RUN_RETENTION_DAYS)
    old = Run.objects.filter(queued_at__lt=cutoff).exclude(
        status__in=[Run.Status.QUEUED, Run.Status.RUNNING]
    )
    forgotten = 0
    while True:
        # Ordered and limited, so that the plan walks the run_queued index even without
        # statistics, instead of reading the whole table to find a few old rows.
        ids = list(old.order_by("queued_at").values_list("pk", flat=True)[:1000])
        forgotten += Run.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < 1000:
            return forgotten


def due_sources(now) -> list[TableSource]:
    latest = Run.objects.filter(table_source=OuterRef("pk")).order_by("-queued_at")
    sources = TableSource.objects.filter(
        enabled=True, source__enabled=True, schedule_minutes__isnull=False
    ).annotate(last_queued=Subquery(latest.values("queued_at")[:1]))
    return [
        source
        for source in sources
        if source.last_queued is None
        or source.last_queued <= now - timedelta(minutes=source.schedule_minutes)
    ]


def check_connection(source: TableSource) -> tuple[bool, str]:
    """Connect with the saved URL: (True, what answered) or (False, why not)."""
    try:
        url = source.connection_url
        return True, connector_for(url).check(url)
    except SecretsUnreadable as failure:
        return False, str(failure)
    except (ReadFailed, ValueError) as failure:
        return False, redact(str(failure), url)


@dataclass(frozen=True)
class Preview:
    columns: list[str]
    rows: list[list[Any]]
    messages: list[dict[str, Any]]
    problem: str = ""


def preview(source: TableSource) -> Preview:
    """The first rows and the messages they would make; nothing is stored or sent."""
    select = Select(source.table.strip(), source.query.strip(), source.timeout_seconds)
    shape = shape_of(source)
    try:
        url = source.connection_url
        with connector_for(url).open(url, select, PREVIEW_ROWS) as result:
            rows = next(result.chunks, [])
            reader = Reader(shape, result.columns)
    except SecretsUnreadable as failure:
        return Preview([], [], [], str(failure))
    except (ReadFailed, ValueError) as failure:
        return Preview([], [], [], redact(str(failure), url))
    except ShapeError as problem:
        return Preview(result.columns, [list(map(jsonable, row)) for row in rows], [], str(problem))
    messages = []
    for values in rows:
        row = reader.read(values)
        messages.append(
            message(shape, row, "added", message_id(shape, row.key_digest, 0, row.fingerprint))
        )
    return Preview(result.columns, [[jsonable(value) for value in row] for row in rows], messages)
