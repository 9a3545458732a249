"""Rows of every kind for the conversion test, written and read back in a process of its own
(run as `python -m tests.infra.conversion_rows fill|read` on the database DATABASE_URL)."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import django
import orjson

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from destinations.models import AttemptLink, Delivery, DeliveryAttempt, Destination  # noqa: E402
from ingest.models import Event, Source  # noqa: E402
from tests.destinations.admin.factories import metronome, store_deliveries  # noqa: E402

STATUSES = [status.value for status in Delivery.Status]


def fill() -> None:
    # The rows are written with today's models, on the schema of an older migration: columns
    # added since stand in, nullable, while they are written, and go again.
    with columns_of_today(Delivery), columns_of_today(Destination):
        write_rows()


@contextmanager
def columns_of_today(model) -> Iterator[None]:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        present = {c.name for c in connection.introspection.get_table_description(cursor, table)}
    missing = [f for f in model._meta.concrete_fields if f.column not in present]
    with connection.cursor() as cursor:
        for field in missing:
            kind = field.db_type(connection)
            cursor.execute(f'ALTER TABLE {table} ADD COLUMN "{field.column}" {kind}')
    yield
    with connection.cursor() as cursor:
        for field in missing:
            cursor.execute(f'ALTER TABLE {table} DROP COLUMN "{field.column}"')


def write_rows() -> None:
    source = Source.objects.create(name="Web")
    mapping = metronome(source, "http://127.0.0.1:9").mappings.first()
    now = timezone.now()
    for days_ago, status in enumerate(STATUSES):
        deliveries = store_deliveries(mapping, status, 3, now - timedelta(days=days_ago, hours=1))
        attempt = DeliveryAttempt.objects.create(
            destination=mapping.destination,
            mapping=mapping,
            started_at=deliveries[0].created_at,
            duration_ms=12,
            item_count=3,
            outcome=status,
            request_method="POST",
            request_url="http://127.0.0.1:9/v1/ingest",
        )
        attempt.deliveries.set(deliveries, through_defaults={"started_at": attempt.started_at})
    Event.objects.filter(pk=Event.objects.order_by("pk").first().pk).update(routed_at=None)


def read() -> dict:
    return {
        "events": sorted(Event.objects.values_list("pk", "message_id", "received_at", "routed_at")),
        "deliveries": sorted(
            Delivery.objects.values_list("pk", "event_id", "status", "event_received_at")
        ),
        "attempts": sorted(DeliveryAttempt.objects.values_list("pk", "outcome", "started_at")),
        "links": sorted(AttemptLink.objects.values_list("deliveryattempt_id", "delivery_id")),
    }


def add() -> int:
    now = timezone.now()
    event = Event.objects.create(
        source=Source.objects.get(),
        message_id="after",
        type="track",
        timestamp=now,
        received_at=now,
        payload={},
    )
    return event.pk


if __name__ == "__main__":
    done = {"fill": fill, "read": read, "add": add}[sys.argv[1]]()
    sys.stdout.write(orjson.dumps(done, default=str).decode())
