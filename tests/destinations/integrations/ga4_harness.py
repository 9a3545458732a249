"""What the Google Analytics 4 tests share: the stream's measurement ID and API secret, the
collect path, a sample page, product and order, a Measurement Protocol stand-in on
pytest-httpserver, the events and request bodies GA4 expects, and the verdicts and refusals
of the custom event action (test_ga4*.py).
"""

import orjson

from destinations.delivery.payloads import prepare
from destinations.delivery.transport import send_batch
from destinations.integrations import ga4
from destinations.integrations.base import ItemResult, Outcome
from tests.destinations.events import CONTEXT
from tests.destinations.integrations.contract import config_for, deliver

MEASUREMENT_ID = "G-TEST123"
SECRET = "mp-secret-123"
PATH = f"/mp/collect?measurement_id={MEASUREMENT_ID}&api_secret={SECRET}"
# 2026-03-01T12:00:00.000Z, the samples' timestamp, in microseconds.
MICROS = 1_772_366_400_000_000
DELIVERED = ItemResult(Outcome.DELIVERED)
PAGE_CONTEXT = {
    **CONTEXT,
    "page": {
        "url": "https://shop.example/mugs",
        "referrer": "https://search.example/",
        "title": "Mugs",
    },
}
MUG = {"product_id": "p-1", "name": "Mug", "price": 10, "quantity": 2}
ORDER = {"order_id": "o-1", "currency": "EUR", "total": 20, "tax": 2, "products": [MUG]}
CUSTOM = ga4.CUSTOM_EVENT.default_fields()


def send(httpserver, action, sample_events, fields=None, settings=None):
    return deliver(
        httpserver,
        "ga4",
        action,
        sample_events,
        settings={"stream_id": MEASUREMENT_ID, **(settings or {})},
        secrets={"api_secret": SECRET},
        fields=fields,
    )


def collect(httpserver, status=204):
    httpserver.expect_request("/mp/collect", method="POST").respond_with_data("", status=status)


def api_call(number: int = 1, **params) -> dict:
    return {
        "name": "API_Call",
        "params": {"engagement_time_msec": 1, **params},
        "timestamp_micros": MICROS,
    }


def body(events_sent: list[dict], client: str = "anon-1", user: str | None = "user-1") -> dict:
    identity = {"client_id": client} | ({"user_id": user} if user else {})
    return {**identity, "events": events_sent}


def sent_bodies(received) -> list[dict]:
    return [orjson.loads(request.get_data()) for request in received]


def verdicts(httpserver, sample_events) -> list[ItemResult]:
    """Each event's verdict, in the events' order (refused ones come after the sent ones)."""
    config = config_for(httpserver, {"stream_id": MEASUREMENT_ID}, {"api_secret": SECRET})
    payloads = [prepare(ga4.CUSTOM_EVENT, CUSTOM, event) for event in sample_events]
    found = {}
    for item in send_batch(ga4.CUSTOM_EVENT, config, payloads):
        found |= dict(zip(item.request.items, item.results, strict=True))
    return [found[index] for index in range(len(payloads))]


def refusal(event: dict, fields: dict = CUSTOM, action=ga4.CUSTOM_EVENT) -> ItemResult | None:
    return action.refuse(prepare(action, fields, event))
