"""Sending again on purpose (SPEC §5.5): replays are new deliveries, marked as such, mapped
with the mapping as it is now (so a fixed mapping fixes the replay); the originals stay as
they were, with their attempts."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ingest.models import Event, Source

from ..models import Delivery, Destination, Mapping
from . import doorbell
from .routing import Route, insert_deliveries, integrations_allow, new_delivery

REPLAYABLE = (Delivery.Status.DELIVERED, Delivery.Status.FAILED)


def replay_deliveries(delivery_ids: list[int]) -> int:
    """Send these delivered or failed deliveries again; returns how many were queued."""
    originals = Delivery.objects.filter(pk__in=delivery_ids, status__in=REPLAYABLE)
    return _replay(originals)


def replay_destination(destination: Destination, start: datetime, end: datetime) -> int:
    """Send again every delivered or failed delivery the destination got in [start, end)."""
    originals = Delivery.objects.filter(
        destination=destination, status__in=REPLAYABLE, created_at__gte=start, created_at__lt=end
    )
    return _replay(originals)


def reroute_source(source: Source, destination: Destination, start: datetime, end: datetime) -> int:
    """Route the source's events received in [start, end) through the destination's enabled
    mappings again (triggers and the integrations object apply); returns deliveries queued."""
    routes = [
        Route.of(mapping)
        for mapping in destination.mappings.filter(enabled=True).select_related("destination")
    ]
    events = Event.objects.filter(source=source, received_at__gte=start, received_at__lt=end)
    now = timezone.now()
    replays = [
        new_delivery(event, route, now, replay=True)
        for event in events.only("id", "received_at", "payload").iterator(chunk_size=1000)
        for route in routes
        if integrations_allow(event.payload.get("integrations"), route)
        and (route.trigger is None or route.trigger.matches(event.payload))
    ]
    return _queue(replays)


def _replay(originals) -> int:
    originals = originals.select_related("event", "mapping__destination")
    routes: dict[int, Route] = {}
    now = timezone.now()
    replays = []
    for original in originals.iterator(chunk_size=1000):
        mapping: Mapping = original.mapping
        if mapping.pk not in routes:
            routes[mapping.pk] = Route.of(mapping)
        route = routes[mapping.pk]
        replays.append(new_delivery(original.event, route, now, replay_of=original))
    return _queue(replays)


def _queue(replays: list[Delivery]) -> int:
    with transaction.atomic():
        insert_deliveries(replays)
        mapping_ids = {d.mapping_id for d in replays if d.status == Delivery.Status.PENDING}
        transaction.on_commit(lambda: doorbell.ring_dispatchers(mapping_ids))
    return len(replays)
