"""The pipeline's hourly tallies (models/tallies.py): events received per source, outcomes
and end-to-end latencies per destination. Each is one upsert in the transaction of the work it
counts, so a tally never counts work that rolled back, nor misses work that committed.

Keys are upserted in sorted order: two transactions that add to the same rows then lock them
in the same order, and never deadlock on each other.
"""

import os
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from infra.tallies import add_counts, hour_of
from ingest.models import Event

from ..models import Delivery, LatencyCount, OutcomeCount, ReceivedCount

# Upper bounds of the latency buckets, in milliseconds, from 50 ms to an hour on a rough log
# scale (each 1.5 to 2.5 times the one below): a percentile read from them is off by less
# than its bucket's width, a few rows per destination and hour.
LATENCY_BOUNDS_MS = (
    *(50, 100, 150, 250, 400, 600),
    *(1_000, 1_500, 2_500, 4_000, 6_000, 10_000, 15_000, 25_000, 40_000),
    *(60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000),
)
# The bucket of latencies past the last bound (an integer column holds no infinity).
OVERFLOW_MS = 2**31 - 1
OUTCOMES = (Delivery.Status.DELIVERED, Delivery.Status.FAILED, Delivery.Status.RETRYING)
SHARDS = 16


def shard() -> int:
    """This process's rows of the tallies (models/tallies.py says why)."""
    return os.getpid() % SHARDS


def count_received(events: Iterable[Event]) -> None:
    """Events routed, per source and hour of their received_at."""
    mine = shard()
    counts = Counter((event.source_id, hour_of(event.received_at), mine) for event in events)
    add_counts(ReceivedCount, sorted_counts(counts), ("source_id", "hour", "shard"))


def count_outcomes(counts: Mapping[tuple[int, str], int], now: datetime) -> None:
    """`counts` of (destination id, status) reached at `now`; statuses other than delivered,
    failed and retrying are not outcomes, and are left out."""
    hour = hour_of(now)
    add_outcomes(
        {
            (destination_id, hour, status): count
            for (destination_id, status), count in counts.items()
        }
    )


def count_born_failed(deliveries: Iterable[Delivery]) -> None:
    """Deliveries created failed (a payload the mapping could not make): outcomes too."""
    add_outcomes(
        Counter(
            (d.destination_id, hour_of(d.created_at), d.status)
            for d in deliveries
            if d.status == Delivery.Status.FAILED
        )
    )


def add_outcomes(counts: Mapping[tuple[int, datetime, str], int]) -> None:
    mine = shard()
    kept = {(*key, mine): count for key, count in counts.items() if key[2] in OUTCOMES and count}
    columns = ("destination_id", "hour", "outcome", "shard")
    add_counts(OutcomeCount, sorted_counts(kept), columns)


def count_latencies(destination_id: int, received: Iterable[datetime], now: datetime) -> None:
    """The end-to-end latencies of deliveries delivered at `now`, whose events were received
    at `received`, into the destination's histogram of this hour."""
    hour = hour_of(now)
    mine = shard()
    counts = Counter((destination_id, hour, bucket_of(now - moment), mine) for moment in received)
    columns = ("destination_id", "hour", "bucket_ms", "shard")
    add_counts(LatencyCount, sorted_counts(counts), columns)


def bucket_of(latency: timedelta) -> int:
    """The upper bound of the bucket that holds `latency` (bounds are inclusive, as
    Prometheus' `le`)."""
    index = bisect_left(LATENCY_BOUNDS_MS, latency.total_seconds() * 1000)
    return LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else OVERFLOW_MS


def quantile(buckets: Mapping[int, int], fraction: float) -> timedelta | None:
    """The `fraction` quantile of a histogram ({upper bound in ms: count}), interpolated
    linearly inside its bucket as Prometheus' histogram_quantile does: the first bucket starts
    at 0, and a quantile in the overflow bucket is the highest finite bound."""
    total = sum(buckets.values())
    if not total:
        return None
    rank = fraction * total
    below, lower = 0, 0
    # Every bound, so that a bucket's lower edge is the bound below it even when empty.
    for bound in sorted({*LATENCY_BOUNDS_MS, *buckets, OVERFLOW_MS}):
        count = buckets.get(bound, 0)
        if count and below + count >= rank:
            if bound == OVERFLOW_MS:
                return timedelta(milliseconds=lower)
            return timedelta(milliseconds=lower + (bound - lower) * (rank - below) / count)
        below, lower = below + count, bound
    raise AssertionError("unreachable: the buckets hold the rank")  # pragma: no cover


def sorted_counts(counts: Mapping[tuple[Any, ...], int]) -> dict[tuple[Any, ...], int]:
    return dict(sorted(counts.items()))
