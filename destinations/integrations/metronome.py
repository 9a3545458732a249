"""Metronome usage-based billing: https://docs.metronome.com/api/#ingest"""

from typing import Any

from .base import (
    Action,
    Config,
    ConnectionTest,
    Field,
    Kind,
    Preset,
    Request,
    Setting,
    json_request,
)


def ingest_url(config: Config) -> str:
    return f"{config.base_url}/v1/ingest"


def auth(config: Config) -> dict[str, str]:
    return {"Authorization": f"Bearer {config['api_token']}"}


def build_ingest(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
    # transaction_id is Metronome's idempotency key, so a retried batch never double-counts.
    return [json_request("POST", ingest_url(config), payloads, range(len(payloads)), auth(config))]


def test_request(config: Config) -> Request:
    return json_request("POST", ingest_url(config), [], (), auth(config))


SEND_EVENT = Action(
    key="send_event",
    title="Send event",
    description="Send a usage event to Metronome's ingest API.",
    fields=(
        Field("transaction_id", "Transaction ID", "string", True, {"@path": "$.messageId"}),
        Field("customer_id", "Customer ID", "string", True, {"@path": "$.context.groupId"}),
        Field("timestamp", "Timestamp", "datetime", True, {"@path": "$.timestamp"}),
        Field("event_type", "Event type", "string", True, {"@path": "$.event"}),
        # Optional in Metronome's ingest API; an event without them is sent without the key.
        Field("properties", "Properties", "object", False, {"@path": "$.properties"}),
    ),
    build=build_ingest,
    batching=True,
    max_batch_size=100,
    default_batch_size=100,
    default_trigger='type = "track"',
)

KIND = Kind(
    key="metronome",
    name="Metronome",
    description="Usage events for Metronome's usage-based billing.",
    docs_url="https://docs.metronome.com/api/#ingest",
    default_base_url="https://api.metronome.com",
    settings=(
        Setting("api_token", "API token", "password", required=True, help="Metronome API token"),
    ),
    actions=(SEND_EVENT,),
    presets=(Preset("Send track events", "send_event", 'type = "track"'),),
    # An empty batch is refused with 400 when the token is good and 403 when it is not.
    connection_test=ConnectionTest(test_request, frozenset({*range(200, 300), 400})),
)
