"""Aggregations.io event ingest: https://www.aggregations.io/docs"""

from typing import Any
from urllib.parse import quote

from .base import Action, Config, ConnectionTest, Field, Kind, Request, Setting, json_request


def ingest_url(config: Config) -> str:
    return f"{config.base_url}/{quote(config['ingest_id'], safe='')}"


def api_url(config: Config) -> str:
    # The check lives on the app host, not the ingest host; a proxy or test server gets both.
    return config.base_url.replace("://ingest.aggregations.io", "://app.aggregations.io", 1)


def test_request(config: Config) -> Request:
    """The write-key ping Segment's Aggregations.io destination calls: it checks the key
    against the ingest and its array schema without sending an event."""
    query = f"ingest_id={quote(config['ingest_id'], safe='')}&schema=ARRAY_OF_EVENTS"
    url = f"{api_url(config)}/api/v1/organization/ping-w?{query}"
    return Request("GET", url, {"x-api-token": config["api_key"]}, b"", ())


def build_events(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
    # The ingest must be set up as "Array of JSON Objects" for this body to be accepted.
    body = [payload["data"] for payload in payloads]
    headers = {"x-api-token": config["api_key"]}
    return [json_request("POST", ingest_url(config), body, range(len(payloads)), headers)]


SEND_EVENTS = Action(
    key="send_events",
    title="Send events",
    description="Send events to an Aggregations.io ingest as a JSON array.",
    fields=(Field("data", "Data", "object", True, {"@path": "$."}),),
    build=build_events,
    batching=True,
    max_batch_size=300,
    default_batch_size=300,
    max_batch_bytes=1_000_000,
    default_trigger='type = "track" or type = "page" or type = "screen"',
)

KIND = Kind(
    key="aggregations_io",
    name="Aggregations.io",
    description="Events for Aggregations.io metrics and filters.",
    docs_url="https://www.aggregations.io/docs",
    default_base_url="https://ingest.aggregations.io",
    settings=(
        Setting(
            "api_key", "API key", "password", required=True, help="A key with write permission"
        ),
        Setting(
            "ingest_id",
            "Ingest ID",
            required=True,
            help="The ingest to send to, set up as an array of JSON objects",
        ),
    ),
    actions=(SEND_EVENTS,),
    connection_test=ConnectionTest(test_request),
)
