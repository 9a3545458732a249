"""What the Amplitude tests share: the API and secret keys, the samples' time, delivery with
the presets' fields to a stand-in on pytest-httpserver, the event HTTP V2 receives for a
sample track, and events, forms, configs and URLs read without sending (test_amplitude*.py).
"""

from urllib.parse import parse_qs

import orjson

from destinations.delivery.payloads import prepare
from destinations.integrations import amplitude
from destinations.integrations.base import Config, ItemResult, Outcome
from destinations.models import Destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import deliver

API_KEY = "amp-api-key-123"
SECRET_KEY = "amp-secret-456"
SECRETS = {"api_key": API_KEY, "secret_key": SECRET_KEY}
# 2026-03-01T12:00:00.000Z, the samples' timestamp.
TIME = 1772366400000
DELIVERED = ItemResult(Outcome.DELIVERED)
LOG_EVENT = amplitude.LOG_EVENT.default_fields()
FORM = "application/x-www-form-urlencoded"


def send(httpserver, action, sample_events, **settings):
    """Deliver with the action's default fields (those of the Track, Identify and Group
    calls presets) to the test server."""
    settings = {"base_url": httpserver.url_for("/"), **settings}
    fields = amplitude.KIND.action(action).default_fields()
    return deliver(
        httpserver,
        "amplitude",
        action,
        sample_events,
        settings=settings,
        secrets=SECRETS,
        fields=fields,
    )


def amplitude_event(number: int, **changes) -> dict:
    """The event sent for events.track(number) with the Track calls preset."""
    return {
        "user_id": f"user-{number}",
        "device_id": f"anon-{number}",
        "event_type": "API Call",
        "time": TIME,
        "insert_id": f"msg-{number:04d}",
        "event_properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
        "ip": "203.0.113.7",
        "revenue": 12.5,
        "revenueType": "Purchase",
    } | changes


def built_event(event: dict, **fields) -> dict:
    config = Config({}, Secrets(SECRETS), "")
    payload = prepare(amplitude.LOG_EVENT, LOG_EVENT | fields, event)
    return orjson.loads(amplitude.build_events(config, [payload])[0].body)["events"][0]


def form(request) -> dict[str, str]:
    assert request.headers["Content-Type"] == FORM
    return {key: values[0] for key, values in parse_qs(request.get_data().decode()).items()}


def config_for(**settings) -> Config:
    """The config of a saved destination with these settings (defaults filled in)."""
    destination = Destination(kind="amplitude", settings=settings)
    destination.set_secrets(SECRETS)
    return destination.config()


def url_of(action, **settings) -> str:
    sample = events.track() | {"groupId": "acme-inc"}
    payload = prepare(action, action.default_fields(), sample)
    return action.build(config_for(**settings), [payload])[0].url
