"""What the Braze tests share: the REST API key, the Track users path, the samples'
timestamp and properties, a Track users stand-in on pytest-httpserver, the event and
purchase objects Braze expects for sample events and orders, requests built without
sending, and the verdict on an object Braze refuses (test_braze*.py).
"""

from destinations.delivery.payloads import prepare
from destinations.integrations.base import Config, ItemResult, Outcome, Request
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import deliver

API_KEY = "braze-rest-key-0001"
HEADERS = {"Authorization": f"Bearer {API_KEY}"}
PATH = "/users/track"
STAMP = "2026-03-01T12:00:00.000Z"
PROPERTIES = {"endpoint": "/v1/search", "value": 3, "revenue": 12.5}
DELIVERED = ItemResult(Outcome.DELIVERED)


def send(httpserver, action, sample_events, fields=None, **settings):
    return deliver(
        httpserver,
        "braze",
        action,
        sample_events,
        settings={"base_url": httpserver.url_for("/"), **settings},
        secrets={"api_key": API_KEY},
        fields=fields,
    )


def braze_event(number: int) -> dict:
    return {
        "external_id": f"user-{number}",
        "name": "API Call",
        "time": STAMP,
        "properties": PROPERTIES,
        "_update_existing_only": False,
    }


def order(number: int, products: int) -> dict:
    items = [
        {"product_id": f"sku-{number}-{n}", "price": 10.0 + n, "quantity": n, "name": f"Item {n}"}
        for n in range(1, products + 1)
    ]
    properties = {"order_id": f"ord-{number}", "currency": "EUR", "products": items}
    return events.track(number, event="Order Completed", properties=properties)


def purchase(number: int, n: int) -> dict:
    return {
        "external_id": f"user-{number}",
        "time": STAMP,
        "product_id": f"sku-{number}-{n}",
        "currency": "EUR",
        "price": 10.0 + n,
        "quantity": n,
        "properties": {"name": f"Item {n}", "order_id": f"ord-{number}", "currency": "EUR"},
        "_update_existing_only": False,
    }


def built(action, event, fields=None, **settings) -> list[Request]:
    config = Config(settings, Secrets({"api_key": API_KEY}), "")
    payload = prepare(action, fields or action.default_fields(), event)
    return action.build(config, [payload])


def refused(index: int, array: str, message: str) -> ItemResult:
    return ItemResult(Outcome.FAILED, "BAD_REQUEST", f"Braze refused {array}[{index}]: {message}")
