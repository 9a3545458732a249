"""The pipeline's queues as Prometheus gauges, read at each scrape of /metrics."""

from collections.abc import Iterator

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from ingest.models import Event

from ..models import Delivery

# Counted apart, each group the predicate of a partial index (delivery_due,
# delivery_in_flight, delivery_held): together, the planner reads delivery_log's whole index.
UNFINISHED = (
    (Delivery.Status.PENDING, Delivery.Status.RETRYING),
    (Delivery.Status.IN_FLIGHT,),
    (Delivery.Status.HELD,),
)


def queue_gauges() -> Iterator[Metric]:
    waiting = GaugeMetricFamily(
        "switchyard_deliveries_waiting",
        "Deliveries not finished yet, by destination and status (the delivery queue).",
        labels=["destination", "status"],
    )
    for statuses in UNFINISHED:
        rows = (
            Delivery.objects.filter(status__in=statuses)
            .values_list("destination__name", "status")
            .annotate(n=Count("id"))
            .order_by()
        )
        for destination, status, n in rows:
            waiting.add_metric([destination, status], n)
    yield waiting
    unrouted = Event.objects.filter(routed_at__isnull=True).count()
    yield GaugeMetricFamily(
        "switchyard_events_unrouted", "Events waiting for the router.", value=unrouted
    )
    yield GaugeMetricFamily(
        "switchyard_oldest_unrouted_event_age_seconds",
        "Seconds since the oldest event waiting for the router was received (0: none waits).",
        value=oldest_unrouted_age() or 0,
    )


def oldest_unrouted_age() -> float | None:
    """Seconds since the oldest unrouted event was received; None when none waits.

    The lowest id stands for the oldest (ids are handed out as events are stored): ORDER BY
    id takes one entry of event_unrouted, the router's partial index, per partition, where
    min(received_at) would read every unrouted row, millions after a long router outage.
    """
    unrouted = Event.objects.filter(routed_at__isnull=True).order_by("id")
    received_at = unrouted.values_list("received_at", flat=True).first()
    if received_at is None:
        return None
    return max(0.0, (timezone.now() - received_at).total_seconds())
