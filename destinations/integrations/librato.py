"""Librato gauges, with the source-based metrics API: https://www.librato.com/docs/api/"""

import base64
import re
from typing import Any

from .base import (
    Action,
    Answer,
    Config,
    ConnectionTest,
    Field,
    ItemResult,
    Kind,
    Outcome,
    Preset,
    Request,
    Setting,
    json_request,
)
from .defaults import path, path_or

# Segment's integration-librato cleans names to these; Librato itself also allows ":".
NOT_ALLOWED_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")
NOT_ALLOWED_IN_SOURCE = re.compile(r"[^A-Za-z0-9.:_-]")
MAX_NAME_LENGTH = 255
# Librato answers a hit rate limit with 403 and "You have hit the API limit for ..." in the
# body (kb.librato.com/faq/errors/rate_limiting), not with 429.
RATE_LIMITED = re.compile(rb"api limit|rate limit", re.IGNORECASE)
# A gauge counts the event itself when the event carries no value of its own.
DEFAULT_VALUE = 1


def metrics_url(config: Config) -> str:
    return f"{config.base_url}/v1/metrics"


def auth(config: Config) -> dict[str, str]:
    credentials = base64.b64encode(f"{config['email']}:{config['token']}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def metric_name(name: str) -> str:
    return NOT_ALLOWED_IN_NAME.sub("-", name)[:MAX_NAME_LENGTH]


def source_name(source: str) -> str:
    return NOT_ALLOWED_IN_SOURCE.sub("-", source)[:MAX_NAME_LENGTH]


def gauge(payload: dict[str, Any]) -> dict[str, Any]:
    name = metric_name(payload["name"])
    return {
        "name": name,
        "value": payload.get("value", DEFAULT_VALUE),
        "measure_time": payload["measure_time"],
        "source": source_name(payload.get("source") or name),
    }


def build_gauges(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
    body = {"gauges": [gauge(payload) for payload in payloads]}
    return [json_request("POST", metrics_url(config), body, range(len(payloads)), auth(config))]


def read_error(answer: Answer) -> ItemResult | None:
    if answer.status == 403 and RATE_LIMITED.search(answer.body):
        message = f"HTTP 403: {answer.body[:500].decode('utf-8', errors='replace').strip()}"
        return ItemResult(Outcome.RETRY, "TOO_MANY_REQUESTS", message)
    return None


def test_request(config: Config) -> Request:
    # Reading metrics is allowed to record-only tokens too, so this proves only the credentials.
    return Request("GET", f"{metrics_url(config)}?length=1", auth(config), b"", ())


SEND_GAUGE = Action(
    key="send_gauge",
    title="Send gauge",
    description="Record a gauge measurement in Librato.",
    fields=(
        Field("name", "Metric name", "string", True, path("$.event")),
        Field("value", "Value", "number", False, path("$.properties.value"), "1 when missing."),
        Field(
            "measure_time",
            "Measure time",
            "datetime",
            True,
            path("$.timestamp"),
            datetime_format="epoch_s",
        ),
        Field(
            "source",
            "Source",
            "string",
            False,
            path_or(
                "$.integrations.Librato.source", "$.context.Librato.source", "$.context.source"
            ),
            "The metric name when missing or empty.",
        ),
    ),
    build=build_gauges,
    batching=True,
    # Librato's limit on measurements per request.
    max_batch_size=300,
    default_batch_size=300,
    default_trigger='type = "track"',
    read_error=read_error,
)

# Segment's facade: a page's full name is "category name" when both are set (JavaScript
# truthiness, hence "blank"), and its event is "Viewed <full name> Page" or "Loaded a Page".
PAGE_VIEW_NAME = {
    "@if": {
        "blank": path("$.name"),
        "then": {
            "@if": {
                "blank": path("$.category"),
                "then": {"@template": "Viewed {{category}} {{name}} Page"},
                "else": {"@template": "Viewed {{name}} Page"},
            }
        },
        "else": "Loaded a Page",
    }
}

KIND = Kind(
    key="librato",
    name="Librato",
    description="Events as Librato gauge measurements.",
    docs_url="https://www.librato.com/docs/api/",
    default_base_url="https://metrics-api.librato.com",
    settings=(
        Setting("email", "Email", required=True, help="The email address of the Librato account"),
        Setting("token", "API token", "password", required=True, help="A Librato API token"),
    ),
    actions=(SEND_GAUGE,),
    presets=(
        Preset("Track events", "send_gauge", 'type = "track"'),
        Preset(
            "Page views",
            "send_gauge",
            'type = "page"',
            {**SEND_GAUGE.default_fields(), "name": PAGE_VIEW_NAME},
        ),
    ),
    connection_test=ConnectionTest(test_request),
)
