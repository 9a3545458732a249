"""The operator's overview (the admin's home page): is everything flowing, in one look.

Every figure comes from the hourly tallies the pipeline keeps as it works (events routed per
source, outcomes and latencies per destination, rejections per source) and from small,
capped counts over indexes, so the page costs the same on an empty database and on one of
many millions of rows: eight queries (and a SET), whatever the number of sources and
destinations.

The window is the hours the last 24 hours touch (25 of them, the oldest partly past), as the
tallies are hourly: totals are the sums of the hourly series.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.utils import timezone

from infra.tallies import hour_of
from ingest.models import Event, Rejection, Source

from ..delivery.batching import DUE
from ..delivery.tallies import quantile
from ..models import (
    Delivery,
    Destination,
    DestinationState,
    LatencyCount,
    Mapping,
    OutcomeCount,
    ReceivedCount,
)
from .holds import Holds, holds_of

WINDOW = timedelta(hours=24)
# Counts of unfinished work stop at this: "10,000+" says enough, and counting a large
# backlog exactly would cost what the page must not.
COUNT_CAP = 10_000
LATENCY_PERCENTILE = 0.95
RATE_LIMITED = "rate_limited"  # ingest's Rejection code for a 429


@dataclass(frozen=True)
class SourceHour:
    hour: datetime
    received: int = 0
    rejected: int = 0
    rate_limited: int = 0


@dataclass(frozen=True)
class SourceOverview:
    source: Source
    received: int  # events received in the window
    rejected: int  # messages refused by validation in the window
    rate_limited: int  # events refused with 429 in the window
    hours: list[SourceHour]  # every hour the window touches, oldest first, empty ones too


@dataclass(frozen=True)
class DestinationHour:
    hour: datetime
    delivered: int = 0
    failed: int = 0
    retried: int = 0

    @property
    def total(self) -> int:
        """Delivered and failed: the outcomes for good."""
        return self.delivered + self.failed


@dataclass(frozen=True)
class DestinationOverview:
    destination: Destination
    delivered: int  # deliveries delivered in the window
    failed: int  # deliveries failed for good in the window
    retrying: int  # now, at most COUNT_CAP
    pending: int  # now (pending or in flight), at most COUNT_CAP
    p95_latency: timedelta | None  # event received → delivered, in the window
    failing_since: datetime | None
    breaker_open: bool
    hours: list[DestinationHour]  # every hour the window touches, oldest first
    retried: int = 0  # retries scheduled in the window (a delivery retried twice counts 2)
    oldest_pending_at: datetime | None = None  # created_at of its oldest pending or retrying
    holds: Holds | None = None  # users held behind an earlier delivery of theirs, if any


@dataclass(frozen=True)
class Backlog:
    unrouted: int  # events waiting for the router, at most COUNT_CAP
    due: int  # deliveries pending or retrying whose time has come, at most COUNT_CAP
    oldest_pending_age: timedelta | None  # of the oldest delivery pending or retrying


@dataclass(frozen=True)
class Overview:
    sources: list[SourceOverview]
    destinations: list[DestinationOverview]
    backlog: Backlog
    count_cap: int = COUNT_CAP


class CappedCount(Subquery):
    """count(*) over a sliced queryset: reading stops at its LIMIT, whatever the matches."""

    template = "(SELECT count(*) FROM (%(subquery)s) AS capped)"
    output_field = IntegerField()


def overview(now: datetime | None = None) -> Overview:
    """The whole page's figures: a handful of queries whatever the volume."""
    now = now or timezone.now()
    hours = window_hours(now)
    with without_jit():
        destinations = list(with_current_figures(Destination.objects.order_by("name"), COUNT_CAP))
        figures = list(destination_overviews(destinations, hours, now))
        return Overview(
            sources=source_overviews(hours),
            destinations=figures,
            backlog=Backlog(
                unrouted=unrouted_events(COUNT_CAP),
                due=due_deliveries(now, COUNT_CAP),
                oldest_pending_age=oldest_age(figures, now),
            ),
            count_cap=COUNT_CAP,
        )


@contextmanager
def without_jit() -> Iterator[None]:
    """A transaction whose queries PostgreSQL does not JIT-compile. It compiles a query whose
    estimated cost passes jit_above_cost, and these ones' estimates grow with the partitions
    they look into and with the rows it assumes in tables autovacuum never analyzed (a few
    destinations): compiling took 165 ms of a query that runs in 2 ms."""
    with transaction.atomic(savepoint=False):  # inside a transaction already: that one
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        yield


def window_hours(now: datetime) -> list[datetime]:
    """Every hour the window touches, oldest first."""
    first, last = hour_of((now - WINDOW).astimezone(UTC)), hour_of(now.astimezone(UTC))
    count = (last - first) // timedelta(hours=1) + 1
    return [first + timedelta(hours=n) for n in range(count)]


# --- Sources ---------------------------------------------------------------------------------


def source_overviews(hours: list[datetime]) -> list[SourceOverview]:
    """Two queries besides the sources': their received and rejected tallies, by the unique
    indexes that start with the source."""
    sources = list(Source.objects.order_by("name"))
    ids = [source.pk for source in sources]
    received = ReceivedCount.objects.filter(source_id__in=ids, hour__gte=hours[0])
    counts: Counter[tuple[int, datetime, str]] = Counter()
    for source_id, hour, count in received.values_list("source_id", "hour", "count"):
        counts[(source_id, hour, "received")] += count
    rejections = Rejection.objects.filter(source_id__in=ids, hour__gte=hours[0])
    for source_id, hour, code, count in rejections.values_list(
        "source_id", "hour", "code", "count"
    ):
        counts[(source_id, hour, RATE_LIMITED if code == RATE_LIMITED else "rejected")] += count
    return [source_overview(source, hours, counts) for source in sources]


def source_overview(
    source: Source, hours: list[datetime], counts: Counter[tuple[int, datetime, str]]
) -> SourceOverview:
    series = [
        SourceHour(
            hour,
            counts[(source.pk, hour, "received")],
            counts[(source.pk, hour, "rejected")],
            counts[(source.pk, hour, RATE_LIMITED)],
        )
        for hour in hours
    ]
    return SourceOverview(
        source=source,
        received=sum(hour.received for hour in series),
        rejected=sum(hour.rejected for hour in series),
        rate_limited=sum(hour.rate_limited for hour in series),
        hours=series,
    )


# --- Destinations ----------------------------------------------------------------------------


def with_current_figures(destinations: QuerySet[Destination], cap: int) -> QuerySet[Destination]:
    """The destinations with their state, and what waits for each now: `now_<status>` counts
    (pending, in flight, retrying, held; each at most `cap`) and `oldest_<status>` (created_at of
    the oldest pending or retrying delivery), all in one query.

    Each is a subquery on (destination_id, status), the leading columns of delivery_log
    (in flight: of delivery_in_flight too), so it reads at most `cap` index entries, or one.
    Not delivery_due: keyed by mapping and holding both statuses, a count of pending there
    could read every retrying entry first. One status per subquery, as gauges.py counts
    them: a condition on several, and the planner may read a whole index instead.
    """

    def waiting(status: str) -> QuerySet[Delivery]:
        return Delivery.objects.filter(destination=OuterRef("pk"), status=status)

    def capped(status: str) -> CappedCount:
        return CappedCount(waiting(status).values("destination_id")[:cap])

    def oldest(status: str) -> Subquery:
        return Subquery(waiting(status).order_by("created_at").values("created_at")[:1])

    status = Delivery.Status
    return destinations.select_related("state").annotate(
        now_pending=capped(status.PENDING),
        now_in_flight=capped(status.IN_FLIGHT),
        now_retrying=capped(status.RETRYING),
        now_held=capped(status.HELD),
        oldest_pending=oldest(status.PENDING),
        oldest_retrying=oldest(status.RETRYING),
    )


def destination_overviews(
    destinations: list[Destination], hours: list[datetime], now: datetime
) -> Iterable[DestinationOverview]:
    ids = [destination.pk for destination in destinations]
    outcomes = outcome_counts(ids, hours[0])
    p95s = p95_latencies(ids, hours[0])
    holds = holds_of([destination.pk for destination in destinations if destination.now_held])
    for destination in destinations:
        series = destination_series(destination.pk, hours, outcomes)
        state = state_of(destination)
        yield DestinationOverview(
            destination=destination,
            delivered=sum(hour.delivered for hour in series),
            failed=sum(hour.failed for hour in series),
            retrying=destination.now_retrying,
            pending=min(COUNT_CAP, destination.now_pending + destination.now_in_flight),
            p95_latency=p95s.get(destination.pk),
            failing_since=state.failing_since if state else None,
            breaker_open=bool(state and state.paused_until and state.paused_until > now),
            hours=series,
            retried=sum(hour.retried for hour in series),
            oldest_pending_at=oldest_waiting(destination),
            holds=holds.get(destination.pk),
        )


def destination_series(
    pk: int, hours: list[datetime], outcomes: Counter[tuple[int, datetime, str]]
) -> list[DestinationHour]:
    status = Delivery.Status
    return [
        DestinationHour(
            hour,
            outcomes[(pk, hour, status.DELIVERED)],
            outcomes[(pk, hour, status.FAILED)],
            outcomes[(pk, hour, status.RETRYING)],
        )
        for hour in hours
    ]


def state_of(destination: Destination) -> DestinationState | None:
    """The state select_related joined (a destination never sent to has none)."""
    try:
        return destination.state
    except DestinationState.DoesNotExist:
        return None


def oldest_waiting(destination: Destination) -> datetime | None:
    moments = [destination.oldest_pending, destination.oldest_retrying]
    return min((moment for moment in moments if moment is not None), default=None)


def outcome_counts(ids: list[int], since: datetime) -> Counter[tuple[int, datetime, str]]:
    """(destination id, hour, outcome) → deliveries, from the hour `since` on."""
    rows = OutcomeCount.objects.filter(destination_id__in=ids, hour__gte=since)
    counts: Counter[tuple[int, datetime, str]] = Counter()
    for destination_id, hour, outcome, count in rows.values_list(
        "destination_id", "hour", "outcome", "count"
    ):
        counts[(destination_id, hour, outcome)] += count
    return counts


def p95_latencies(ids: list[int], since: datetime) -> dict[int, timedelta | None]:
    """Each destination's P95 end-to-end latency from the hour `since` on, read from its
    latency histogram (interpolated within the bucket that holds it)."""
    rows = (
        LatencyCount.objects.filter(destination_id__in=ids, hour__gte=since)
        .values_list("destination_id", "bucket_ms")
        .annotate(total=Sum("count"))
        .order_by()
    )
    buckets: dict[int, dict[int, int]] = defaultdict(dict)
    for destination_id, bucket_ms, total in rows:
        buckets[destination_id][bucket_ms] = total
    return {pk: quantile(histogram, LATENCY_PERCENTILE) for pk, histogram in buckets.items()}


# --- Backlog ---------------------------------------------------------------------------------


def unrouted_events(cap: int) -> int:
    """Events waiting for the router, counted through event_unrouted up to `cap`."""
    return Event.objects.filter(routed_at__isnull=True).values("pk")[:cap].count()


def due_deliveries(now: datetime, cap: int) -> int:
    """Deliveries pending or retrying whose time has come: per mapping, a range of
    delivery_due (mapping_id, next_attempt_at) read up to `cap`; summed, at most `cap`."""
    due = Delivery.objects.filter(
        mapping=OuterRef("pk"), status__in=DUE, next_attempt_at__lte=now
    ).values("mapping_id")
    per_mapping = Mapping.objects.annotate(due=CappedCount(due[:cap]))
    return min(cap, per_mapping.aggregate(total=Sum("due"))["total"] or 0)


def oldest_age(destinations: list[DestinationOverview], now: datetime) -> timedelta | None:
    moments = [d.oldest_pending_at for d in destinations if d.oldest_pending_at is not None]
    return now - min(moments) if moments else None
