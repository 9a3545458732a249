"""The beat's round every second (docs/delivery.md, "The doorbell and the sweeper"): ring for all
due work and take back the batches of dead workers, so that a lost ring or a dead worker costs a
second at most."""

from django.db.models import Exists, OuterRef
from django.utils import timezone

from ingest.models import Event

from ..models import Delivery, Mapping
from . import doorbell
from .batching import DUE
from .leases import reclaim_expired_leases


def sweep() -> None:
    reclaim_expired_leases()
    if Event.objects.filter(routed_at__isnull=True).exists():
        doorbell.ring_router()
    doorbell.ring_dispatchers(mappings_with_due_work())


def mappings_with_due_work() -> list[int]:
    due = Delivery.objects.filter(
        mapping=OuterRef("pk"), status__in=DUE, next_attempt_at__lte=timezone.now()
    )
    ready = Mapping.objects.filter(enabled=True, destination__enabled=True).filter(Exists(due))
    return list(ready.values_list("pk", flat=True))
