"""Retention (SPEC §2.7): every hour the beat deletes events (with their deliveries) and
attempts older than their retention, a chunk at a time."""

import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ingest.models import Event

from ..models import Delivery, DeliveryAttempt

PURGE_CHUNK = 5000
PURGE_SECONDS = 240


def purge_expired() -> dict[str, int]:
    """Delete events (with their deliveries) and attempts past retention, a chunk at a time
    so no statement holds locks for long; returns how many rows of each went."""
    now = timezone.now()
    deadline = time.monotonic() + PURGE_SECONDS
    events_before = now - timedelta(days=settings.EVENT_RETENTION_DAYS)
    attempts_before = now - timedelta(days=settings.ATTEMPT_RETENTION_DAYS)
    return {
        "attempts": purge(DeliveryAttempt.objects.filter(started_at__lt=attempts_before), deadline),
        # An event whose delivery is in flight waits for the outcome to be recorded.
        "events": purge(
            Event.objects.filter(received_at__lt=events_before).exclude(
                deliveries__status=Delivery.Status.IN_FLIGHT
            ),
            deadline,
        ),
    }


def purge(queryset, deadline: float) -> int:
    removed = 0
    while time.monotonic() < deadline:
        chunk = list(queryset.order_by("pk").values_list("pk", flat=True)[:PURGE_CHUNK])
        if not chunk:
            break
        queryset.model.objects.filter(pk__in=chunk).delete()
        removed += len(chunk)
    return removed
