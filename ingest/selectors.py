import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Sum
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from .models import Event, Rejection, Source

MAX_CACHED_KEYS = 10_000


@dataclass(frozen=True, slots=True)
class SourceRef:
    id: int
    name: str
    enabled: bool


_cache: dict[bytes, tuple[float, SourceRef]] = {}
_cache_lock = threading.Lock()


def source_for_write_key(write_key: str) -> SourceRef | None:
    """The source a write key opens, remembered for SOURCE_CACHE_SECONDS.

    The cache is keyed by the key's digest, so lookups take the same time whatever prefix an
    attacker guesses right; unknown keys are not remembered (a new source works at once).
    """
    digest = hashlib.sha256(write_key.encode()).digest()
    now = time.monotonic()
    cached = _cache.get(digest)
    if cached and cached[0] > now:
        return cached[1]
    source = Source.objects.filter(write_key=write_key).first()
    if source is None or not hmac.compare_digest(source.write_key, write_key):
        return None
    ref = SourceRef(source.id, source.name, source.enabled)
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
class SourceActivity:
    received: int
    rejected: int
    rejections_by_code: dict[str, int]


def source_activity(source: Source, since: datetime | None = None) -> SourceActivity:
    """Events received and rejected by a source (default: the last 24 hours)."""
    since = since or timezone.now() - timedelta(hours=24)
    received = Event.objects.filter(source=source, received_at__gte=since).count()
    by_code = dict(
        Rejection.objects.filter(source=source, hour__gte=since.replace(minute=0, second=0))
        .values_list("code")
        .annotate(total=Sum("count"))
        .order_by("-total")
    )
    return SourceActivity(received, sum(by_code.values()), by_code)
