"""The router: unrouted events become deliveries, one per mapping wanting them (docs/delivery.md).

Events are claimed in id order with SKIP LOCKED, so routers running side by side split the
work; each chunk's deliveries are inserted and its events marked routed in one transaction,
and the unique (event, mapping, part) key makes routing an event twice harmless.

An event goes through its source's transformations, then each destination's, before that
destination's triggers and mappings see it (delivery/transforming.py); a transformation may
drop it, or fan it out into parts, each a delivery of its own.
"""

import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

import orjson
from django.conf import settings
from django.db import transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from infra import metrics, planner, slots
from infra.tallies import add_counts, hour_of
from ingest.models import Event, Source

from ..models import Delivery, Destination, FilteredCount, Mapping
from . import doorbell, tallies
from .decisions import INTEGRATIONS, Route, decide, integrations_allow
from .new_deliveries import NewDelivery, insert_deliveries, new_delivery, routing_failed
from .transforming import (
    Chain,
    Failure,
    Transformed,
    destination_chains,
    record_failures,
    run_chain,
    source_chains,
)

log = logging.getLogger(__name__)

CHUNK = 500
# How long a router trusts the mappings and transformations it read: under a load it cannot
# leave, a change must still reach it.
TABLE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Unrouted:
    """A claimed event, as routing reads it, without an Event instance per row or Django's
    JSON decoding of its payload (both stood high in the router's profile)."""

    pk: int
    source_id: int
    received_at: datetime
    payload: dict[str, Any]
    unreadable: str = ""  # why the stored payload could not be decoded


def unrouted(pk: int, source_id: int, received_at: datetime, text: str) -> Unrouted:
    try:
        return Unrouted(pk, source_id, received_at, orjson.loads(text))
    except orjson.JSONDecodeError as error:
        # Deeper than any decoder goes (1,024 levels): stored before ingest refused such
        # events, or written by hand. It fails alone, as any other event the router cannot
        # take; left to fail the claim, it would stop every event behind it.
        return Unrouted(pk, source_id, received_at, {}, f"its payload cannot be read: {error}")


@dataclass(frozen=True)
class Leg:
    """A destination as a source's events reach it: its transformations, then its mappings."""

    metadata: str  # JSON: what its scripts' metadata(event) gives, messageId apart
    chain: Chain
    routes: list[Route]


@dataclass(frozen=True)
class Table:
    """Where each source's events go, read once per router run."""

    legs: dict[int, list[Leg]]
    source_chains: dict[int, Chain]
    source_metadata: dict[int, str]

    def at_source(self, event: Event | Unrouted) -> Transformed:
        chain = self.source_chains.get(event.source_id, ())
        metadata = self.source_metadata.get(event.source_id, "{}")
        return run_chain(chain, Transformed.untouched(event.payload), metadata)


def route_new_events() -> int:
    """Route unrouted events until none are left; returns how many were routed.

    At most ROUTER_PROCESSES routers run at once. Each ring during a run starts one more, and
    under a backlog they took every worker process, leaving none to the dispatchers (in
    bench-scale's million-event drain, nothing was sent for the two minutes of routing).
    """
    with slots.slot("switchyard:router", settings.ROUTER_PROCESSES) as held:
        if not held:
            return 0
        routed = route_until_done()
    if Event.objects.filter(routed_at__isnull=True).exists():
        doorbell.ring_router()  # rung while every slot was held, by a router now gone
    return routed


def route_until_done() -> int:
    table, read_at = routing_table(), time.monotonic()
    routed = 0
    while True:
        if time.monotonic() - read_at > TABLE_SECONDS:
            table, read_at = routing_table(), time.monotonic()
        with transaction.atomic():
            events = claim_unrouted_events()
            if not events:
                return routed
            mapping_ids = route_in_halves(events, table, timezone.now())
            transaction.on_commit(lambda ids=mapping_ids: doorbell.ring_dispatchers(ids))
        routed += len(events)


def route_in_halves(events: list[Unrouted], table: Table, now: datetime) -> set[int]:
    """Route the chunk; if it fails whole (a bug of the router's own, or a row the database
    refuses), route each half on its own, down to the one event that fails, which is given
    up on visibly (`give_up`). So no chunk is ever claimed again and again for the same
    failure, and the events beside a bad one are routed."""
    try:
        with transaction.atomic():
            return route_events(events, table, now)
    except Exception as error:
        log.exception("routing %d events failed; routing them in halves", len(events))
        metrics.count_router_errors({"chunk": 1})
        if len(events) == 1:
            return give_up(events[0], table, now, error)
    half = len(events) // 2
    return route_in_halves(events[:half], table, now) | route_in_halves(events[half:], table, now)


def give_up(event: Unrouted, table: Table, now: datetime, error: Exception) -> set[int]:
    """An event that cannot be routed even alone: a failed delivery per mapping its source
    feeds, saying why (to be replayed once fixed); if even those cannot be written, the event
    is marked routed with nothing, and the log and /metrics say so."""
    try:
        with transaction.atomic():
            failed = [routing_failed(event, route, now, error) for route in routes_of(event, table)]
            insert_deliveries(failed, ignore_conflicts=True)
            mark_routed([event], now)
    except Exception:
        log.exception("event %s could not be routed nor failed; it is marked routed", event.pk)
        metrics.count_router_errors({"dropped": 1})
        mark_routed([event], now)
    return set()


def routing_table() -> Table:
    mappings = (
        Mapping.objects.filter(enabled=True, destination__enabled=True)
        .select_related("destination")
        .prefetch_related("destination__sources")
        .order_by("destination", "pk")
    )
    chains = destination_chains()
    legs: dict[int, list[Leg]] = {}
    sources: dict[int, Source] = {}
    for destination, group in groupby(mappings, key=lambda mapping: mapping.destination):
        routes = [Route.of(mapping) for mapping in group]
        for source in destination.sources.all():
            sources[source.pk] = source
            metadata = orjson.dumps(leg_metadata(source, destination)).decode()
            leg = Leg(metadata, chains.get(destination.pk, ()), routes)
            legs.setdefault(source.pk, []).append(leg)
    source_metadata = {
        pk: orjson.dumps(leg_metadata(source)).decode() for pk, source in sources.items()
    }
    return Table(legs, source_chains(), source_metadata)


def leg_metadata(source: Source | None, destination: Destination | None = None) -> dict[str, str]:
    """RudderStack's metadata(event) fields that mean something here (ids as strings, as
    RudderStack's are); messageId is added per event."""
    metadata = {}
    if source is not None:
        metadata |= {"sourceId": str(source.pk), "sourceName": source.name}
    if destination is not None:
        metadata |= {
            "destinationId": str(destination.pk),
            "destinationName": destination.name,
            "destinationType": destination.kind,
        }
    return metadata


def claim_unrouted_events() -> list[Unrouted]:
    planner.in_index_order()  # event_unrouted is (id): a chunk, not the backlog, is read
    pending = Event.objects.filter(routed_at__isnull=True).order_by("id")
    claimed = pending.select_for_update(skip_locked=True)[:CHUNK]
    rows = claimed.values_list("id", "source_id", "received_at", Cast("payload", TextField()))
    return [unrouted(*row) for row in rows]


def route_events(events: list[Unrouted], table: Table, now: datetime) -> set[int]:
    """Create the deliveries of these events and mark them routed; returns the mapping ids
    that received deliveries. An exception in one event's path fails that event alone."""
    deliveries: list[NewDelivery] = []
    filtered: Counter[tuple[int, datetime, str]] = Counter()
    failed: dict[tuple[int, int], Failure] = {}
    errors = 0
    for event in events:
        try:
            made = route_event(event, table, now, filtered, failed)
        except Exception as error:
            # One line, no traceback: a hostile stream must not flood the log (the delivery
            # keeps the message; a chunk failing whole is logged in full).
            log.warning("event %s failed routing: %r", event.pk, error)
            made = [routing_failed(event, route, now, error) for route in routes_of(event, table)]
            errors += 1
        deliveries += made
    insert_deliveries(deliveries, ignore_conflicts=True)
    mark_routed(events, now)
    if errors:  # once a chunk: a Redis round trip per bad event was most of its cost
        metrics.count_router_errors({"event": errors})
    # Last, so the transaction holds the tallies' rows, which other routers add to, briefly.
    add_counts(FilteredCount, dict(sorted(filtered.items())), ("mapping_id", "hour", "reason"))
    tallies.count_received(events)
    record_failures(failed, now)
    return {d.mapping_id for d in deliveries if d.status == Delivery.Status.PENDING}


def route_event(
    event: Unrouted,
    table: Table,
    now: datetime,
    filtered: Counter[tuple[int, datetime, str]],
    failed: dict[tuple[int, int], Failure],
) -> list[NewDelivery]:
    """One event's deliveries; what it filtered and the transformations it failed are added to
    `filtered` and `failed` only once the whole event has routed."""
    if event.unreadable:
        raise ValueError(event.unreadable)
    made: list[NewDelivery] = []
    skipped: Counter[tuple[int, datetime, str]] = Counter()
    failures: dict[tuple[int, int], Failure] = {}
    legs = table.legs.get(event.source_id, ())
    at_source = table.at_source(event) if legs else None
    hour = hour_of(now)
    for leg in legs:
        transformed = run_chain(leg.chain, at_source, leg.metadata)
        if failure := transformed.failure:
            failures[(event.pk, failure.version_id)] = failure
        for route, outcome in route_leg(event, transformed, leg.routes):
            if isinstance(outcome, str):
                skipped[(route.mapping_id, hour, outcome)] += 1
            else:
                made.append(new_delivery(event, route, now, *outcome))
    filtered.update(skipped)
    failed.update(failures)
    return made


def routes_of(event: Unrouted, table: Table) -> list[Route]:
    return [route for leg in table.legs.get(event.source_id, ()) for route in leg.routes]


def route_leg(event: Event | Unrouted, transformed: Transformed, routes: list[Route]):
    """(route, why it takes nothing) or (route, (form, its failure or decision)) per mapping
    and form.

    A transformation that failed fails the event for every mapping (whose trigger cannot be
    asked of an event that does not exist), so that replaying them after a fix routes it again.
    """
    if transformed.failure:
        for route in routes:
            if integrations_allow(event.payload.get("integrations"), route):
                yield route, (None, transformed.failure)
            else:
                yield route, INTEGRATIONS
        return
    if not transformed.forms:
        for route in routes:
            yield route, "transformation"
    for form in transformed.forms:
        for route in routes:
            decision = decide(route, form.payload)
            yield route, decision.skipped or (form, decision)


def mark_routed(events: list[Unrouted], now: datetime) -> None:
    # The received_at bounds let PostgreSQL look only in the partitions that hold the chunk.
    received = [event.received_at for event in events]
    claimed = Event.objects.filter(received_at__range=(min(received), max(received)))
    claimed.filter(pk__in=[event.pk for event in events]).update(routed_at=now)
