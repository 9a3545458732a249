from django.apps import AppConfig

from infra import metrics
from ingest.signals import events_stored


class DestinationsConfig(AppConfig):
    name = "destinations"
    verbose_name = "Destinations"

    def ready(self) -> None:
        from .delivery.doorbell import ring_router_soon
        from .delivery.gauges import queue_gauges

        metrics.register_gauges(queue_gauges)
        # Ingest knows nothing of delivery: it announces what it stored, and the router is rung.
        events_stored.connect(
            lambda **_: ring_router_soon(), weak=False, dispatch_uid="destinations.ring_router"
        )
