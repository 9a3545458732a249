"""Holding and releasing (docs/delivery.md, "Per-user order"): a claim moves the deliveries
that must wait on an earlier one of their lane to `held`, out of the due index, each with the
delivery it waits on; they go back in line when their lane opens again.

A lane opens when a delivery of it is delivered or fails for good, after that transaction
commits. The claim checks its blockers after its own commit too, so that whichever of the two
commits last sees the other's work; and the sweeper releases any lane whose first unfinished
delivery is held (one whose blocker was deleted with its mapping, say).
"""

from collections import defaultdict
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Case, Value, When

from infra import planner

from ..models import Delivery, Destination
from . import doorbell
from .lanes import Entry, lane_entries, lane_heads

FINISHED = (Delivery.Status.DELIVERED, Delivery.Status.FAILED)
# Held deliveries a lane gives back at once; the rest follow as those finish.
RELEASE_CHUNK = 500
# Lanes the sweeper looks at per round.
SWEEP_LANES = 10_000


def held_entries(destination_id: int, lanes: list[int], count: int) -> list[Entry]:
    """The first `count` held deliveries of each lane (delivery_held), in one query."""
    if connection.vendor != "postgresql":
        held = [Delivery.Status.HELD]
        return [e for lane in lanes for e in lane_entries(destination_id, lane, count, held)]
    table = connection.ops.quote_name(Delivery._meta.db_table)
    sql = f"""
        SELECT d.id, d.position, d.status, d.event_received_at
        FROM unnest(%s::bigint[]) AS k(lane)
        CROSS JOIN LATERAL (
            SELECT id, position, status, event_received_at FROM {table}
            WHERE destination_id = %s AND lane = k.lane AND status = 'held'
            ORDER BY position, id LIMIT %s
        ) d
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [lanes, destination_id, count])
        return [Entry(*row) for row in cursor.fetchall()]


def hold(destination_id: int, waiting: dict[Delivery, Entry]) -> None:
    """Move these deliveries out of line, each saying what it waits on; once the claim has
    committed, let go of any whose blocker finished meanwhile."""
    if not waiting:
        return
    by_blocker: dict[Entry, list[Delivery]] = defaultdict(list)
    for delivery, entry in waiting.items():
        by_blocker[entry].append(delivery)
    for entry, deliveries in by_blocker.items():  # most claims hold behind one blocker
        Delivery.objects.of(deliveries).update(status=Delivery.Status.HELD, waits_on=entry.pk)
    blockers = list(by_blocker)
    # robust: a release that fails is the sweeper's to redo, never the claim's to lose.
    transaction.on_commit(lambda: release_if_finished(destination_id, blockers), robust=True)


def release_if_finished(destination_id: int, blockers: list[Entry]) -> None:
    finished = Delivery.objects.of(blockers).filter(status__in=FINISHED)
    if lanes := set(finished.values_list("lane", flat=True)):
        release_open_lanes(destination_id, lanes)


def after_finishing(destination_id: int, lanes: Iterable[int | None]) -> None:
    """Deliveries of these lanes were delivered or failed for good: once that commits, their
    lanes may open again."""
    if lanes := {lane for lane in lanes if lane is not None}:
        transaction.on_commit(lambda: release_open_lanes(destination_id, lanes), robust=True)


def release_open_lanes(destination_id: int, lanes: set[int]) -> int:
    """Release the held deliveries of the lanes whose first unfinished delivery is held (it
    waits on nothing left); returns how many went back in line."""
    held = Delivery.objects.filter(
        destination_id=destination_id, status=Delivery.Status.HELD, lane__in=lanes
    )
    # The usual case, after every batch: none of its lanes holds anything (delivery_held,
    # the held rows alone, answers that without reading the lanes themselves).
    if not (holding := set(held.values_list("lane", flat=True).distinct())):
        return 0
    with transaction.atomic():
        planner.in_index_order()
        heads = lane_heads(destination_id, dict.fromkeys(holding, 1))
        open_lanes = [
            lane for lane, entries in heads.items() if entries and entries[0].status == "held"
        ]
        return release(destination_id, open_lanes)


def release(destination_id: int, lanes: Iterable[int], chunk: int = RELEASE_CHUNK) -> int:
    """Put the first `chunk` held deliveries of each lane back in line, as they were before
    they were held; the claim decides again. Returns how many.

    Rows another release is moving are skipped, not waited for: releases run after every
    batch, side by side, and two that waited on each other's rows deadlocked (the loser's
    batch then went out again once its lease lapsed)."""
    with transaction.atomic():
        rows = held_entries(destination_id, list(lanes), chunk)
        held = Delivery.objects.of(rows).filter(status=Delivery.Status.HELD)
        picked = list(held.select_for_update(skip_locked=True).only("pk", "event_received_at"))
        released = Delivery.objects.of(picked)
        mapping_ids = set(released.values_list("mapping_id", flat=True))
        count = released.update(
            status=Case(
                When(attempts=0, then=Value(Delivery.Status.PENDING)),
                default=Value(Delivery.Status.RETRYING),
            ),
            waits_on=None,
        )
    transaction.on_commit(lambda: doorbell.ring_dispatchers(sorted(mapping_ids)))
    return count


def release_destination(destination_id: int) -> int:
    """Every held delivery of the destination back in line (it no longer keeps order)."""
    held = Delivery.objects.filter(destination_id=destination_id, status=Delivery.Status.HELD)
    total = 0
    while lanes := set(held.values_list("lane", flat=True)[:RELEASE_CHUNK]):
        if not (released := release(destination_id, lanes, chunk=10 * RELEASE_CHUNK)):
            break  # what is left another worker is moving now
        total += released
    return total


def release_orphans() -> int:
    """The sweeper's round: release every lane whose first unfinished delivery is held, and
    every held delivery of a destination that no longer keeps order (config as code turned
    it off, say)."""
    released = 0
    held = held_lanes()
    ordered = set(
        Destination.objects.filter(pk__in=held, keep_order=True).values_list("pk", flat=True)
    )
    for destination_id, lanes in held.items():
        if destination_id in ordered:
            released += release_open_lanes(destination_id, lanes)
        else:
            released += release(destination_id, lanes, chunk=10 * RELEASE_CHUNK)
    return released


def held_lanes() -> dict[int, set[int]]:
    """The (destination, lane) pairs with held deliveries, read by skipping from one pair to
    the next in delivery_held rather than reading every held row."""
    if connection.vendor != "postgresql":
        held = Delivery.objects.filter(status=Delivery.Status.HELD)
        pairs = held.values_list("destination_id", "lane").distinct()[:SWEEP_LANES]
    else:
        pairs = skip_scan_held()
    lanes: dict[int, set[int]] = defaultdict(set)
    for destination_id, lane in pairs:
        lanes[destination_id].add(lane)
    return lanes


def skip_scan_held() -> list[tuple[int, int]]:
    table = connection.ops.quote_name(Delivery._meta.db_table)
    first = f"""SELECT destination_id, lane FROM {table} WHERE status = 'held'
        ORDER BY destination_id, lane LIMIT 1"""
    sql = f"""
        WITH RECURSIVE pairs(destination_id, lane) AS (
            ({first})
            UNION ALL
            SELECT next.destination_id, next.lane FROM pairs CROSS JOIN LATERAL (
                SELECT destination_id, lane FROM {table}
                WHERE status = 'held'
                    AND (destination_id, lane) > (pairs.destination_id, pairs.lane)
                ORDER BY destination_id, lane LIMIT 1
            ) next
        )
        SELECT destination_id, lane FROM pairs LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [SWEEP_LANES])
        return cursor.fetchall()
