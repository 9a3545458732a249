"""The benchmark database: created fresh for every run, then read back for the numbers.

Counts and latencies come from the rows themselves, not from HTTP answers: an event counts
as ingested once committed, as delivered once its Delivery row says so.
"""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import psycopg
from django.db import connection

E2E_LATENCY_SQL = """
SELECT count(*),
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency),
       max(latency)
FROM (
    SELECT extract(epoch FROM d.delivered_at - e.received_at) AS latency
    FROM destinations_delivery d JOIN ingest_event e ON e.id = d.event_id
    WHERE e.source_id = %s AND d.status = 'delivered'
      AND e.received_at >= %s AND e.received_at < %s
) AS delivered
"""
DELIVERED_BETWEEN_SQL = """
SELECT count(*) FROM destinations_delivery
WHERE status = 'delivered' AND delivered_at >= %s AND delivered_at < %s
"""
EVENTS_BETWEEN_SQL = """
SELECT count(*) FROM ingest_event WHERE source_id = %s AND received_at >= %s AND received_at < %s
"""
UNDELIVERED_SQL = """
SELECT count(*) FROM ingest_event e WHERE e.source_id = %s AND NOT EXISTS (
    SELECT 1 FROM destinations_delivery d WHERE d.event_id = e.id AND d.status = 'delivered'
)
"""


def recreate(url: str) -> None:
    """Drop the database named by `url` if it exists and create it empty."""
    name = database_name(url)
    with psycopg.connect(maintenance_url(url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def drop(url: str) -> None:
    connection.close()
    with psycopg.connect(maintenance_url(url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')


def database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise ValueError(f"refusing an unusual database name: {name!r}")
    return name


def maintenance_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def server_settings(names: tuple[str, ...]) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
            [list(names)],
        )
        return dict(cursor.fetchall())


def server_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def count_events(source_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ingest_event WHERE source_id = %s", [source_id])
        return cursor.fetchone()[0]


def forget_events() -> None:
    """Empty the event tables (and what hangs off them): the end-to-end run's router must not
    first route the ingest runs' hundreds of thousands of events."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ingest_event, ingest_rejection CASCADE")
        cursor.execute("VACUUM ANALYZE")


def undelivered(source_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(UNDELIVERED_SQL, [source_id])
        return cursor.fetchone()[0]


@dataclass(frozen=True)
class EndToEnd:
    events: int
    delivered: int
    undelivered: int
    delivered_in_window: int
    p50_s: float
    p95_s: float
    p99_s: float
    max_s: float


def end_to_end(source_id: int, start: datetime, end: datetime) -> EndToEnd:
    """Latency of the events received in [start, end); deliveries counted in that window
    (the sustained throughput) and, for the whole run, what is still undelivered."""
    with connection.cursor() as cursor:
        cursor.execute(E2E_LATENCY_SQL, [source_id, start, end])
        delivered, (p50, p95, p99), longest = fetch_latencies(cursor.fetchone())
        cursor.execute(EVENTS_BETWEEN_SQL, [source_id, start, end])
        events = cursor.fetchone()[0]
        cursor.execute(DELIVERED_BETWEEN_SQL, [start, end])
        in_window = cursor.fetchone()[0]
    return EndToEnd(events, delivered, undelivered(source_id), in_window, p50, p95, p99, longest)


def fetch_latencies(row: tuple) -> tuple[int, tuple[float, float, float], float]:
    count, percentiles, longest = row
    if not count:
        nothing = float("nan")
        return 0, (nothing, nothing, nothing), nothing
    return count, tuple(float(value) for value in percentiles), float(longest)
