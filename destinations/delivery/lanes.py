"""Per-user order (docs/delivery.md, "Per-user order"): at a destination that keeps it, each
user's deliveries are a lane, sent in the order their events were received, one request at a
time, while other users' lanes go on.

A delivery of an ordered destination carries its `lane` (a hash of the user id) and its
`position` (its event's id; a replay's is the last event id when it was queued, so it goes
after what is already there). Only the claim enforces the order: of the due deliveries it
read, it sends those that open their lane (the first unfinished ones, in order), and moves the
others to `held`, out of the due index, with the delivery they wait on (unless it sends
nothing yet, its request not full: then the next claim reads them again). So a claim reads the
first few entries of each lane it meets, never a lane's backlog, and a user whose lane is
blocked costs one update per delivery, once.

Held deliveries go back in line when their lane opens again: when a delivery of the lane is
delivered or fails for good, after that transaction commits. The claim checks its blockers
after its own commit too, so that whichever of the two commits last sees the other's work;
and the sweeper releases any lane whose first unfinished delivery is held (one whose blocker
was deleted with its mapping, say).

A delivery is only sent once every event received before it has been routed: two routers
route side by side, and one user's next event may be in the chunk the other has not
committed yet.
"""

from collections import defaultdict
from collections.abc import Iterable
from hashlib import blake2b
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Case, Value, When

from infra import planner
from ingest.models import Event

from ..models import Delivery, Destination
from ..models.deliveries import UNFINISHED
from . import doorbell

FINISHED = (Delivery.Status.DELIVERED, Delivery.Status.FAILED)
# Held deliveries a lane gives back at once; the rest follow as those finish.
RELEASE_CHUNK = 500
# Lanes the sweeper looks at per round.
SWEEP_LANES = 10_000


class Entry(NamedTuple):
    """One unfinished delivery of a lane, as the claim reads it."""

    pk: int
    position: int
    status: str
    event_received_at: Any


def lane_of(payload: Any) -> int | None:
    """The lane of the user a payload is about: userId, else anonymousId; None for none."""
    if not isinstance(payload, dict):
        return None
    user = payload.get("userId")
    if user in (None, ""):
        user = payload.get("anonymousId")
    if user in (None, ""):
        return None
    digest = blake2b(str(user).encode(errors="replace"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def last_position() -> int:
    """Where a replay queued now stands: after every event received so far."""
    with transaction.atomic():  # SET LOCAL needs one; replays may be queued outside any
        planner.in_index_order()
        return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def in_order(
    destination_id: int, due: list[Delivery], claimed: list[Delivery] = ()
) -> tuple[list[Delivery], dict[Delivery, Entry]]:
    """The due deliveries that may go now, each lane's in its order, and those that must wait
    on an earlier delivery of their lane, with the entry each waits on: the claim holds them
    (`hold`). `claimed` are the ones an earlier read of the same claim let go; a lane may go
    on from them. Rows past what the routers have finished stay due, untouched. The claim's
    transaction reads in index order (planner.in_index_order), as these reads need."""
    lanes = by_lane(due)
    if not lanes:
        return due, {}
    before = by_lane([delivery for delivery in claimed if delivery.lane in lanes])
    routed_below = first_unrouted()
    wanted = {lane: len(before.get(lane, ())) + len(c) for lane, c in lanes.items()}
    heads = lane_heads(destination_id, wanted)
    going: dict[int, list[Delivery]] = {}
    waiting: dict[Delivery, Entry] = {}
    for lane, candidates in lanes.items():
        earlier = before.get(lane, [])
        opened, blocker = opening(earlier + candidates, heads.get(lane, []), routed_below)
        going[lane] = opened[len(earlier) :]
        if blocker is not None:
            waiting.update(dict.fromkeys(candidates[len(going[lane]) :], blocker))
    return merged(due, going), waiting


def by_lane(deliveries: list[Delivery]) -> dict[int, list[Delivery]]:
    """The ordered deliveries by lane, each lane's in its order."""
    lanes: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        if delivery.lane is not None:
            lanes[delivery.lane].append(delivery)
    for deliveries_of_lane in lanes.values():
        deliveries_of_lane.sort(key=lambda d: (d.position, d.pk))
    return lanes


def opening(
    candidates: list[Delivery], entries: list[Entry], routed_below: int | None
) -> tuple[list[Delivery], Entry | None]:
    """The candidates that are the lane's first unfinished deliveries, in order, and what the
    first of the others waits on: the entry in its place. None where an event not yet routed
    may come first, or the lane changed under the read: those wait for the next claim."""
    for index, delivery in enumerate(candidates):
        if routed_below is not None and routed_below < delivery.position:
            return candidates[:index], None
        if index >= len(entries):
            return candidates[:index], None
        if entries[index].pk != delivery.pk:
            return candidates[:index], entries[index]
    return candidates, None


def merged(due: list[Delivery], going: dict[int, list[Delivery]]) -> list[Delivery]:
    """The due order kept across lanes, and each lane's own order within it: a retry made
    due again takes the place of the later delivery of its lane that was due before it."""
    queues = {lane: iter(deliveries) for lane, deliveries in going.items()}
    counts = {lane: len(deliveries) for lane, deliveries in going.items()}
    result = []
    for delivery in due:
        if delivery.lane is None:
            result.append(delivery)
        elif counts[delivery.lane]:
            counts[delivery.lane] -= 1
            result.append(next(queues[delivery.lane]))
    return result


def first_unrouted() -> int | None:
    """The first event not routed yet: event_unrouted's first entry in each partition."""
    unrouted = Event.objects.filter(routed_at__isnull=True).order_by("id")
    return unrouted.values_list("id", flat=True).first()


def lane_heads(destination_id: int, wanted: dict[int, int]) -> dict[int, list[Entry]]:
    """The first `wanted[lane]` unfinished deliveries of each lane, in lane order: one query,
    an index range of a few entries per lane (delivery_lane), merged across partitions. Each
    lane's entries come out in order: the query must not sort (a sort, disabled by the
    claim's transaction, would also cost enough to be JIT-compiled, 0.4 s)."""
    if connection.vendor != "postgresql":
        return {lane: lane_entries(destination_id, lane, n) for lane, n in wanted.items()}
    table = connection.ops.quote_name(Delivery._meta.db_table)
    sql = f"""
        SELECT k.lane, d.id, d.position, d.status, d.event_received_at
        FROM unnest(%s::bigint[], %s::int[]) AS k(lane, n)
        CROSS JOIN LATERAL (
            SELECT id, position, status, event_received_at FROM {table}
            WHERE destination_id = %s AND lane = k.lane AND status = ANY(%s)
            ORDER BY position, id LIMIT k.n
        ) d
    """
    heads: dict[int, list[Entry]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(wanted), list(wanted.values()), destination_id, UNFINISHED])
        for lane, *entry in cursor.fetchall():
            heads[lane].append(Entry(*entry))
    return heads


def lane_entries(
    destination_id: int, lane: int, count: int, statuses: list[str] = UNFINISHED
) -> list[Entry]:
    rows = Delivery.objects.filter(destination_id=destination_id, lane=lane, status__in=statuses)
    columns = ("pk", "position", "status", "event_received_at")
    return [Entry(*row) for row in rows.order_by("position", "pk").values_list(*columns)[:count]]


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
