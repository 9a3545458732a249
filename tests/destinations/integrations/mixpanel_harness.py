"""What the Mixpanel tests share: the project token and secret, the /import path, Basic
credentials, delivery to a stand-in on pytest-httpserver, the event /import receives for a
sample track, and bodies and configs built without sending (test_mixpanel*.py).
"""

import base64

import orjson

from destinations.delivery.payloads import prepare
from destinations.integrations import mixpanel
from destinations.integrations.base import Config, ItemResult, Outcome
from destinations.models import Destination
from infra.encryption import Secrets
from tests.destinations.integrations.contract import deliver

TOKEN = "mp-token-0123"
SECRET = "mp-secret-4567"
# 2026-03-01T12:00:00.000Z, the samples' timestamp, in milliseconds.
TIME = 1772366400000
DELIVERED = ItemResult(Outcome.DELIVERED)
IMPORT = "/import?strict=1"


def basic(username: str, password: str = "") -> dict[str, str]:
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def send(httpserver, action, sample_events, secrets=None, **settings):
    """Deliver with the action's default fields (the Track, Identify and Group calls
    presets' fields) to the test server, with the project secret unless told otherwise."""
    settings = {"base_url": httpserver.url_for("/"), **settings}
    secrets = {"project_token": TOKEN, "api_secret": SECRET} if secrets is None else secrets
    fields = mixpanel.KIND.action(action).default_fields()
    return deliver(
        httpserver,
        "mixpanel",
        action,
        sample_events,
        settings=settings,
        secrets=secrets,
        fields=fields,
    )


def imported_event(number: int) -> dict:
    """What /import receives for events.track(number)."""
    return {
        "event": "API Call",
        "properties": {
            "time": TIME,
            "distinct_id": f"user-{number}",
            "$insert_id": f"msg-{number:04d}",
            "$device_id": f"anon-{number}",
            "$user_id": f"user-{number}",
            "$group_id": "acme-inc",
            "ip": "203.0.113.7",
            "endpoint": "/v1/search",
            "value": 3,
            "revenue": 12.5,
        },
    }


def built(action, event: dict, **settings) -> list:
    """The JSON body the action builds for one event, without sending it."""
    config = Config(settings, Secrets({"project_token": TOKEN, "api_secret": SECRET}), "")
    payload = prepare(action, action.default_fields(), event)
    return orjson.loads(action.build(config, [payload])[0].body)


def config_for(secrets=None, **settings) -> Config:
    """The config of a saved destination with these settings (defaults filled in)."""
    destination = Destination(kind="mixpanel", settings=settings)
    destination.set_secrets({"project_token": TOKEN} if secrets is None else secrets)
    return destination.config()
