"""Per-user order (docs/delivery.md, "Per-user order"): at a destination that keeps it, each
user's deliveries are a lane, sent in the order their events were received, one request at a
time, while other users' lanes go on.

A delivery of an ordered destination carries its `lane` (a hash of the user id) and its
`position` (its event's id; a replay's is the last event id when it was queued, so it goes
after what is already there). Only the claim enforces the order: of the due deliveries it
read, it sends those that open their lane (the first unfinished ones, in order), and moves the
others to `held` (holds.py; unless it sends nothing yet, its request not full: then the next
claim reads them again). So a claim reads the first few entries of each lane it meets, never a
lane's backlog, and a user whose lane is blocked costs one update per delivery, once.

A delivery is only sent once every event received before it has been routed: two routers
route side by side, and one user's next event may be in the chunk the other has not
committed yet.
"""

from collections import Counter, defaultdict
from hashlib import blake2b
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import QuerySet

from infra import planner
from ingest.models import Event

from ..models import Delivery
from ..models.deliveries import UNFINISHED


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


class LaneRead(NamedTuple):
    """What an ordered claim saw beside its due deliveries: the first unfinished entries of
    their lanes, as many per lane as it might send, and the first event not routed yet."""

    heads: dict[int, list[Entry]]
    routed_below: int | None


def read_due(
    due: QuerySet[Delivery], destination_id: int, claimed: list[Delivery] = ()
) -> tuple[list[Delivery], LaneRead]:
    """The deliveries `due` reads (a locking query), and what their lanes hold. On
    PostgreSQL it is one statement: under load every round trip costs a wait for a core,
    and an ordered claim had three where an unordered one has one. `claimed` are those an
    earlier read of the same claim let go."""
    if connection.vendor != "postgresql":
        rows = list(due)
        heads = lane_heads(destination_id, wanted_per_lane(rows, claimed))
        return rows, LaneRead(heads, first_unrouted())
    compiler = due.query.get_compiler(using=due.db)
    due_sql, due_params = compiler.as_sql()
    columns = [expression.target.column for expression, _, _ in compiler.select]
    before = Counter(delivery.lane for delivery in claimed if delivery.lane is not None)
    sql = folded_read_sql(due_sql, columns)
    params = [*due_params, list(before), list(before.values()), destination_id, UNFINISHED]
    rows, heads, routed_below = [], defaultdict(list), None
    for row in Delivery.objects.raw(sql, params):
        if row.kind == "head":
            heads[row.lane].append(Entry(row.pk, row.position, row.status, row.event_received_at))
        else:
            rows.append(row)
            routed_below = row.routed_below
    rows.sort(key=lambda delivery: (delivery.next_attempt_at, delivery.pk))
    for entries in heads.values():
        entries.sort(key=lambda entry: (entry.position, entry.pk))
    return rows, LaneRead(heads, routed_below)


def folded_read_sql(due_sql: str, columns: list[str]) -> str:
    """The due query as a CTE, and in the same statement each of its lanes' first entries
    (as many as the lane's deliveries in it and in `claimed`: an index range of a few entries
    per lane, delivery_lane) and the first unrouted event (event_unrouted's first entry)."""
    table = connection.ops.quote_name(Delivery._meta.db_table)
    events = connection.ops.quote_name(Event._meta.db_table)
    quoted = [connection.ops.quote_name(column) for column in columns]
    head_columns = {"id": "h.id", "position": "h.position", "status": "h.status"}
    head_columns |= {"event_received_at": "h.event_received_at", "lane": "k.lane"}
    pairs = zip(columns, quoted, strict=True)
    as_heads = [f"{head_columns.get(column, 'NULL')} AS {name}" for column, name in pairs]
    return f"""
        WITH due AS MATERIALIZED ({due_sql}),
        wanted AS (
            SELECT lane, sum(n)::int AS n FROM (
                SELECT lane, 1 AS n FROM due WHERE lane IS NOT NULL
                UNION ALL
                SELECT lane, n FROM unnest(%s::bigint[], %s::int[]) AS before(lane, n)
            ) AS counted
            WHERE lane IN (SELECT lane FROM due)
            GROUP BY lane
        )
        SELECT 'due' AS kind, {", ".join(f"due.{q}" for q in quoted)},
            (SELECT id FROM {events} WHERE routed_at IS NULL ORDER BY id LIMIT 1) AS routed_below
        FROM due
        UNION ALL
        SELECT 'head', {", ".join(as_heads)}, NULL
        FROM wanted AS k CROSS JOIN LATERAL (
            SELECT id, position, status, event_received_at FROM {table}
            WHERE destination_id = %s AND lane = k.lane AND status = ANY(%s)
            ORDER BY position, id LIMIT k.n
        ) AS h
    """


def wanted_per_lane(due: list[Delivery], claimed: list[Delivery]) -> dict[int, int]:
    """Entries to read per lane of the due deliveries: one per delivery of the lane the
    claim might send, in this read and in the ones before it."""
    wanted = Counter(delivery.lane for delivery in due if delivery.lane is not None)
    for delivery in claimed:
        if delivery.lane in wanted:
            wanted[delivery.lane] += 1
    return dict(wanted)


def in_order(
    due: list[Delivery], claimed: list[Delivery], read: LaneRead
) -> tuple[list[Delivery], dict[Delivery, Entry]]:
    """The due deliveries that may go now, each lane's in its order, and those that must wait
    on an earlier delivery of their lane, with the entry each waits on: the claim holds them
    (`hold`). `claimed` are the ones an earlier read of the same claim let go; a lane may go
    on from them. Rows past what the routers have finished stay due, untouched."""
    lanes = by_lane(due)
    if not lanes:
        return due, {}
    before = by_lane([delivery for delivery in claimed if delivery.lane in lanes])
    going: dict[int, list[Delivery]] = {}
    waiting: dict[Delivery, Entry] = {}
    for lane, candidates in lanes.items():
        earlier = before.get(lane, [])
        entries = read.heads.get(lane, [])
        opened, blocker = opening(earlier + candidates, entries, read.routed_below)
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
