"""How a destination and its mappings are faring, for the admin (SPEC §6).

Every figure is aggregated in the database, so a page costs the same few queries whether a
destination made ten deliveries or ten million: counts are grouped by hour and status, and
the P95 latency is PERCENTILE_CONT on PostgreSQL, two ordered rows on SQLite.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import floor

from django.db import connection
from django.db.models import Aggregate, Count, DurationField, F, QuerySet, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from infra.tallies import hour_of

from ..models import Delivery, Destination, DestinationState, FilteredCount, Mapping

WINDOW = timedelta(hours=24)
LATENCY_PERCENTILE = 0.95
# Event received (ingest) → delivered (the destination's 2xx): SPEC §9's end-to-end latency.
END_TO_END = F("delivered_at") - F("event_received_at")


@dataclass(frozen=True)
class HourCounts:
    hour: datetime
    delivered: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.failed


@dataclass(frozen=True)
class DestinationHealth:
    """The deliveries created in the last 24 hours by their current status (replays included:
    they are requests to the destination too), the P95 end-to-end latency of the original
    deliveries, delivered and failed per hour, and the failing-since state."""

    by_status: dict[str, int]
    p95_latency: timedelta | None
    hours: list[HourCounts]
    state: DestinationState | None

    @property
    def delivered(self) -> int:
        return self.by_status.get(Delivery.Status.DELIVERED, 0)

    @property
    def failed(self) -> int:
        return self.by_status.get(Delivery.Status.FAILED, 0)

    @property
    def retrying(self) -> int:
        return self.by_status.get(Delivery.Status.RETRYING, 0)

    @property
    def waiting(self) -> int:
        """Pending or in flight: on their way."""
        statuses = (Delivery.Status.PENDING, Delivery.Status.IN_FLIGHT)
        return sum(self.by_status.get(status, 0) for status in statuses)

    @property
    def busiest_hour(self) -> int:
        """The chart's scale: the largest hourly bar, at least 1."""
        return max([1, *(hour.total for hour in self.hours)])

    @property
    def failing_since(self) -> datetime | None:
        return self.state.failing_since if self.state else None


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile; over an interval it returns an interval."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


def destination_health(destination: Destination, now: datetime | None = None) -> DestinationHealth:
    now = now or timezone.now()
    recent = Delivery.objects.filter(destination=destination, created_at__gte=now - WINDOW)
    per_hour_and_status = list(
        recent.annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values_list("hour", "status")
        .annotate(count=Count("id"))
        .order_by()
    )
    by_status: dict[str, int] = {}
    for _hour, status, count in per_hour_and_status:
        by_status[status] = by_status.get(status, 0) + count
    return DestinationHealth(
        by_status=by_status,
        # A replay's event was received long before the operator asked for it again: its
        # latency measures that wait, not the pipeline.
        p95_latency=p95_latency(
            recent.filter(
                status=Delivery.Status.DELIVERED, delivered_at__isnull=False, replay=False
            )
        ),
        hours=hourly_counts(per_hour_and_status, now),
        state=DestinationState.objects.filter(destination=destination).first(),
    )


def hourly_counts(rows: list[tuple[datetime, str, int]], now: datetime) -> list[HourCounts]:
    """Delivered and failed for every hour the window touches, oldest first, empty hours
    included so the chart keeps its time axis."""
    counts = {(hour, status): number for hour, status, number in rows}
    first, last = hour_of((now - WINDOW).astimezone(UTC)), hour_of(now.astimezone(UTC))
    count = (last - first) // timedelta(hours=1) + 1
    hours = [first + timedelta(hours=n) for n in range(count)]
    return [
        HourCounts(
            hour,
            counts.get((hour, Delivery.Status.DELIVERED), 0),
            counts.get((hour, Delivery.Status.FAILED), 0),
        )
        for hour in hours
    ]


def p95_latency(delivered: QuerySet[Delivery]) -> timedelta | None:
    if connection.vendor == "postgresql":
        result = delivered.aggregate(p95=PercentileCont(END_TO_END, fraction=LATENCY_PERCENTILE))
        return result["p95"]
    return interpolated_percentile(
        delivered.annotate(latency=END_TO_END).order_by("latency"), LATENCY_PERCENTILE
    )


def interpolated_percentile(ordered: QuerySet[Delivery], fraction: float) -> timedelta | None:
    """PERCENTILE_CONT where the database has none: read the two rows around the position
    and interpolate between them, as PostgreSQL does, so both databases agree."""
    count = ordered.count()
    if not count:
        return None
    position = fraction * (count - 1)
    below = floor(position)
    around = list(ordered.values_list("latency", flat=True)[below : below + 2])
    if len(around) == 1:
        return around[0]
    return around[0] + (around[1] - around[0]) * (position - below)


def filtered_counts(mapping: Mapping, now: datetime | None = None) -> dict[str, int]:
    """Events the mapping did not take in the last 24 hours, by reason (trigger,
    integrations), from the hourly tallies the router keeps."""
    since = hour_of((now or timezone.now()) - WINDOW)
    rows = (
        FilteredCount.objects.filter(mapping=mapping, hour__gte=since)
        .values_list("reason")
        .annotate(total=Sum("count"))
        .order_by()
    )
    return dict(rows)
