import logging
import time

from celery import shared_task

from ingest.models import Event

log = logging.getLogger(__name__)

# After a failed kick, requests stop ringing for a while: each attempt against a broker that
# is away costs the caller a connection timeout, and the sweeper finds the events anyway.
KICK_PAUSE_SECONDS = 5.0
_kicks_paused_until = 0.0


@shared_task(name="destinations.route")
def route() -> None:
    """Turn unrouted events into deliveries (the delivery engine fills this in)."""
    log.info("%d events wait for routing", Event.objects.filter(routed_at__isnull=True).count())


def kick_router() -> None:
    """Ring the router's doorbell; a lost ring costs latency, never events (they wait in the DB)."""
    global _kicks_paused_until
    if time.monotonic() < _kicks_paused_until:
        return
    try:
        route.apply_async()
    except Exception:
        _kicks_paused_until = time.monotonic() + KICK_PAUSE_SECONDS
        log.warning("could not kick the router; the sweeper will pick the events up", exc_info=True)
