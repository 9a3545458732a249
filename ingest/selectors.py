import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from infra.tallies import hour_of

from .models import Event, Rejection, Source

MAX_CACHED_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class SourceRef:
    id: int
    name: str
    enabled: bool
    rate_limit: int | None
    # The write key's SHA-256: names the source's rate-limit counter in a Redis that other
    # installations (or test runs) may share, where ids would collide.
    key_digest: bytes


_cache: dict[bytes, tuple[float, SourceRef]] = {}
_cache_lock = threading.Lock()


def source_for_write_key(write_key: str) -> SourceRef | None:
    """The source a write key opens, remembered for SOURCE_CACHE_SECONDS.

    The cache is keyed by the key's digest, so lookups take the same time whatever prefix an
    attacker guesses right; unknown keys are not remembered (a new source works at once).
    Keys are ASCII (sources.WRITE_KEY_PATTERN): other text, a lone surrogate that neither
    hashing nor the database can encode included, opens nothing.
    """
    if not write_key.isascii():
        return None
    digest = hashlib.sha256(write_key.encode()).digest()
    now = time.monotonic()
    cached = _cache.get(digest)
    if cached and cached[0] > now:
        return cached[1]
    source = Source.objects.filter(write_key=write_key).first()
    if source is None or not hmac.compare_digest(source.write_key, write_key):
        return None
    ref = SourceRef(source.id, source.name, source.enabled, source.rate_limit, digest)
    with _cache_lock:
        if len(_cache) >= MAX_CACHED_KEYS:
            _cache.clear()
        _cache[digest] = (now + settings.SOURCE_CACHE_SECONDS, ref)
    return ref


@receiver([post_save, post_delete], sender=Source)
def forget_cached_sources(**_kwargs) -> None:
    with _cache_lock:
        _cache.clear()


@dataclass(frozen=True)
class RejectionSummary:
    code: str
    count: int
    latest_example: str


@dataclass(frozen=True)
class SourceActivity:
    received: int
    rejected: int
    rejections: list[RejectionSummary]


def source_activity(source: Source, since: datetime | None = None) -> SourceActivity:
    """Events received and rejected by a source (default: the last 24 hours), with each
    rejection reason's count and its latest example; two queries whatever the volume."""
    since = since or timezone.now() - timedelta(hours=24)
    received = Event.objects.filter(source=source, received_at__gte=since).count()
    recent = Rejection.objects.filter(source=source, hour__gte=hour_of(since))
    latest_example = recent.filter(code=OuterRef("code")).order_by("-hour").values("example")
    rows = (
        recent.values("code")
        .annotate(total=Sum("count"), example=Subquery(latest_example[:1]))
        .order_by("-total", "code")
    )
    rejections = [RejectionSummary(row["code"], row["total"], row["example"]) for row in rows]
    return SourceActivity(received, sum(r.count for r in rejections), rejections)


def latest_events(source_ids: list[int], limit: int, with_payload: bool = True) -> list[Event]:
    """The newest events of these sources, newest first (the event_source_received index)."""
    events = Event.objects.filter(source_id__in=source_ids).order_by("-received_at", "-id")
    if not with_payload:
        events = events.defer("payload")
    return list(events[:limit])


def event_payload(event_id: int, source_ids: list[int]) -> dict[str, Any] | None:
    """The stored message of one event, if it belongs to one of these sources."""
    return (
        Event.objects.filter(pk=event_id, source_id__in=source_ids)
        .values_list("payload", flat=True)
        .first()
    )
