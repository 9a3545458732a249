"""When a destination's circuit closes after an outage, what it refused is sent again at once.

While the circuit was open, deliveries that failed before it opened wait out their own
backoff, up to the retry cap (an hour by default), behind the events that arrived meanwhile.
Once the destination answers again there is nothing left to wait for: they become due at once,
in the order of their events (next_attempt_at back to when each was queued), so the drain
sends them first and at the destination's full rate. Retries of a destination whose circuit
never opened (one 503, a timeout) keep their backoff.

The rows are found through `delivery_due` (mapping, next_attempt_at > now) and moved a chunk
per transaction, so the cost is that of the rows moved, not of the backlog.
"""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from infra import planner

from ..models import Delivery, Mapping
from . import doorbell

CHUNK = 5000


def due_at_once(destination_id: int) -> int:
    """Make the destination's waiting retries due now, oldest first; returns how many."""
    moved = 0
    mapping_ids = list(
        Mapping.objects.filter(destination_id=destination_id).values_list("pk", flat=True)
    )
    for mapping_id in mapping_ids:
        while moved_now := move_chunk(mapping_id):
            moved += moved_now
    doorbell.ring_dispatchers(mapping_ids)
    return moved


def move_chunk(mapping_id: int) -> int:
    with transaction.atomic():
        planner.in_index_order()
        chunk = waiting_retries(mapping_id)
        Delivery.objects.of(chunk).filter(
            status=Delivery.Status.RETRYING, next_attempt_at__gt=timezone.now()
        ).update(next_attempt_at=F("created_at"))
    return len(chunk)


def waiting_retries(mapping_id: int) -> list[Delivery]:
    waiting = Delivery.objects.filter(
        mapping_id=mapping_id,
        status=Delivery.Status.RETRYING,
        next_attempt_at__gt=timezone.now(),
    ).order_by("next_attempt_at", "id")
    return list(waiting.only("id", "event_received_at")[:CHUNK])
