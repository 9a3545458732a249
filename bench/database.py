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


# The capacity search's judge: an event of the window still undelivered counts as slower than
# any delivered one (Infinity), not as absent.
WINDOW_LATENCY_SQL = """
SELECT count(*), count(d.delivered_at),
       percentile_disc(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY coalesce(
           extract(epoch FROM d.delivered_at - e.received_at)::float8, 'Infinity'))
FROM ingest_event e
LEFT JOIN destinations_delivery d ON d.event_id = e.id AND d.status = 'delivered'
WHERE e.source_id = %s AND e.received_at >= %s AND e.received_at < %s
  AND e.user_id IS DISTINCT FROM %s
"""
DESTINATION_DELIVERED_BETWEEN_SQL = """
SELECT count(*) FROM destinations_delivery
WHERE destination_id = %s AND status = 'delivered' AND delivered_at >= %s AND delivered_at < %s
"""
DELIVERED_THIRDS_SQL = """
SELECT count(*), min(delivered_at), max(delivered_at),
       percentile_disc(ARRAY[1 / 3.0, 2 / 3.0]::float8[]) WITHIN GROUP (ORDER BY delivered_at)
FROM destinations_delivery WHERE destination_id = %s AND status = 'delivered'
"""
DELIVERED_UP_TO_SQL = """
SELECT count(*) FILTER (WHERE delivered_at <= %s), count(*) FILTER (WHERE delivered_at >= %s)
FROM destinations_delivery WHERE destination_id = %s AND status = 'delivered'
"""


@dataclass(frozen=True)
class Window:
    """The events received in a window: how many, how many delivered, their latency with
    the undelivered ones as infinitely late."""

    events: int
    delivered: int
    p50_s: float
    p95_s: float


def window_latency(
    source_id: int, start: datetime, end: datetime, except_user: str | None = None
) -> Window:
    """The events received in [start, end), but those of `except_user`."""
    with connection.cursor() as cursor:
        cursor.execute(WINDOW_LATENCY_SQL, [source_id, start, end, except_user])
        events, delivered, percentiles = cursor.fetchone()
    p50, p95 = percentiles or (float("nan"), float("nan"))
    return Window(events, delivered, float(p50), float(p95))


def delivered_between(destination_id: int, start: datetime, end: datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(DESTINATION_DELIVERED_BETWEEN_SQL, [destination_id, start, end])
        return cursor.fetchone()[0]


@dataclass(frozen=True)
class Thirds:
    """A destination's deliveries by delivered_at: the first, the last, the moments a third
    and two thirds of them were in, and how many were in by the first / after the second."""

    delivered: int
    first: datetime | None
    last: datetime | None
    one_third: datetime | None
    two_thirds: datetime | None
    first_third: int
    last_third: int


def delivered_thirds(destination_id: int) -> Thirds:
    with connection.cursor() as cursor:
        cursor.execute(DELIVERED_THIRDS_SQL, [destination_id])
        delivered, first, last, marks = cursor.fetchone()
        if not delivered:
            return Thirds(0, None, None, None, None, 0, 0)
        one_third, two_thirds = marks
        cursor.execute(DELIVERED_UP_TO_SQL, [one_third, two_thirds, destination_id])
        first_third, last_third = cursor.fetchone()
    return Thirds(delivered, first, last, one_third, two_thirds, first_third, last_third)


def forget_backlog() -> int:
    """Without emptying the tables (make bench-scale's full database): every unrouted event
    counts as routed and every destination is disabled, so that no earlier phase's backlog
    is worked on from now; returns how many events were unrouted."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ingest_event SET routed_at = received_at WHERE routed_at IS NULL")
        unrouted = cursor.rowcount
        cursor.execute("UPDATE destinations_destination SET enabled = false WHERE enabled")
    return unrouted


ROUTED_BY_SQL = "SELECT max(routed_at) FROM ingest_event WHERE source_id = %s"
DELIVERED_AFTER_SQL = """
SELECT count(*) FILTER (WHERE delivered_at <= %(middle)s),
       count(*) FILTER (WHERE delivered_at > %(middle)s)
FROM destinations_delivery WHERE destination_id = %(destination)s AND delivered_at > %(routed)s
"""


def routed_by(source_id: int) -> datetime | None:
    """When the router had routed the source's last event."""
    with connection.cursor() as cursor:
        cursor.execute(ROUTED_BY_SQL, [source_id])
        return cursor.fetchone()[0]


def delivered_in_halves(
    destination_id: int, routed: datetime, last: datetime
) -> tuple[datetime, int, int]:
    """The deliveries after `routed` up to `last`, counted in the two halves of that time."""
    middle = routed + (last - routed) / 2
    params = {"middle": middle, "destination": destination_id, "routed": routed}
    with connection.cursor() as cursor:
        cursor.execute(DELIVERED_AFTER_SQL, params)
        first, second = cursor.fetchone()
    return middle, first, second
