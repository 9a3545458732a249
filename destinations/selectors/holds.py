"""Who waits behind whom at destinations that keep order per user (docs/delivery.md,
"Per-user order"): the users held and the oldest hold, for health and the overview."""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Min

from ..models import Delivery

# Users counted per destination, at most: each costs one step through delivery_held.
USERS_CAP = 10_000


@dataclass(frozen=True)
class Holds:
    users: int  # users with held deliveries, at most USERS_CAP
    oldest: datetime | None  # when the longest-waiting held delivery was queued


def holds_of(destination_ids: list[int]) -> dict[int, Holds]:
    """The holds of these destinations (none: absent). A busy user with a million held
    deliveries costs one step, as any other: the lanes are read by skipping from one to the
    next in delivery_held, each at its first (oldest) entry."""
    firsts = {pk: first_held_by_lane(pk) for pk in destination_ids}
    return {
        pk: Holds(len(lanes), min(lanes.values()) if lanes else None)
        for pk, lanes in firsts.items()
        if lanes
    }


def first_held_by_lane(destination_id: int) -> dict[int, datetime]:
    """When the first held delivery of each held lane was queued."""
    held = Delivery.objects.filter(destination_id=destination_id, status=Delivery.Status.HELD)
    if connection.vendor != "postgresql":
        lanes = held.values_list("lane").annotate(first=Min("created_at")).order_by()
        return dict(lanes[:USERS_CAP])
    table = connection.ops.quote_name(Delivery._meta.db_table)
    first = f"""SELECT lane, created_at FROM {table} WHERE destination_id = %s AND status = 'held'
        ORDER BY lane, position, id LIMIT 1"""
    sql = f"""
        WITH RECURSIVE lanes(lane, created_at) AS (
            ({first})
            UNION ALL
            SELECT next.lane, next.created_at FROM lanes CROSS JOIN LATERAL (
                SELECT lane, created_at FROM {table}
                WHERE destination_id = %s AND status = 'held' AND lane > lanes.lane
                ORDER BY lane, position, id LIMIT 1
            ) next
        )
        SELECT lane, created_at FROM lanes LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [destination_id, destination_id, USERS_CAP])
        return dict(cursor.fetchall())
