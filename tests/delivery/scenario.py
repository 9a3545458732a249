"""Building a delivery scenario: a source, destinations on local sinks, events through the API."""

from collections import Counter

import httpx

from destinations.models import Delivery, Destination
from destinations.services import create_destination
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
    base_url: str, source: Source, count: int, per_request: int = 100, **extra
) -> list[str]:
    """Post `count` track events in batches; returns their messageIds."""
    ids = [f"msg-{i:05d}" for i in range(count)]
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
    return ids


def statuses(destination: Destination) -> Counter:
    return Counter(
        Delivery.objects.filter(destination=destination).values_list("status", flat=True)
    )


def all_delivered(*destinations: Destination, count: int) -> bool:
    return all(statuses(d) == Counter({"delivered": count}) for d in destinations)
