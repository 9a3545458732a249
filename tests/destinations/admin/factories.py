"""Rows for admin tests: events, deliveries and a Metronome destination on a local sink."""

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from destinations.models import Delivery, Destination, Mapping
from destinations.services.destinations import create_destination
from ingest.models import Event, Source
from tests.destinations import events

# Distinctive, so that finding it anywhere in a page is certainly a leak.
TOKEN = "mtr-secret-token-7f3a9c1e5b"


def metronome(source: Source, base_url: str, name: str = "Billing") -> Destination:
    return create_destination(
        "metronome", name, {"base_url": base_url}, {"api_token": TOKEN}, [source]
    )


def store_event(
    source: Source, number: int = 1, received_at: datetime | None = None, **overrides: Any
) -> Event:
    payload = events.track(number, **overrides)
    return Event.objects.create(
        source=source,
        message_id=payload["messageId"],
        type=payload["type"],
        name=payload.get("event", ""),
        user_id=payload.get("userId", ""),
        anonymous_id=payload.get("anonymousId", ""),
        timestamp=timezone.now(),
        received_at=received_at or timezone.now(),
        payload=payload,
    )


def store_events(source: Source, count: int, start: int = 1) -> list[Event]:
    return [store_event(source, number) for number in range(start, start + count)]


def store_deliveries(
    mapping: Mapping,
    status: str,
    count: int,
    created_at: datetime | None = None,
    latency: timedelta | None = None,
) -> list[Delivery]:
    """`count` deliveries of new events; delivered ones arrive `latency` after the event."""
    created_at = created_at or timezone.now()
    source = mapping.destination.sources.get()
    first = Event.objects.count() + 1
    stored = [store_event(source, n, received_at=created_at) for n in range(first, first + count)]
    return Delivery.objects.bulk_create(
        Delivery(
            event=event,
            event_received_at=event.received_at,
            mapping=mapping,
            destination=mapping.destination,
            status=status,
            created_at=created_at,
            next_attempt_at=created_at,
            delivered_at=created_at + latency if latency is not None else None,
        )
        for event in stored
    )
