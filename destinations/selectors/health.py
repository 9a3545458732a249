"""How a destination and its mappings are faring, for the admin (docs/admin.md,
"Destinations and health").

Read from the hourly tallies the pipeline keeps (delivery/tallies.py) and from counts capped
at COUNT_CAP, so a page costs the same three queries whether a destination made ten
deliveries or ten million (it used to read a day of deliveries: 0.5 s at 714k a day).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import F, Q, Sum
from django.utils import timezone

from infra.tallies import hour_of

from ..models import (
    Delivery,
    Destination,
    DestinationState,
    FilteredCount,
    Mapping,
    TransformationVersion,
)
from . import overview
from .holds import Holds, holds_of
from .overview import (
    COUNT_CAP,
    WINDOW,
    DestinationHour,
    destination_series,
    outcome_counts,
    p95_latencies,
    state_of,
    window_hours,
    with_current_figures,
    without_jit,
)

# The chart's bars: delivered, failed (and retried) in an hour, as on the overview.
HourCounts = DestinationHour


@dataclass(frozen=True)
class DestinationHealth:
    """A destination's last 24 hours and what waits now.

    `by_status` holds two kinds of figures. Delivered and failed: the deliveries that reached
    that outcome in the hours the last 24 hours touch (25, the oldest partly past), replays
    included (they are requests to the destination too), by the hour it was recorded.
    Pending, in flight and retrying: the deliveries in that status now, each counted up to
    `count_cap`. The P95 end-to-end latency (event received → delivered) is that of the
    original deliveries delivered in the window, read from the hourly latency histogram, so
    within its bucket of the exact value; `hours` holds delivered and failed per hour.
    """

    by_status: dict[str, int]
    p95_latency: timedelta | None
    hours: list[HourCounts]
    state: DestinationState | None
    count_cap: int = COUNT_CAP
    # The current versions of the transformations the destination's events go through (its
    # sources' and its own), with the events each failed on.
    transformations: list[TransformationVersion] = field(default_factory=list)
    holds: Holds | None = None  # at a destination that keeps order: users held, oldest hold

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
        """Pending or in flight: on their way (at most the cap)."""
        statuses = (Delivery.Status.PENDING, Delivery.Status.IN_FLIGHT)
        return min(self.count_cap, sum(self.by_status.get(status, 0) for status in statuses))

    @property
    def busiest_hour(self) -> int:
        """The chart's scale: the largest hourly bar, at least 1."""
        return max([1, *(hour.total for hour in self.hours)])

    @property
    def failing_since(self) -> datetime | None:
        return self.state.failing_since if self.state else None


def destination_health(destination: Destination, now: datetime | None = None) -> DestinationHealth:
    """Four queries (and a SET): the destination with its state and current counts, its
    outcome tallies, its latency histogram, its transformations."""
    now = now or timezone.now()
    with without_jit():
        return health_figures(destination, window_hours(now))


def health_figures(destination: Destination, hours: list[datetime]) -> DestinationHealth:
    cap = overview.COUNT_CAP  # read now: tests lower it
    current = with_current_figures(Destination.objects.filter(pk=destination.pk), cap)
    figures = current.get()
    series = destination_series(destination.pk, hours, outcome_counts([destination.pk], hours[0]))
    by_status = {
        Delivery.Status.DELIVERED: sum(hour.delivered for hour in series),
        Delivery.Status.FAILED: sum(hour.failed for hour in series),
        Delivery.Status.PENDING: figures.now_pending,
        Delivery.Status.IN_FLIGHT: figures.now_in_flight,
        Delivery.Status.RETRYING: figures.now_retrying,
    }
    return DestinationHealth(
        by_status={status: count for status, count in by_status.items() if count},
        p95_latency=p95_latencies([destination.pk], hours[0]).get(destination.pk),
        hours=series,
        state=state_of(figures),
        count_cap=cap,
        transformations=transformation_versions(destination),
        holds=holds_of([destination.pk]).get(destination.pk) if figures.now_held else None,
    )


def transformation_versions(destination: Destination) -> list[TransformationVersion]:
    attached = Q(transformation__destination_links__destination=destination) | Q(
        transformation__source_links__source__destinations=destination
    )
    current = TransformationVersion.objects.filter(
        attached, pk=F("transformation__current_version")
    )
    return list(current.select_related("transformation").distinct().order_by("transformation"))


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
