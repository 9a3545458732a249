"""Retention (docs/storage.md, "Retention"): every hour the beat retires events (with their
deliveries) and attempts (with their links) older than their retention, and the hourly tallies with
the events.

On PostgreSQL it drops whole partitions, in constant time whatever the rate. An events
partition goes together with its deliveries' partition, unless an event there has not been
routed yet (a router outage, or an event the router fails on: it has no deliveries to wait
for), or a delivery there is in flight, or pending or retrying inside its destination's retry
window: then both stay (`held`), and go at a later round. Rows that no partition held (the
default partitions) and SQLite's tables are purged a chunk at a time with plain SQL deletes,
sparing unrouted events too.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from infra import partitions
from infra.partitions import quote
from infra.tallies import hour_of
from ingest.models import Event, Rejection

from ..models import (
    AttemptLink,
    Delivery,
    DeliveryAttempt,
    FilteredCount,
    LatencyCount,
    OutcomeCount,
    ReceivedCount,
)

log = logging.getLogger(__name__)

PURGE_CHUNK = 5000
PURGE_SECONDS = 240
EVENTS, DELIVERIES = Event._meta.db_table, Delivery._meta.db_table
ATTEMPTS, LINKS = DeliveryAttempt._meta.db_table, AttemptLink._meta.db_table
TALLIES = (FilteredCount, ReceivedCount, OutcomeCount, LatencyCount, Rejection)

# Deliveries that keep their partition: still to be sent, and not yet given up on.
LIVE_SQL = """
SELECT count(*) FROM {partition} AS delivery
JOIN destinations_destination AS destination ON destination.id = delivery.destination_id
WHERE delivery.status = 'in_flight' OR (
    delivery.status IN ('pending', 'retrying', 'held')
    AND coalesce(delivery.first_attempt_at, delivery.created_at)
        > %s - destination.retry_window_seconds * interval '1 second'
)
"""
STALE_SQL = "SELECT count(*) FROM {partition} WHERE status IN ('pending', 'retrying', 'held')"
# Through event_unrouted, the router's partial index: a few entries, however full the partition.
UNROUTED_SQL = "SELECT count(*) FROM {partition} WHERE routed_at IS NULL"


@dataclass(frozen=True)
class Hold:
    """A partition past retention kept for its live deliveries or its unrouted events."""

    partition: str
    live_deliveries: int
    unrouted_events: int = 0


def purge_expired() -> dict[str, int]:
    """Retire what is past retention; returns how many events and attempts went."""
    now = timezone.now()
    deadline = time.monotonic() + PURGE_SECONDS
    events_before = now - timedelta(days=settings.EVENT_RETENTION_DAYS)
    attempts_before = now - timedelta(days=settings.ATTEMPT_RETENTION_DAYS)
    retired = {"attempts": 0, "events": 0}
    if partitions.is_partitioned(EVENTS):
        retired["events"] += drop_event_partitions(events_before, now)
    if partitions.is_partitioned(ATTEMPTS):
        retired["attempts"] += drop_attempt_partitions(attempts_before)
    retired["attempts"] += purge_attempt_rows(attempts_before, deadline)
    retired["events"] += purge_event_rows(events_before, deadline)
    purge_tallies(events_before)
    return retired


def purge_tallies(before: datetime) -> int:
    """The hourly tallies of hours wholly past the events' retention, one DELETE each
    through its index on hour (a day is a few rows per source, destination and mapping;
    ingest's rejection tallies go too)."""
    cutoff = hour_of(before)
    return sum(model.objects.filter(hour__lt=cutoff).delete()[0] for model in TALLIES)


def expired_partitions(table: str, before: datetime) -> list[partitions.Partition]:
    return [p for p in partitions.partitions(table) if p.end <= before]


def within(outer: partitions.Partition, table: str) -> list[str]:
    """The table's partitions inside the bounds of `outer` (its twin, in practice)."""
    return [
        p.name
        for p in partitions.partitions(table)
        if outer.start <= p.start and p.end <= outer.end
    ]


def drop_event_partitions(before: datetime, now: datetime) -> int:
    retired = 0
    for partition in expired_partitions(EVENTS, before):
        twins = within(partition, DELIVERIES)
        if holds := unrouted_holds([partition.name]) + live_holds(twins, now):
            log.info("retention: keeping %s for now: %s", partition.name, holds)
            continue
        warn_of_stale(twins)
        retired += rows_in(partition.name)
        partitions.drop([partition.name, *twins])
    return retired


def drop_attempt_partitions(before: datetime) -> int:
    retired = 0
    for partition in expired_partitions(ATTEMPTS, before):
        retired += rows_in(partition.name)
        partitions.drop([partition.name, *within(partition, LINKS)])
    return retired


def live_holds(delivery_partitions: list[str], now: datetime) -> list[Hold]:
    holds = []
    for name in delivery_partitions:
        live = scalar(LIVE_SQL.format(partition=quote(name)), [now])
        if live:
            holds.append(Hold(name, live))
    return holds


def unrouted_holds(event_partitions: list[str]) -> list[Hold]:
    holds = []
    for name in event_partitions:
        if unrouted := scalar(UNROUTED_SQL.format(partition=quote(name))):
            holds.append(Hold(name, 0, unrouted))
    return holds


def warn_of_stale(delivery_partitions: list[str]) -> None:
    # Pending past their retry window: a destination disabled for longer than retention.
    for name in delivery_partitions:
        if stale := scalar(STALE_SQL.format(partition=quote(name))):
            log.warning("retention: %s goes with %d deliveries never sent", name, stale)


def rows_in(table: str) -> int:
    return scalar(f"SELECT count(*) FROM {quote(table)}")


def scalar(sql: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def purge_event_rows(before: datetime, deadline: float) -> int:
    """Events past retention that no partition held, with their deliveries; an event not
    routed yet waits for the router, and one whose delivery is in flight for the outcome to
    be recorded."""
    source = candidates_table(EVENTS)
    pick = (
        f"SELECT id FROM {source} WHERE received_at < %s AND routed_at IS NOT NULL AND id NOT IN "
        f"(SELECT event_id FROM {quote(DELIVERIES)} WHERE status = 'in_flight') "
        "ORDER BY id LIMIT %s"
    )
    deletes = [
        f"DELETE FROM {quote(DELIVERIES)} WHERE event_id IN ({{ids}})",
        f"DELETE FROM {quote(EVENTS)} WHERE id IN ({{ids}})",
    ]
    return purge_rows(pick, deletes, before, deadline)


def purge_attempt_rows(before: datetime, deadline: float) -> int:
    source = candidates_table(ATTEMPTS)
    pick = f"SELECT id FROM {source} WHERE started_at < %s ORDER BY id LIMIT %s"
    deletes = [
        f"DELETE FROM {quote(LINKS)} WHERE deliveryattempt_id IN ({{ids}})",
        f"DELETE FROM {quote(ATTEMPTS)} WHERE id IN ({{ids}})",
    ]
    return purge_rows(pick, deletes, before, deadline)


def candidates_table(table: str) -> str:
    """Where rows past retention can still be: the default partition, or the whole table."""
    if partitions.is_partitioned(table):
        return quote(partitions.default_name(table))
    return quote(table)


def purge_rows(pick: str, deletes: list[str], before: datetime, deadline: float) -> int:
    removed = 0
    while time.monotonic() < deadline:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(pick, [before, PURGE_CHUNK])
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                break
            listed = ", ".join(str(int(pk)) for pk in ids)
            for delete in deletes:
                cursor.execute(delete.format(ids=listed))
        removed += len(ids)
    return removed
