"""Taking back the deliveries of a worker that died mid-request (docs/delivery.md, "Claims
and leases"): a lapsed lease puts its batch back in line, and counts as an attempt."""

from collections import Counter
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import Delivery, DestinationState
from . import holds, tallies
from .retries import MIN_ATTEMPTS_BEFORE_GIVING_UP

WORKER_LOST = "WORKER_LOST"


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
        rows = list(expired.values_list("pk", "destination_id", "lane"))
        pks = [pk for pk, _, _ in rows]
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
            for pk, destination_id, _ in rows
        )
        for destination_id, lane in {(d, lane) for pk, d, lane in rows if pk in failed}:
            holds.after_finishing(destination_id, [lane])
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
