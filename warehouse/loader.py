"""A load: a batch of events into a warehouse, table by table (docs/warehouse.md, "Loading").

psycopg only, no Django: the caller connects (through the address policy) and records what
the load did. Each event is laid out on its own, and one that cannot be (not an object, no
messageId) fails alone; the rows are grouped by schema and table and each table is loaded in
a transaction of its own. A connection or database error stops the load and is raised: the
caller retries every event, and the merge on `id` makes the tables loaded before it harmless.
"""

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from . import merge
from .layout import BadEvent, Discard, Row, lay_out

APPLICATION_NAME = "switchyard-warehouse"
CONNECT_TIMEOUT_SECONDS = 10
# A load that waits this long for a lock (a long ALTER, someone's LOCK TABLE) gives up and is
# retried, rather than holding its lease while it waits.
LOCK_TIMEOUT = "20s"


@dataclass(frozen=True)
class Options:
    column_cap: int = 1000
    event_tables: frozenset[str] | None = None  # None: every event gets its table


@dataclass
class Report:
    tables: list[merge.TableLoad] = field(default_factory=list)
    bad: dict[int, BadEvent] = field(default_factory=dict)  # index in the batch -> why
    duration_ms: int = 0

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)

    def summary(self) -> str:
        """Rows per table, as the attempt log shows a load's answer."""
        lines = [f"{t.schema}.{t.table}: {t.rows} rows" + notes(t) for t in self.tables]
        return "\n".join(lines) or "no rows"


def notes(table: merge.TableLoad) -> str:
    parts = []
    if table.added:
        parts.append(f"{len(table.added)} new columns")
    if discarded := sum(table.discarded.values()):
        parts.append(f"{discarded} values discarded")
    if table.overflowed:
        parts.append(f"{len(table.overflowed)} names past the column cap")
    return f" ({', '.join(parts)})" if parts else ""


def connect(keywords: dict[str, Any]) -> psycopg.Connection:
    """A connection to the warehouse: `keywords` are libpq's, already checked by the caller."""
    connection = psycopg.connect(
        **keywords,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        application_name=APPLICATION_NAME,
        autocommit=True,
    )
    connection.execute("SELECT set_config('lock_timeout', %s, false)", [LOCK_TIMEOUT])
    return connection


def load(
    connection: psycopg.Connection, batch: Iterable[tuple[str, Any]], options: Options
) -> Report:
    """Load (schema, event) pairs; the report says what each table got and which events
    could not be laid out."""
    start = time.perf_counter()
    report = Report()
    rows, discards = group(batch, options, report)
    for schema in sorted({schema for schema, _ in rows}):
        merge.ensure_schema(connection, schema)
    for (schema, table), table_rows in rows.items():
        kept = discards.pop((schema, table), [])
        loaded = merge.load_table(connection, schema, table, table_rows, kept, options.column_cap)
        report.tables.append(loaded)
    report.duration_ms = round((time.perf_counter() - start) * 1000)
    return report


def group(
    batch: Iterable[tuple[str, Any]], options: Options, report: Report
) -> tuple[dict[tuple[str, str], list[Row]], dict[tuple[str, str], list[Discard]]]:
    rows: dict[tuple[str, str], list[Row]] = defaultdict(list)
    discards: dict[tuple[str, str], list[Discard]] = defaultdict(list)
    for index, (schema, event) in enumerate(batch):
        try:
            laid = lay_out(event, options.event_tables)
        except BadEvent as bad:
            report.bad[index] = bad
            continue
        for row in laid.rows:
            rows[(schema, row.table)].append(row)
        for discard in laid.discards:
            discards[(schema, discard.table)].append(discard)
    return rows, discards
