"""Building a delivery scenario: a source, destinations on local sinks, events through the API."""

import time
from collections import Counter

import httpx

from destinations.models import Delivery, Destination
from destinations.services.destinations import create_destination
from ingest.models import Source

TRACK_TRIGGER = 'type = "track"'


def metronome(source: Source, sink_url: str, name: str = "Billing", **options) -> Destination:
    return connect(
        create_destination(
            "metronome", name, {"base_url": sink_url}, {"api_token": "tok"}, [source]
        ),
        options,
    )


def aggregations(source: Source, sink_url: str, name: str = "Analytics", **options) -> Destination:
    destination = create_destination(
        "aggregations_io",
        name,
        {"base_url": sink_url, "ingest_id": "ing"},
        {"api_key": "k"},
        [source],
    )
    destination.mappings.create(
        name="All tracks",
        action="send_events",
        trigger=TRACK_TRIGGER,
        fields={"data": {"@path": "$."}},
    )
    return connect(destination, options)


def webhook(
    source: Source, sink_url: str, name: str = "Hook", batch_size: int = 50, **options
) -> Destination:
    destination = create_destination("webhook", name, sources=[source])
    destination.mappings.create(
        name="Orders",
        action="send",
        trigger=TRACK_TRIGGER,
        batch_size=batch_size,
        fields={
            "url": f"{sink_url}/hook",
            "method": "POST",
            "data": {"@path": "$."},
            "enable_batching": True,
        },
    )
    return connect(destination, options)


def connect(destination: Destination, options: dict) -> Destination:
    for key, value in options.items():
        setattr(destination, key, value)
    destination.save()
    return destination


def send_events(
    base_url: str,
    source: Source,
    count: int,
    per_request: int = 100,
    prefix: str = "msg",
    pause: float = 0.0,
    **extra,
) -> list[str]:
    """Post `count` track events in batches, `pause` seconds apart; returns their messageIds."""
    ids = [f"{prefix}-{i:05d}" for i in range(count)]
    with httpx.Client(base_url=base_url, auth=(source.write_key, ""), timeout=30) as client:
        for start in range(0, count, per_request):
            batch = [
                {
                    "type": "track",
                    "event": "Order Completed",
                    "userId": f"user-{i % 17}",
                    "messageId": message_id,
                    "properties": {"total": i},
                    "context": {"groupId": "acme"},
                    **extra,
                }
                for i, message_id in enumerate(ids[start : start + per_request], start)
            ]
            response = client.post("/v1/batch", json={"batch": batch})
            assert response.json() == {"success": True}, response.text
            time.sleep(pause)
    return ids


def statuses(destination: Destination) -> Counter:
    return Counter(
        Delivery.objects.filter(destination=destination).values_list("status", flat=True)
    )


def all_delivered(*destinations: Destination, count: int) -> bool:
    return all(statuses(d) == Counter({"delivered": count}) for d in destinations)


def latencies(destination: Destination, message_ids: list[str]) -> list[float]:
    """Seconds from receivedAt to delivered, for these events' deliveries to the destination."""
    rows = Delivery.objects.filter(
        destination=destination, event__message_id__in=message_ids, status="delivered"
    ).values_list("delivered_at", "event_received_at")
    return sorted((delivered - received).total_seconds() for delivered, received in rows)


def p95(values: list[float]) -> float:
    return values[round(0.95 * (len(values) - 1))]


# --- For the service-level tests (no worker): messages stored through the ingest service,
# the router and dispatcher called in the test's own process, a doorbell that takes notes.


def track(number: int = 0, **overrides) -> dict:
    """A track message as an SDK sends it (the mapping of every scenario destination takes it)."""
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": f"user-{number}",
        "messageId": f"msg-{number:05d}",
        "properties": {"total": number},
        "context": {"groupId": "acme"},
    } | overrides


def ingest(source: Source, *messages: dict) -> None:
    """Store messages as one Tracking API batch request would, without HTTP."""
    from ingest.selectors import source_for_write_key
    from ingest.services import ingest_payload

    result = ingest_payload(
        source_for_write_key(source.write_key), {"batch": list(messages)}, None, "127.0.0.1"
    )
    assert result.accepted == len(messages), result.rejected


def ingest_and_route(source: Source, *messages: dict) -> None:
    from destinations.delivery.routing import route_new_events

    ingest(source, *messages)
    route_new_events()


def quiet_doorbell(monkeypatch) -> list[tuple[str, list, float]]:
    """Replace the doorbell's ring (Redis flag + Celery message) by a note of
    (task, args, delay) in the returned list."""
    from destinations.delivery import doorbell

    rings: list[tuple[str, list, float]] = []
    monkeypatch.setattr(
        doorbell, "_ring", lambda flag, task, args, delay=0.0: rings.append((task, args, delay))
    )
    return rings
