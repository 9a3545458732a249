"""The pipeline's queues as Prometheus gauges, read at each scrape of /metrics."""

from collections.abc import Iterator

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily, Metric

from ingest.models import Event

from ..models import Delivery

# Counted apart, each group the predicate of a partial index (delivery_due,
# delivery_in_flight): together, the planner reads delivery_log's whole index instead.
UNFINISHED = (
    (Delivery.Status.PENDING, Delivery.Status.RETRYING),
    (Delivery.Status.IN_FLIGHT,),
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
