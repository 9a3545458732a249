from django.apps import AppConfig
from django.db.models.signals import post_migrate

from infra import metrics, partitions
from ingest.signals import events_stored

# Deliveries sit beside their event's partition; attempts and links have their own retention.
TABLES = [
    partitions.Table("destinations_delivery", "event_received_at"),
    partitions.Table("destinations_deliveryattempt", "started_at"),
    partitions.Table("destinations_deliveryattempt_deliveries", "started_at"),
]


class DestinationsConfig(AppConfig):
    name = "destinations"
    verbose_name = "Destinations"

    def ready(self) -> None:
        from .delivery.doorbell import ring_router_soon
        from .delivery.gauges import queue_gauges

        metrics.register_gauges(queue_gauges)
        for table in TABLES:
            partitions.register(table)
        post_migrate.connect(create_partitions, sender=self, dispatch_uid="destinations.partitions")
        # Ingest knows nothing of delivery: it announces what it stored, and the router is rung.
        events_stored.connect(
            lambda **_: ring_router_soon(), weak=False, dispatch_uid="destinations.ring_router"
        )


def create_partitions(**_) -> None:
    partitions.ensure_partitions(tables=TABLES)
