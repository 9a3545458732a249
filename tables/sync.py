"""One run of a table source: read every row, diff it against the previous runs, send the
differences down the Tracking API's path.

Each chunk of rows commits in one transaction with its events, its rows' state and the
run's counts: a run that stops half-way (a crash, a timeout, a dropped connection) leaves
the chunks before as done, and the next run carries on without sending them again. Rows
gone from the table are found only once every row was read, never from a partial read.
"""

import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ingest.services import ingest_messages

from . import state
from .connectors import Select, connector_for
from .models import RowState, Run, TableSource
from .rows import Reader, Row, Shape, deletion, message, message_id

NEVER_SEEN = state.Known(fingerprint=None, version=-1, seen_run=0)


class OutOfTime(Exception):
    """The run reached TABLE_SOURCE_RUN_SECONDS; the next one carries on."""

    kind = "timeout"


@dataclass
class Tally:
    rows_read: int = 0
    added: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0
    rejected: int = 0
    events: int = 0

    def as_update(self) -> dict[str, F]:
        names = ("rows_read", "added", "changed", "deleted", "unchanged", "rejected", "events")
        return {name: F(name) + getattr(self, name) for name in names if getattr(self, name)}


def shape_of(source: TableSource) -> Shape:
    return Shape(
        table_source_id=source.pk,
        name=source.name,
        keys=tuple(source.keys),
        identity_column=source.identity_column,
        identity=source.identity,
        emit=source.emit,
        event_name=source.event_name,
        columns=tuple(source.chosen_columns),
        timestamp_column=source.timestamp_column,
    )


def sync(run: Run, deadline: float) -> None:
    """Read, diff and emit; raises ReadFailed, ShapeError or OutOfTime to fail the run."""
    source = run.table_source
    shape = shape_of(source)
    url = source.connection_url
    select = Select(source.table.strip(), source.query.strip(), source.timeout_seconds)
    with connector_for(url).open(url, select, settings.TABLE_SOURCE_CHUNK_ROWS) as result:
        reader = Reader(shape, result.columns)
        for chunk in result.chunks:
            apply_chunk(run, source, shape, [reader.read(values) for values in chunk])
            if time.monotonic() > deadline:
                raise OutOfTime(
                    f"stopped after {settings.TABLE_SOURCE_RUN_SECONDS} s; "
                    "the next run carries on from the rows already done"
                )
    forget_deleted(run, source, shape)


@transaction.atomic
def apply_chunk(run: Run, source: TableSource, shape: Shape, rows: list[Row]) -> None:
    tally = Tally(rows_read=len(rows))
    known = state.known(source.pk, [row.key_digest for row in rows])
    to_send: list[tuple[Row, str, int]] = []
    unchanged: list[uuid.UUID] = []
    for row in rows:
        before = known.get(row.key_digest, NEVER_SEEN)
        if before.seen_run == run.pk:
            tally.rejected += 1  # the key again in this run: the first row with it counts
            continue
        known[row.key_digest] = state.Known(row.fingerprint, before.version + 1, run.pk)
        if before.fingerprint == row.fingerprint:
            tally.unchanged += 1
            unchanged.append(row.key_digest)
            continue
        change = "added" if before.fingerprint is None else "changed"
        setattr(tally, change, getattr(tally, change) + 1)
        to_send.append((row, change, before.version + 1))
    send(source, shape, to_send, tally)
    state.mark_seen(source.pk, unchanged, run.pk)
    seen = [
        state.Seen(row.key_digest, row.key, row.identity, row.fingerprint, version)
        for row, _, version in to_send
    ]
    state.remember(source.pk, seen, run.pk)
    count(run, tally)


def send(source: TableSource, shape: Shape, rows: list[tuple[Row, str, int]], tally: Tally) -> None:
    wanted = [
        message(shape, row, change, message_id(shape, row.key_digest, version, row.fingerprint))
        for row, change, version in rows
        if change == "added" or source.changes == TableSource.Changes.ADDED_CHANGED
    ]
    if wanted:
        accepted, rejected = ingest_messages(source.source, wanted)
        tally.events += len(accepted)
        tally.rejected += len(rejected)


def forget_deleted(run: Run, source: TableSource, shape: Shape) -> None:
    """Rows that this run did not see (it read them all) were deleted since the last one."""
    gone = RowState.objects.filter(table_source=source, fingerprint__isnull=False).exclude(
        seen_run=run.pk
    )
    if not source.emit_deleted:
        with transaction.atomic():
            count(run, Tally(deleted=mark_deleted(run, gone)))
        return
    # In key order through the unique index, a chunk at a time: each query starts where the
    # previous one stopped.
    after = None
    while True:
        with transaction.atomic():
            chunk = list(
                (gone if after is None else gone.filter(key_digest__gt=after))
                .order_by("key_digest")
                .values_list("pk", "key_digest", "key", "identity", "version")[
                    : settings.TABLE_SOURCE_CHUNK_ROWS
                ]
            )
            if not chunk:
                return
            after = chunk[-1][1]
            messages = [
                deletion(shape, identity, key, message_id(shape, digest, version + 1, None))
                for _, digest, key, identity, version in chunk
            ]
            accepted, rejected = ingest_messages(source.source, messages)
            marked = mark_deleted(run, RowState.objects.filter(pk__in=[row[0] for row in chunk]))
            count(run, Tally(deleted=marked, events=len(accepted), rejected=len(rejected)))


def mark_deleted(run: Run, rows) -> int:
    return rows.update(fingerprint=None, version=F("version") + 1, seen_run=run.pk)


def count(run: Run, tally: Tally) -> None:
    Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now(), **tally.as_update())
