"""Claiming a batch of due deliveries for one request (SPEC §1, §5.3, §5.6).

Claims are made under a lock on the destination's state row, which serializes them per
destination: that is where the concurrency cap, the rate limit and the circuit breaker are
enforced. The claimed rows move to `in_flight` with a lease and the transaction commits
before any HTTP call; a worker that dies leaves a lease that the sweeper reclaims.
"""

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..integrations.base import Action, Config
from ..models import Delivery, Destination, DestinationState, Mapping
from . import doorbell, tallies
from .retries import MIN_ATTEMPTS_BEFORE_GIVING_UP

DUE = (Delivery.Status.PENDING, Delivery.Status.RETRYING)
WORKER_LOST = "WORKER_LOST"


@dataclass(frozen=True)
class Batch:
    claim: uuid.UUID
    mapping: Mapping
    destination: Destination
    action: Action
    config: Config
    deliveries: list[Delivery]
    probe: bool


def claim_batch(mapping_id: int) -> Batch | None:
    """Claim the mapping's next batch if one is ready and the destination may take it."""
    with transaction.atomic():
        mapping = Mapping.objects.select_related("destination").filter(pk=mapping_id).first()
        if mapping is None or not (mapping.enabled and mapping.destination.enabled):
            return None
        destination = mapping.destination
        state = lock_state(destination)
        now = timezone.now()
        probe = circuit_allows(state, now)
        if probe is None or in_flight_requests(destination, now) >= destination.max_concurrency:
            return None
        size = 1 if probe else mapping.effective_batch_size
        due = due_deliveries(mapping, size)
        deliveries = within_byte_limit(due, mapping.action_spec.max_batch_bytes)
        # Full by count or by bytes (some due deliveries did not fit): it goes now.
        full = probe or len(due) >= size or len(deliveries) < len(due)
        if not due or not batch_ready(mapping, due, full, now):
            return None
        if not rate_allows(destination, state, now):
            doorbell.ring_dispatcher_at(mapping.pk, state.next_request_at)
            return None
        claim = uuid.uuid4()
        lease = now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
        Delivery.objects.of(deliveries).update(
            status=Delivery.Status.IN_FLIGHT, claim=claim, lease_expires_at=lease
        )
        state.probing = probe
        state.save()
    return Batch(
        claim, mapping, destination, mapping.action_spec, destination.config(), deliveries, probe
    )


def lock_state(destination: Destination) -> DestinationState:
    DestinationState.objects.get_or_create(destination=destination)
    return DestinationState.objects.select_for_update().get(destination=destination)


def circuit_allows(state: DestinationState, now: datetime) -> bool | None:
    """None: the circuit is open (paused) or a probe is out; True: send one probe; False:
    closed, send as usual."""
    if state.paused_until is None:
        return False
    if state.probing or now < state.paused_until:
        return None
    return True


def in_flight_requests(destination: Destination, now: datetime) -> int:
    held = Delivery.objects.filter(
        destination=destination, status=Delivery.Status.IN_FLIGHT, lease_expires_at__gt=now
    )
    return held.values("claim").distinct().count()


def due_deliveries(mapping: Mapping, size: int) -> list[Delivery]:
    due = Delivery.objects.filter(
        mapping=mapping, status__in=DUE, next_attempt_at__lte=timezone.now()
    ).order_by("next_attempt_at", "id")
    fields = (
        "id",
        "event_id",
        "event_received_at",
        "payload",
        "payload_bytes",
        "attempts",
        "first_attempt_at",
        "next_attempt_at",
        "replay",
    )
    return list(due.select_for_update(skip_locked=True).only(*fields)[:size])


def batch_ready(mapping: Mapping, due: list[Delivery], full: bool, now: datetime) -> bool:
    """A batch goes when full or when its oldest delivery has waited the flush interval."""
    if full:
        return True
    flush_at = min(d.next_attempt_at for d in due) + timedelta(seconds=mapping.flush_interval)
    if flush_at <= now:
        return True
    doorbell.ring_dispatcher_at(mapping.pk, flush_at)
    return False


def rate_allows(destination: Destination, state: DestinationState, now: datetime) -> bool:
    """Token spacing: each request takes the next free slot, 1/rate seconds apart."""
    if not destination.rate_limit:
        return True
    slot = max(now, state.next_request_at or now)
    if slot > now:
        state.next_request_at = slot
        return False
    state.next_request_at = slot + timedelta(seconds=1 / destination.rate_limit)
    return True


def within_byte_limit(due: list[Delivery], max_bytes: int | None) -> list[Delivery]:
    """The longest prefix whose payloads fit in max_bytes (at least one delivery)."""
    if not max_bytes:
        return due
    total = 1  # "[" and "]", less the comma the last item does without
    for count, delivery in enumerate(due):
        total += delivery.payload_bytes + 1  # the item and its comma
        if total > max_bytes and count:
            return due[:count]
    return due


def reclaim_expired_leases() -> int:
    """Put the batches of dead workers back in line; returns how many deliveries.

    A lapsed lease counts as an attempt, so that a batch that kills its worker every time
    still reaches the give-up rule instead of going round forever.
    """
    now = timezone.now()
    with transaction.atomic():
        expired = Delivery.objects.filter(
            status=Delivery.Status.IN_FLIGHT, lease_expires_at__lte=now
        ).select_for_update(skip_locked=True)
        rows = list(expired.values_list("pk", "destination_id"))
        pks = [pk for pk, _ in rows]
        Delivery.objects.filter(pk__in=pks).update(
            status=Delivery.Status.RETRYING,
            attempts=F("attempts") + 1,
            first_attempt_at=Coalesce(F("first_attempt_at"), Value(now)),
            last_attempt_at=now,
            next_attempt_at=now,
            claim=None,
            lease_expires_at=None,
            error_code=WORKER_LOST,
            error_message="the worker sending this delivery stopped before it knew the outcome",
        )
        failed = set(past_retry_window(pks, now))
        Delivery.objects.filter(pk__in=failed).update(status=Delivery.Status.FAILED)
        status = Delivery.Status
        outcomes = Counter(
            (destination_id, status.FAILED if pk in failed else status.RETRYING)
            for pk, destination_id in rows
        )
        tallies.count_outcomes(outcomes, now)
        # A probe whose worker died must not hold the circuit shut forever.
        stale_probes = DestinationState.objects.filter(probing=True).exclude(
            destination__deliveries__status=Delivery.Status.IN_FLIGHT
        )
        stale_probes.update(probing=False)
    return len(pks)


def past_retry_window(pks: list[int], now: datetime) -> list[int]:
    rows = Delivery.objects.filter(pk__in=pks, attempts__gte=MIN_ATTEMPTS_BEFORE_GIVING_UP)
    return [
        pk
        for pk, first, window in rows.values_list(
            "pk", "first_attempt_at", "destination__retry_window_seconds"
        )
        if now - first >= timedelta(seconds=window)
    ]
