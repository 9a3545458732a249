"""make bench's table source piece: the rows of a warehouse table become events (issue 18).

A warehouse, a PostgreSQL database of its own on the bench's server (created here, dropped at
the end), holds Datagran's table: BENCH_TABLE_ROWS customer scores (default 1,000,000; customer
id, email, churn score, segment, scoring time), filled by one INSERT ... SELECT over
generate_series. A table source on the bench's Switchyard database reads it as "Sales
Prediction" track events, run in this process as a worker runs it (request_run, then
execute_run). Measured:
- the first run: every row is new, so every row is read, diffed, stored as an event (with its
  row state) in chunks of TABLE_SOURCE_CHUNK_ROWS; rows / the run's seconds;
- the second run: nothing changed, so no event, only the read and the diff;
- this process's RSS during the first run, sampled with the run's rows_read: at 10 % and at
  100 % of the rows (flat memory: the rows stream through a server-side cursor) and its peak.

Alone, on a Switchyard database of its own (created, migrated and dropped):

    BENCH_TABLE_ROWS=100000 .venv/bin/python bench/tables.py

which prints the figures and writes bench/results/tables.json. Knobs: BENCH_TABLE_ROWS,
BENCH_TABLES_DATABASE_URL and BENCH_TABLES_REDIS_URL (alone only), BENCH_TABLE_PROFILE (a
path: the first run's cProfile statistics go there, for `python -m pstats`).
"""

import os
import sys
from pathlib import Path

# Run as a script, this file's folder is on sys.path but the project root is not.
BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

import cProfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

import psycopg  # noqa: E402
import redis  # noqa: E402

from bench import database, report  # noqa: E402
from bench.processes import Supervisor, interrupt_on_signals, rss_kb  # noqa: E402

RUN_DIR = BASE_DIR / "var" / "bench-tables"
TABLE = "customer_scores"
EVENT_NAME = "Sales Prediction"
SAMPLE_SECONDS = 0.25
FILL_SQL = """
CREATE TABLE {table} (
    customer_id integer PRIMARY KEY, email text, churn_score numeric(5, 4), segment text,
    scored_at timestamptz
);
INSERT INTO {table}
SELECT i, 'customer-' || i || '@example.com', (i::bigint * 7919 % 10000)::numeric / 10000,
       (ARRAY['low', 'mid', 'high'])[1 + i % 3],
       timestamptz '2026-12-01 09:30:00Z' - (i % 86400) * interval '1 second'
FROM generate_series(1, {rows}) AS i;
ANALYZE {table};
"""


def rows_from_env() -> int:
    return int(os.environ.get("BENCH_TABLE_ROWS", "1000000"))


def warehouse_url(switchyard_url: str) -> str:
    """The warehouse: beside the Switchyard database, on the same server, named after it."""
    parts = urlsplit(switchyard_url)
    return urlunsplit(parts._replace(path=f"/{database.database_name(switchyard_url)}_warehouse"))


def run(switchyard_url: str, rows: int) -> dict[str, Any]:
    """The piece, on the Switchyard database Django is set up with; returns its results."""
    url = warehouse_url(switchyard_url)
    step(f"warehouse with {rows:,} rows", url)
    try:
        began = time.monotonic()
        fill(url, rows)
        fill_seconds = time.monotonic() - began
        table_source = create_table_source(url)
        step("first run", "every row is new: one event each")
        first = timed_run(table_source, rows, os.environ.get("BENCH_TABLE_PROFILE"))
        step("second run", "nothing changed: no event")
        second = timed_run(table_source, rows)
    finally:
        database.drop(url)
    return summarize(rows, fill_seconds, first, second)


def step(name: str, detail: str) -> None:
    print(f"[bench] table source: {name}: {detail}", flush=True)


def fill(url: str, rows: int) -> None:
    database.recreate(url)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(FILL_SQL.format(table=TABLE, rows=int(rows)))


def create_table_source(url: str) -> Any:
    from ingest.sources import create_source
    from tables.models import TableSource

    table_source = TableSource(
        name="bench: customer scores",
        source=create_source("bench: table source")[0],
        table=TABLE,
        key_columns="customer_id",
        identity_column="email",
        event_name=EVENT_NAME,
        timestamp_column="scored_at",
    )
    table_source.set_connection_url(url)
    table_source.full_clean()
    table_source.save()
    return table_source


@dataclass(frozen=True)
class Measured:
    seconds: float
    run: dict[str, Any]  # the Run row's counts, status and error
    rss_mb: dict[str, float]


def timed_run(table_source: Any, rows: int, profile_path: str | None = None) -> Measured:
    from tables.models import Run
    from tables.services import execute_run, request_run

    queued = request_run(table_source)
    watch = MemoryWatch(queued.pk, rows)
    watch.start()
    profiler = cProfile.Profile() if profile_path else None
    began = time.monotonic()
    try:
        if profiler:
            profiler.runcall(execute_run, queued.pk)
        else:
            execute_run(queued.pk)
        seconds = time.monotonic() - began
    finally:
        watch.finish()
    if profiler:
        profiler.dump_stats(profile_path)
    fields = ("status", "error", "rows_read", "added", "changed", "unchanged", "events")
    done = Run.objects.filter(pk=queued.pk).values(*fields).get()
    if done["status"] != Run.Status.SUCCEEDED or done["rows_read"] != rows:
        raise RuntimeError(f"the table source's run did not read all {rows:,} rows: {done}")
    return Measured(seconds, done, watch.figures())


class MemoryWatch(threading.Thread):
    """Samples this process's RSS beside the run's rows_read (committed with each chunk)."""

    def __init__(self, run_id: int, rows: int) -> None:
        super().__init__(name="rss-watch", daemon=True)
        self.run_id, self.rows = run_id, rows
        self.before = rss_mb()
        self.samples: list[tuple[int, float]] = []  # (rows read, RSS in MB)
        self.stop = threading.Event()

    def run(self) -> None:
        from django.db import connection

        from tables.models import Run

        try:
            while not self.stop.wait(SAMPLE_SECONDS):
                done = Run.objects.filter(pk=self.run_id).values_list("rows_read", flat=True)
                self.samples.append((done.get(), rss_mb()))
        finally:
            connection.close()  # this thread's own

    def finish(self) -> None:
        self.stop.set()
        self.join()
        self.samples.append((self.rows, rss_mb()))

    def figures(self) -> dict[str, float]:
        def at(share: float) -> float:
            return next(mb for done, mb in self.samples if done >= share * self.rows)

        return {
            "before": round(self.before, 1),
            "at_10pct_rows": round(at(0.1), 1),
            "at_100pct_rows": round(at(1.0), 1),
            "peak": round(max(mb for _, mb in self.samples), 1),
        }


def rss_mb() -> float:
    return rss_kb(os.getpid()) / 1024


def summarize(rows: int, fill_seconds: float, first: Measured, second: Measured) -> dict[str, Any]:
    if first.run["events"] != rows or second.run["events"] != 0:
        raise RuntimeError(f"unexpected events: {first.run['events']:,}, {second.run['events']:,}")
    memory = first.rss_mb
    return {
        "table_source_rows": rows,
        "table_source_rows_per_s": round(rows / first.seconds),
        "table_source_unchanged_rows_per_s": round(rows / second.seconds),
        "table_source_rss_at_10pct_mb": memory["at_10pct_rows"],
        "table_source_rss_at_100pct_mb": memory["at_100pct_rows"],
        "table_source_rss_peak_growth_mb": round(memory["peak"] - memory["before"], 1),
        "table_source": {
            "warehouse_fill_seconds": round(fill_seconds, 1),
            "first_run_seconds": round(first.seconds, 2),
            "second_run_seconds": round(second.seconds, 2),
            "first_run": first.run,
            "second_run": second.run,
            "first_run_rss_mb": memory,
            "second_run_rss_mb": second.rss_mb,
        },
    }


# Alone: python bench/tables.py


@dataclass(frozen=True)
class Plan:
    database_url: str
    redis_url: str
    rows: int

    @classmethod
    def from_env(cls) -> "Plan":
        return cls(
            database_url=os.environ.get(
                "BENCH_TABLES_DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/switchyard_bench_tables",
            ),
            redis_url=os.environ.get("BENCH_TABLES_REDIS_URL", "redis://127.0.0.1:6379/12"),
            rows=rows_from_env(),
        )


def main() -> int:
    from bench import run as bench

    interrupt_on_signals()
    plan = Plan.from_env()
    env = bench.child_environment(plan)
    os.environ.update(env)  # this process reads the same database through Django
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(RUN_DIR)  # its one child, the migration, runs to its end
    try:  # Ctrl-C too: the databases go, the traceback says where it stopped
        bench.migrated(supervisor, plan.database_url, plan.redis_url, env)
        results = run(plan.database_url, plan.rows)
    finally:
        supervisor.stop_all()
        redis.Redis.from_url(plan.redis_url).flushdb()
        database.drop(plan.database_url)
    print()
    print(report.table(results, [row for row in report.ROWS if row.key in results]))
    print(f"results: {report.write(results, 'tables.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
