"""What retention keeps past its time, for the delivery log's warning (docs/storage.md)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from ..delivery.retention import (
    DELIVERIES,
    EVENTS,
    Hold,
    expired_partitions,
    live_holds,
    unrouted_holds,
    within,
)


def held_partitions(now: datetime | None = None) -> list[Hold]:
    """Partitions past retention that unrouted events or live deliveries keep."""
    now = now or timezone.now()
    if connection.vendor != "postgresql":
        return []
    before = now - timedelta(days=settings.EVENT_RETENTION_DAYS)
    expired = expired_partitions(EVENTS, before)
    twins = [twin for p in expired for twin in within(p, DELIVERIES)]
    return unrouted_holds([p.name for p in expired]) + live_holds(twins, now)
