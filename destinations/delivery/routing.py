"""The router: unrouted events become deliveries, one per mapping that wants them (SPEC §1).

Events are claimed in id order with SKIP LOCKED, so routers running side by side split the
work; each chunk's deliveries are inserted and its events marked routed in one transaction,
and the unique (event, mapping) key makes routing an event twice harmless.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.db import transaction
from django.utils import timezone

from infra.bulk import insert_rows
from infra.tallies import add_counts, hour_of
from ingest.models import Event

from .. import triggers
from ..integrations.base import Action
from ..models import Delivery, FilteredCount, Mapping
from . import doorbell, tallies
from .payloads import PayloadInvalid, prepare

CHUNK = 500


@dataclass(frozen=True)
class Route:
    """What routing needs of one enabled mapping, read once per router run.

    A mapping that cannot route (saved around validation, or an action an upgrade removed)
    carries its `problem` instead of a trigger: its events become failed deliveries that say
    why, to be replayed once it is fixed, and the other mappings route as usual.
    """

    mapping_id: int
    destination_id: int
    destination_name: str
    kind_name: str
    fields: dict[str, Any]
    trigger: triggers.Trigger | None = None
    action: Action | None = None
    problem: str = ""

    @classmethod
    def of(cls, mapping: Mapping) -> "Route":
        destination = mapping.destination
        common = {
            "mapping_id": mapping.pk,
            "destination_id": destination.pk,
            "destination_name": destination.name,
            "fields": mapping.fields,
        }
        try:
            return cls(
                **common,
                kind_name=destination.kind_spec.name,
                trigger=triggers.parse(mapping.trigger),
                action=mapping.action_spec,
            )
        except (KeyError, triggers.TriggerSyntaxError) as error:
            problem = f"the mapping cannot route events: {error}"
            return cls(**common, kind_name=destination.kind, problem=problem)


def route_new_events() -> int:
    """Route unrouted events until none are left; returns how many were routed."""
    routes = routes_by_source()
    routed = 0
    while True:
        with transaction.atomic():
            events = claim_unrouted_events()
            if not events:
                return routed
            mapping_ids = route_events(events, routes, timezone.now())
            transaction.on_commit(lambda ids=mapping_ids: doorbell.ring_dispatchers(ids))
        routed += len(events)


def routes_by_source() -> dict[int, list[Route]]:
    mappings = (
        Mapping.objects.filter(enabled=True, destination__enabled=True)
        .select_related("destination")
        .prefetch_related("destination__sources")
    )
    routes: dict[int, list[Route]] = {}
    for mapping in mappings:
        route = Route.of(mapping)
        for source in mapping.destination.sources.all():
            routes.setdefault(source.pk, []).append(route)
    return routes


def claim_unrouted_events() -> list[Event]:
    pending = Event.objects.filter(routed_at__isnull=True).order_by("id")
    claimed = pending.select_for_update(skip_locked=True)[:CHUNK]
    return list(claimed.only("id", "source_id", "received_at", "payload"))


def route_events(events: list[Event], routes: dict[int, list[Route]], now: datetime) -> set[int]:
    """Create the deliveries of these events and mark them routed; returns the mapping ids
    that received deliveries."""
    deliveries: list[Delivery] = []
    filtered: Counter[tuple[int, datetime, str]] = Counter()
    hour = hour_of(now)
    for event in events:
        integrations = event.payload.get("integrations")
        for route in routes.get(event.source_id, ()):
            if not integrations_allow(integrations, route):
                filtered[(route.mapping_id, hour, "integrations")] += 1
            elif route.trigger and not route.trigger.matches(event.payload):
                filtered[(route.mapping_id, hour, "trigger")] += 1
            else:
                deliveries.append(new_delivery(event, route, now))
    insert_deliveries(deliveries, ignore_conflicts=True)
    mark_routed(events, now)
    # Last, so the transaction holds the tallies' rows, which other routers add to, briefly.
    add_counts(FilteredCount, dict(sorted(filtered.items())), ("mapping_id", "hour", "reason"))
    tallies.count_received(events)
    return {d.mapping_id for d in deliveries if d.status == Delivery.Status.PENDING}


def mark_routed(events: list[Event], now: datetime) -> None:
    # The received_at bounds let PostgreSQL look only in the partitions that hold the chunk.
    received = [event.received_at for event in events]
    claimed = Event.objects.filter(received_at__range=(min(received), max(received)))
    claimed.filter(pk__in=[event.pk for event in events]).update(routed_at=now)


def integrations_allow(integrations: Any, route: Route) -> bool:
    """Segment's integrations object: by destination name, then kind name, then "All"; only an
    explicit false turns a destination off (an object of options keeps it on)."""
    if not isinstance(integrations, dict):
        return True
    for name in (route.destination_name, route.kind_name):
        if name in integrations:
            return integrations[name] is not False
    return integrations.get("All", True) is not False


def new_delivery(
    event: Event, route: Route, now: datetime, replay_of: Delivery | None = None, replay=False
) -> Delivery:
    """A pending delivery with its mapped payload, or a failed one saying why there is none."""
    delivery = Delivery(
        event_id=event.pk,
        event_received_at=event.received_at,
        mapping_id=route.mapping_id,
        destination_id=route.destination_id,
        created_at=now,
        next_attempt_at=now,
        replay=replay or replay_of is not None,
        replay_of=replay_of,
    )
    try:
        if route.problem:
            raise PayloadInvalid("MAPPING_INVALID", route.problem)
        delivery.payload = prepare(route.action, route.fields, event.payload)
    except PayloadInvalid as problem:
        delivery.status = Delivery.Status.FAILED
        delivery.error_code, delivery.error_message = problem.code, problem.message
        return delivery
    delivery.payload_bytes = len(orjson.dumps(delivery.payload))
    return delivery


# What a new delivery sets; the other columns start empty (NULL).
NEW_DELIVERY_FIELDS = (
    "event_id",
    "event_received_at",
    "mapping_id",
    "destination_id",
    "status",
    "payload",
    "payload_bytes",
    "attempts",
    "created_at",
    "next_attempt_at",
    "error_code",
    "error_message",
    "replay",
    "replay_of_id",
)


def insert_deliveries(deliveries: list[Delivery], ignore_conflicts: bool = False) -> None:
    """One INSERT (bulk_create's per-value escaping was most of the router's time); the
    deliveries born failed are outcomes of their destination's, and counted."""
    rows = ({name: getattr(d, name) for name in NEW_DELIVERY_FIELDS} for d in deliveries)
    insert_rows(Delivery, rows, ignore_conflicts=ignore_conflicts)
    tallies.count_born_failed(deliveries)
