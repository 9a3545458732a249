"""Sending again on purpose (docs/delivery.md, "Replay"): replays are new deliveries, marked as
such, mapped with the mapping and transformed by the transformations as they are now (so a fix fixes
the replay); the originals stay as they were, with their attempts.

Where transformations run, a replay is the event routed again through them to the delivery's
mapping: its trigger decides which forms it takes, and a fanned-out event's parts are replayed
together, once, whichever of them were picked."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ingest.models import Event, Source

from ..delivery import doorbell, lanes
from ..delivery.decisions import Route
from ..delivery.new_deliveries import NewDelivery, insert_deliveries, new_delivery, routing_failed
from ..delivery.routing import leg_metadata, route_leg
from ..delivery.transforming import (
    Failure,
    Transformed,
    destination_chains,
    record_failures,
    run_chain,
    source_chains,
)
from ..models import Delivery, Destination, Mapping

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
    """Route the source's events received in [start, end) through the destination's
    transformations and enabled mappings again (triggers and the integrations object apply);
    returns deliveries queued."""
    routes = [
        Route.of(mapping)
        for mapping in destination.mappings.filter(enabled=True).select_related("destination")
    ]
    chains = Chains()
    events = Event.objects.filter(source=source, received_at__gte=start, received_at__lt=end)
    now, position = timezone.now(), lanes.last_position()
    replays = []
    for event in events.only("id", "source_id", "received_at", "payload").iterator(1000):
        try:
            transformed = chains.run(event, source, destination)
            replays += [
                new_delivery(event, route, now, *outcome, replay=True, position=position)
                for route, outcome in route_leg(event, transformed, routes)
                if not isinstance(outcome, str)
            ]
        except Exception as error:  # one event's content fails it alone, as in the router
            replays += [routing_failed(event, route, now, error, replay=True) for route in routes]
    return _queue(replays, chains)


class Chains:
    """The current transformations of every source and destination, read once, and the
    events they failed on, to be counted as the router counts them."""

    def __init__(self) -> None:
        self.sources = source_chains()
        self.destinations = destination_chains()
        self.failed: dict[tuple[int, int], Failure] = {}

    def any(self, source_id: int, destination_id: int) -> bool:
        return bool(self.sources.get(source_id) or self.destinations.get(destination_id))

    def run(self, event: Event, source: Source, destination: Destination) -> Transformed:
        at_source = run_chain(
            self.sources.get(source.pk, ()),
            Transformed.untouched(event.payload),
            leg_metadata(source),
        )
        chain = self.destinations.get(destination.pk, ())
        transformed = run_chain(chain, at_source, leg_metadata(source, destination))
        if failure := transformed.failure:
            self.failed[(event.pk, failure.version_id)] = failure
        return transformed


def _replay(originals) -> int:
    originals = originals.select_related("event__source", "mapping__destination")
    routes: dict[int, Route] = {}
    chains = Chains()
    replayed: set[tuple[int, int]] = set()
    now, position = timezone.now(), lanes.last_position()
    replays = []
    for original in originals.iterator(chunk_size=1000):
        mapping: Mapping = original.mapping
        if mapping.pk not in routes:
            routes[mapping.pk] = Route.of(mapping)
        route, event = routes[mapping.pk], original.event
        if (event.pk, mapping.pk) in replayed:
            continue
        if chains.any(event.source_id, mapping.destination_id):
            replayed.add((event.pk, mapping.pk))  # the parts of a fanned-out event, once
        try:
            replays += replays_of(original, route, chains, now, position)
        except Exception as error:  # one event's content fails it alone, as in the router
            replays.append(routing_failed(event, route, now, error, replay_of=original))
    return _queue(replays, chains)


def replays_of(
    original: Delivery, route: Route, chains: Chains, now: datetime, position: int
) -> list[NewDelivery]:
    """The delivery's replays, after everything queued for its user (`position`)."""
    event, mapping = original.event, original.mapping
    if not chains.any(event.source_id, mapping.destination_id):
        return [new_delivery(event, route, now, replay_of=original, position=position)]
    transformed = chains.run(event, event.source, mapping.destination)
    return [
        new_delivery(event, route, now, *outcome, replay_of=original, position=position)
        for _, outcome in route_leg(event, transformed, [route])
        if not isinstance(outcome, str)
    ]


def _queue(replays: list[NewDelivery], chains: Chains) -> int:
    with transaction.atomic():
        insert_deliveries(replays)
        record_failures(chains.failed, timezone.now())
        mapping_ids = {d.mapping_id for d in replays if d.status == Delivery.Status.PENDING}
        transaction.on_commit(lambda: doorbell.ring_dispatchers(mapping_ids))
    return len(replays)
