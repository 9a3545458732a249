"""Moving rows in time, as tests need, without breaking what production keeps true."""

from datetime import datetime

from django.db.models import QuerySet

from destinations.models import AttemptLink, Delivery, DeliveryAttempt
from ingest.models import Event


def receive_at(events: QuerySet[Event], when: datetime) -> None:
    """Say these events were received at `when`; their deliveries follow them, as a delivery's
    partition key is its event's received_at."""
    ids = list(events.values_list("pk", flat=True))
    Delivery.objects.filter(event_id__in=ids).update(event_received_at=when)
    Event.objects.filter(pk__in=ids).update(received_at=when)


def start_at(attempts: QuerySet[DeliveryAttempt], when: datetime) -> None:
    """Say these attempts started at `when`; their links follow them (same partition key)."""
    ids = list(attempts.values_list("pk", flat=True))
    AttemptLink.objects.filter(deliveryattempt_id__in=ids).update(started_at=when)
    DeliveryAttempt.objects.filter(pk__in=ids).update(started_at=when)
