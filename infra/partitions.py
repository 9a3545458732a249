"""Time-partitioned tables on PostgreSQL (declarative RANGE partitioning;
docs/storage.md, "Partitions").

Events, deliveries, attempts and their links live in partitions of PARTITION_INTERVAL (a day
or an hour), so that retention drops whole partitions instead of deleting rows, and every
index is bounded by what one partition holds. The apps register their tables from
`AppConfig.ready`; this module converts an ordinary table once (from a migration), creates
partitions ahead of time (after migrate, and hourly from beat), lists and drops them. A
DEFAULT partition catches any row that no partition covers, so an insert never fails for want
of one; rows found there move into the partition created for their range. SQLite has no
partitions: every function here is a no-op on it.

Plain SQL rather than a library: django-postgres-extra cannot convert a table that holds rows
and does not run on SQLite, the embedded default; what is left is a few catalog queries.
"""

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
# Partitions exist this far ahead; /healthz and /metrics alarm once less than a day is left.
AHEAD = 2 * DAY
ALARM_BELOW = DAY
# DDL on a partitioned table waits for its readers; past this it gives up and beat retries,
# rather than queueing every INSERT behind it.
LOCK_TIMEOUT = "5s"
BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    # Unique indexes that each partition carries but the parent cannot, as they lack the key:
    # (suffix, columns).
    local_unique: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime
    end: datetime


_tables: dict[str, Table] = {}


def register(table: Table) -> None:
    _tables[table.name] = table


def registered() -> list[Table]:
    return list(_tables.values())


def interval() -> timedelta:
    return HOUR if settings.PARTITION_INTERVAL == "hour" else DAY


def floor(moment: datetime, step: timedelta) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment if step == HOUR else moment.replace(hour=0)


def partition_name(table: str, start: datetime, step: timedelta) -> str:
    return f"{table}_p{start:%Y%m%d%H}" if step == HOUR else f"{table}_p{start:%Y%m%d}"


def default_name(table: str) -> str:
    return f"{table}_default"


def is_partitioned(table: str) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [quote(table)])
        row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def partitions(table: str) -> list[Partition]:
    """The table's range partitions, oldest first (the default partition is not one)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
            [quote(table)],
        )
        found = [(name, BOUND.search(bound)) for name, bound in cursor.fetchall()]
    bounded = [Partition(name, moment(m[1]), moment(m[2])) for name, m in found if m]
    return sorted(bounded, key=lambda partition: partition.start)


def overlapping(
    table: str, start: datetime, end: datetime, besides: tuple[datetime, datetime] | None = None
) -> tuple[str, ...]:
    """The table's partitions that hold rows of [start, end], but one that holds the whole
    span `besides`, and its default partition; none when the table is not partitioned. From
    a list a minute old at most: partitions are created days ahead, and one that left the
    range is not looked for."""
    if connection.vendor != "postgresql":
        return ()
    found = _recently_listed(table)
    if not found:
        return ()
    names = [
        p.name
        for p in found
        if p.start <= end and start < p.end and not (besides and holds(p, *besides))
    ]
    return (*names, default_name(table))


def holds(partition: Partition, first: datetime, last: datetime) -> bool:
    return partition.start <= first and last < partition.end


LISTED_FOR_SECONDS = 60.0
_listed: dict[str, tuple[float, list[Partition]]] = {}


def _recently_listed(table: str) -> list[Partition]:
    now = time.monotonic()
    listed_at, found = _listed.get(table, (-LISTED_FOR_SECONDS, []))
    if now - listed_at >= LISTED_FOR_SECONDS:
        found = partitions(table)
        _listed[table] = (now, found)
    return found


def forget_listed() -> None:
    """Partitions were created or dropped: list them afresh when next asked."""
    _listed.clear()


def moment(text: str) -> datetime:
    # PostgreSQL writes "2026-12-06 00:00:00+00" (the connection's time zone is UTC).
    if re.search(r"[+-]\d\d$", text):
        text += ":00"
    return datetime.fromisoformat(text)


def ensure_partitions(
    start: datetime | None = None, end: datetime | None = None, tables: Iterable[Table] = ()
) -> list[str]:
    """Create the partitions that cover [start, end) (by default from now to AHEAD), and the
    default partition, for each partitioned table; returns the names created."""
    now = timezone.now()
    start, end = start or now, end or now + AHEAD
    created = []
    for table in tables or registered():
        if is_partitioned(table.name):
            created += ensure_table(table, start, end)
    return created


def ensure_table(table: Table, start: datetime, end: datetime) -> list[str]:
    existing = partitions(table.name)
    created = [name for name in [ensure_default(table)] if name]
    for lower, upper in missing_slots(existing, start, end, interval()):
        created.append(create_partition(table, lower, upper))
    return created


def missing_slots(
    existing: list[Partition], start: datetime, end: datetime, step: timedelta
) -> Iterator[tuple[datetime, datetime]]:
    """Slots of `step` not yet covered; a slot that an older partition of another interval
    covers in part is filled hour by hour."""
    lower = floor(start, step)
    while lower < end:
        upper = lower + step
        overlapping = [p for p in existing if p.start < upper and lower < p.end]
        if not overlapping:
            yield lower, upper
        elif step != HOUR and not any(p.start <= lower and upper <= p.end for p in overlapping):
            yield from missing_slots(existing, lower, upper, HOUR)
        lower = upper


def ensure_default(table: Table) -> str | None:
    name = default_name(table.name)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [quote(name)])
        if cursor.fetchone()[0]:
            return None
        lock_briefly(cursor)
        cursor.execute(f"CREATE TABLE {quote(name)} PARTITION OF {quote(table.name)} DEFAULT")
        create_local_uniques(cursor, table, name)
    return name


def create_partition(table: Table, start: datetime, end: datetime) -> str:
    name = partition_name(table.name, start, end - start)
    parent, default = quote(table.name), quote(default_name(table.name))
    bounds = f"FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    in_range = (
        f"{quote(table.key)} >= '{start.isoformat()}' AND {quote(table.key)} < '{end.isoformat()}'"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        lock_briefly(cursor)
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {in_range})")
        if cursor.fetchone()[0]:
            # Strays in the default partition: move them into the new one, then attach it.
            cursor.execute(f"CREATE TABLE {quote(name)} (LIKE {parent} INCLUDING ALL)")
            cursor.execute(
                f"WITH moved AS (DELETE FROM {default} WHERE {in_range} RETURNING *) "
                f"INSERT INTO {quote(name)} SELECT * FROM moved"
            )
            cursor.execute(
                f"ALTER TABLE {parent} ATTACH PARTITION {quote(name)} FOR VALUES {bounds}"
            )
        else:
            cursor.execute(f"CREATE TABLE {quote(name)} PARTITION OF {parent} FOR VALUES {bounds}")
        create_local_uniques(cursor, table, name)
    forget_listed()
    return name


def create_local_uniques(cursor, table: Table, partition: str) -> None:
    for suffix, columns in table.local_unique:
        cursor.execute(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {quote(f'{partition}_{suffix}')} "
            f"ON {quote(partition)} ({', '.join(map(quote, columns))})"
        )


def drop(names: list[str]) -> None:
    """Drop these partitions in one statement: together or not at all."""
    if not names:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        lock_briefly(cursor)
        # Deferred foreign-key checks of rows written earlier in the transaction would
        # otherwise forbid the DROP.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"DROP TABLE {', '.join(map(quote, names))}")
    forget_listed()


def lock_briefly(cursor) -> None:
    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


def covered_until(table: str, now: datetime) -> datetime:
    """Where the partitions that cover `now` without a gap end (`now` itself if none does)."""
    covered = now
    for partition in partitions(table):
        if partition.start <= covered < partition.end:
            covered = partition.end
    return covered


def missing_ahead(now: datetime | None = None) -> list[str]:
    """Partitioned tables whose partitions stop less than ALARM_BELOW from now."""
    now = now or timezone.now()
    return [
        table.name
        for table in registered()
        if is_partitioned(table.name) and covered_until(table.name, now) < now + ALARM_BELOW
    ]


def gauges() -> Iterator[Metric]:
    """How far ahead each table's partitions reach, and rows that landed in its default."""
    tables = [table.name for table in registered() if is_partitioned(table.name)]
    if not tables:
        return
    ahead = GaugeMetricFamily(
        "switchyard_partitions_ahead_seconds",
        "How far past now the table's partitions reach; below a day is an alarm.",
        labels=["table"],
    )
    strays = GaugeMetricFamily(
        "switchyard_partition_default_rows",
        "Rows in the table's default partition: time ranges no partition covered.",
        labels=["table"],
    )
    now = timezone.now()
    with connection.cursor() as cursor:
        for table in tables:
            ahead.add_metric([table], (covered_until(table, now) - now).total_seconds())
            cursor.execute(f"SELECT count(*) FROM {quote(default_name(table))}")
            strays.add_metric([table], cursor.fetchone()[0])
    yield ahead
    yield strays


def quote(name: str) -> str:
    return connection.ops.quote_name(name)
