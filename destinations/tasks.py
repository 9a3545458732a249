import logging

from celery import shared_task

from ingest.models import Event

log = logging.getLogger(__name__)


@shared_task(name="destinations.route")
def route() -> None:
    """Turn unrouted events into deliveries (the delivery engine fills this in)."""
    log.info("%d events wait for routing", Event.objects.filter(routed_at__isnull=True).count())


def kick_router() -> None:
    """Ring the router's doorbell; a lost ring costs latency, never events (they wait in the DB)."""
    try:
        route.apply_async()
    except Exception:
        log.warning("could not kick the router; the sweeper will pick the events up", exc_info=True)
