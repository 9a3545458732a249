"""The router under poison (issue 28): its throughput on a stream where one event in ten is
hostile, against the same stream clean. The target is at least 90 % of the clean rate: a bad
event fails alone (ROUTING_ERROR, or the transformation's code), cheaply, and never makes its
chunk fail whole and go round again.

The events are written straight into the table, as a table source or an older release could
have left them (the Tracking API now refuses the deepest at the door), then the router runs
in this process on the bench's database, to a webhook that sends the whole event (the mapping
that meets every poison) behind a destination transformation. Poison, in turn: properties
nested 300 levels deep (past what JSON can encode here), a URL no parser takes for the
webhook's address, and an answer of the transformation that is not events.

    BENCH_POISON_EVENTS (per run, default 20,000)
"""

import gc
import os
import time
from typing import Any

from django.db import connection
from django.utils import timezone

from bench.engines import EVENT

POISON_EVERY = 10
CODE = """export function transformEvent(event) {
  if (event.properties && event.properties.answer === "not events") return [42];
  return event;
}"""


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": True}
    for _ in range(depth):
        value = {"a": value}
    return value


POISONS = (
    {"deep": nested(300)},
    {"url": "http://[::1"},
    {"answer": "not events"},
)


def run() -> dict[str, Any]:
    events = int(os.environ.get("BENCH_POISON_EVENTS", "20000"))
    source = target()
    gc.freeze()  # as a worker process runs the router (project/celery.py)
    clean = routed_per_second(source, events, poisoned=False)
    poisoned = routed_per_second(source, events, poisoned=True)
    return {
        "router_clean_eps": round(clean),
        "router_poisoned_eps": round(poisoned),
        "router_poisoned_ratio": poisoned / clean,
        "router_poison": {"events": events, "poison_every": POISON_EVERY, "kinds": len(POISONS)},
    }


def target():
    """A source whose events go to a webhook sending the whole event, through a
    transformation; the webhook's URL comes from the event (a poison breaks it)."""
    from destinations.services.destinations import create_destination
    from destinations.services.transformations import create_transformation, set_destination_chain
    from ingest.sources import create_source

    source = create_source("bench: poison")[0]
    hook = create_destination("webhook", "bench poison hook", sources=[source])
    hook.mappings.create(
        name="Everything",
        action="send",
        trigger='type = "track"',
        fields={
            "url": {
                "@if": {
                    "exists": {"@path": "$.properties.url"},
                    "then": {"@path": "$.properties.url"},
                    "else": "https://example.com/hook",
                }
            },
            "method": "POST",
            "data": {"@path": "$."},
        },
    )
    set_destination_chain(hook, [create_transformation("bench poison", CODE, author="bench")])
    return source


def routed_per_second(source, count: int, poisoned: bool) -> float:
    from destinations.delivery.routing import route_new_events

    store(source, count, poisoned)
    started = time.perf_counter()
    routed = route_new_events()
    elapsed = time.perf_counter() - started
    assert routed == count, f"routed {routed} of {count}"
    return count / elapsed


def store(source, count: int, poisoned: bool) -> None:
    from ingest.models import Event

    now = timezone.now()
    rows = []
    for number in range(count):
        properties = dict(EVENT["properties"])
        if poisoned and number % POISON_EVERY == 0:
            properties |= POISONS[(number // POISON_EVERY) % len(POISONS)]
        payload = EVENT | {"messageId": f"poison-{poisoned}-{number}", "properties": properties}
        rows.append(
            Event(
                source=source,
                message_id=payload["messageId"],
                type="track",
                name=EVENT["event"],
                user_id=EVENT["userId"],
                timestamp=now,
                received_at=now,
                payload=payload,
            )
        )
    Event.objects.bulk_create(rows, batch_size=1000)
    connection.close()  # the router starts on a connection of its own, as a worker would
