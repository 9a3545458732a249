"""What the Meta Conversions API tests share: the pixel, the token, sample shoppers and
orders, a Graph API stand-in on pytest-httpserver, and the events and request bodies Meta
expects (test_meta_conversions*.py).
"""

import hashlib

import orjson

from destinations.delivery.payloads import prepare
from destinations.delivery.transport import send_batch
from destinations.integrations import meta_conversions as meta
from destinations.integrations.base import Config, ItemResult, Outcome
from infra.encryption import Secrets
from tests.destinations.events import CONTEXT
from tests.destinations.integrations.contract import config_for, deliver

PIXEL = "1234567890"
TOKEN = "EAAB-meta-token"
PATH = f"/v26.0/{PIXEL}/events"
# 2026-03-01T12:00:00.000Z, the samples' timestamp, in seconds.
EVENT_TIME = 1_772_366_400
DELIVERED = ItemResult(Outcome.DELIVERED)
ACCEPTED = {"events_received": 1, "messages": [], "fbtrace_id": "AbC"}
USER_AGENT = "Mozilla/5.0 (Macintosh)"
SHOPPER = {
    "email": " Person@Example.com ",
    "phone": "+44 844 412 4653",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "address": {"city": "Menlo Park", "state": "CA", "postalCode": "94025-1234", "country": "US"},
}
SHOP_CONTEXT = {
    **CONTEXT,
    "traits": SHOPPER,
    "userAgent": USER_AGENT,
    "page": {"url": "https://shop.example/checkout"},
}
ORDER = {
    "order_id": "o-1",
    "currency": "EUR",
    "revenue": 20,
    "products": [{"product_id": "p-1", "price": 10, "quantity": 2}],
}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def send(httpserver, action, sample_events, fields=None, settings=None):
    return deliver(
        httpserver,
        "meta_conversions",
        action,
        sample_events,
        settings={"pixel_id": PIXEL, **(settings or {})},
        secrets={"access_token": TOKEN},
        fields=fields,
    )


def verdicts(httpserver, action, sample_events) -> list[ItemResult]:
    """The last verdict on each event, in the events' order, as the dispatcher keeps it."""
    config = config_for(httpserver, {"pixel_id": PIXEL}, {"access_token": TOKEN})
    spec = meta.KIND.action(action)
    payloads = [prepare(spec, spec.default_fields(), event) for event in sample_events]
    last = {}
    for item in send_batch(spec, config, payloads):
        last |= dict(zip(item.request.items, item.results, strict=True))
    return [last[index] for index in range(len(payloads))]


def graph(httpserver, answer=None, status=200, headers=None):
    httpserver.expect_request(PATH, method="POST").respond_with_json(
        answer or ACCEPTED, status=status, headers=headers
    )


def graph_error(code: int, message: str = "error", subcode: int | None = None) -> dict:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Xyz"}
    return {"error": error | ({"error_subcode": subcode} if subcode else {})}


def base_event(name: str, number: int = 1, user: str = "user-1") -> dict:
    return {
        "event_name": name,
        "event_time": EVENT_TIME,
        "event_id": f"msg-{number:04d}",
        "action_source": "website",
        "user_data": {"external_id": sha256(user), "client_ip_address": "203.0.113.7"},
    }


def request_body(data: list[dict]) -> dict:
    return {"data": data, "access_token": TOKEN}


def built(action, event: dict, fields: dict | None = None, settings: dict | None = None):
    config = Config({"pixel_id": PIXEL, **(settings or {})}, Secrets({"access_token": TOKEN}), "")
    payload = prepare(action, fields or action.default_fields(), event)
    return action.build(config, [payload])


def user_data_of(event: dict) -> dict:
    (request,) = built(meta.PAGE_VIEW, event)
    return orjson.loads(request.body)["data"][0]["user_data"]
