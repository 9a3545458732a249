from django.apps import AppConfig
from django.db.models.signals import post_migrate

from infra import partitions

EVENTS = partitions.Table(
    "ingest_event", "received_at", local_unique=(("message", ("message_id", "source_id")),)
)


class IngestConfig(AppConfig):
    name = "ingest"
    verbose_name = "Ingest"

    def ready(self) -> None:
        partitions.register(EVENTS)
        post_migrate.connect(create_partitions, sender=self, dispatch_uid="ingest.partitions")


def create_partitions(**_) -> None:
    partitions.ensure_partitions(tables=[EVENTS])
