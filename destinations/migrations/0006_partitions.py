"""On PostgreSQL, events, deliveries, attempts and their links become time-partitioned tables
(infra/partitions.py), every row kept. The events table is converted here, not in ingest,
because the deliveries' columns that partitioning needs had to come first. Nothing happens on
SQLite."""

from django.db import migrations

from infra.partition_conversion import convert
from infra.partitions import Table

TABLES = [
    Table("ingest_event", "received_at", (("message", ("message_id", "source_id")),)),
    Table("destinations_delivery", "event_received_at"),
    Table("destinations_deliveryattempt", "started_at"),
    Table("destinations_deliveryattempt_deliveries", "started_at"),
]


def partition(apps, schema_editor) -> None:
    for table in TABLES:
        convert(table)


class Migration(migrations.Migration):
    dependencies = [("destinations", "0005_partition_keys")]

    operations = [migrations.RunPython(partition, migrations.RunPython.noop)]
