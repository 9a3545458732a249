"""LaunchDarkly custom and alias events: https://docs.launchdarkly.com/integrations/segment"""

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from destinations.mapping import js_text

from .base import (
    Action,
    Builder,
    Config,
    ConnectionTest,
    Field,
    Kind,
    Preset,
    Request,
    Setting,
    json_request,
)
from .defaults import path, path_or

DEFAULT_EVENTS_HOST = "events.launchdarkly.com"
DEFAULT_ORIGIN = f"https://{DEFAULT_EVENTS_HOST}"
DEFAULT_CONTEXT_KIND = "user"
SCHEMA_HEADER = {"X-LaunchDarkly-Event-Schema": "4"}
# No documented cap on events per bulk request was found; 100 keeps one request small.
BATCH_SIZE = 100
PAYLOAD_NAMESPACE = uuid.UUID("6f1d3a0c-5b7e-4c2a-9e84-2d51c0b7a9e3")


def events_url(config: Config) -> str:
    return f"{origin(config)}/events/bulk/{quote(config['client_id'], safe='')}"


def origin(config: Config) -> str:
    # A base URL set on purpose (a Relay Proxy, a test server) wins over the events host.
    # The default one does not: older admin forms saved it without being asked, and it
    # would send an EU account's events to the US instance.
    if config.get("base_url") and config.base_url != DEFAULT_ORIGIN:
        return config.base_url
    return f"https://{events_host(config)}"


def events_host(config: Config) -> str:
    return config.get("events_host") or DEFAULT_EVENTS_HOST


def custom_event(payload: dict[str, Any]) -> dict[str, Any]:
    event = {
        "kind": "custom",
        "key": payload["event_name"],
        "contextKeys": context_keys(payload),
        "creationDate": payload["timestamp"],
    }
    if "metric_value" in payload:
        event["metricValue"] = payload["metric_value"]
    event["data"] = payload.get("event_properties") or {}
    return event


def context_keys(payload: dict[str, Any]) -> dict[str, str]:
    additional = payload.get("additional_context_keys") or {}
    keys = {kind: js_text(key) for kind, key in additional.items() if key is not None}
    keys[payload.get("context_kind") or DEFAULT_CONTEXT_KIND] = payload["user_key"]
    return keys


def alias_event(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "alias",
        "key": payload["user_key"],
        "previousKey": payload["previous_key"],
        "contextKind": "user",
        "previousContextKind": "anonymousUser",
        "creationDate": payload["timestamp"],
    }


def bulk_builder(to_event: Callable[[dict[str, Any]], dict[str, Any]]) -> Builder:
    def build(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
        body = [to_event(payload) for payload in payloads]
        request = json_request("POST", events_url(config), body, range(len(payloads)))
        headers = {**SCHEMA_HEADER, "X-LaunchDarkly-Payload-ID": payload_id(request.body)}
        return [replace(request, headers=request.headers | headers)]

    return build


def payload_id(body: bytes) -> str:
    # LaunchDarkly's SDKs send a UUID per batch and repeat it on a retry, so that the events
    # service can drop a batch it already has. Theirs is random and kept in memory; ours is
    # derived from the body, which a retry rebuilds byte for byte from the same events.
    return str(uuid.uuid5(PAYLOAD_NAMESPACE, body.decode()))


def test_request(config: Config) -> Request:
    """HEAD on the environment's goals for the client-side SDK: 200 for a known client-side
    ID, 404 otherwise, as Segment's LaunchDarkly destination checks it. The events API has
    no call that checks an ID without recording events."""
    client_id = quote(config["client_id"], safe="")
    return Request("HEAD", f"{sdk_origin(config)}/sdk/goals/{client_id}", {}, b"", ())


def sdk_origin(config: Config) -> str:
    # LaunchDarkly's instances name their hosts alike: events.eu.launchdarkly.com has
    # clientsdk.eu.launchdarkly.com, events.launchdarkly.us has clientsdk.launchdarkly.us.
    events = origin(config)
    if events.startswith("https://events."):
        return "https://clientsdk." + events.removeprefix("https://events.")
    return events  # a Relay Proxy serves /sdk/goals too


# Required, so that a mapping can never leave creationDate to the time of sending: every
# stored event has a timestamp (the Tracking API falls back to receivedAt).
TIMESTAMP = Field("timestamp", "Timestamp", "datetime", True, path("$.timestamp"), "", "epoch_ms")

TRACK_EVENT = Action(
    key="track_event",
    title="Track event",
    description="Send a custom event, for LaunchDarkly metrics and experiments.",
    fields=(
        Field("context_kind", "Context kind", "string", False, DEFAULT_CONTEXT_KIND),
        Field("user_key", "Context key", "string", True, path_or("$.userId", "$.anonymousId")),
        Field(
            "additional_context_keys",
            "Additional context keys",
            "object",
            False,
            {"unauthenticatedUser": path("$.anonymousId")},
            "Other context kinds and their keys; keys are sent as strings.",
        ),
        Field("event_name", "Event name", "string", True, path("$.event")),
        Field(
            "metric_value",
            "Metric value",
            "number",
            False,
            path_or("$.properties.revenue", "$.properties.value"),
        ),
        Field("event_properties", "Event properties", "object", False, path("$.properties")),
        TIMESTAMP,
    ),
    build=bulk_builder(custom_event),
    batching=True,
    max_batch_size=BATCH_SIZE,
    default_batch_size=BATCH_SIZE,
    default_trigger='type = "track"',
)

ALIAS_USER = Action(
    key="alias_user",
    title="Alias user",
    description="Tie an anonymous user's key to the identified user's key.",
    fields=(
        Field("user_key", "User key", "string", True, path("$.userId")),
        Field(
            "previous_key",
            "Previous key",
            "string",
            True,
            path_or("$.previousId", "$.anonymousId"),
        ),
        TIMESTAMP,
    ),
    build=bulk_builder(alias_event),
    batching=True,
    max_batch_size=BATCH_SIZE,
    default_batch_size=BATCH_SIZE,
    default_trigger='type = "identify" or type = "alias"',
)

KIND = Kind(
    key="launchdarkly",
    name="LaunchDarkly",
    description="Segment events as custom metric events for LaunchDarkly experiments.",
    docs_url="https://docs.launchdarkly.com/integrations/segment",
    default_base_url=DEFAULT_ORIGIN,
    settings=(
        Setting(
            "client_id",
            "Client-side ID",
            required=True,
            help="The environment's client-side ID (not a secret), from LaunchDarkly's settings",
        ),
        Setting(
            "events_host",
            "Events host",
            default=DEFAULT_EVENTS_HOST,
            help="The host that receives events, e.g. for another LaunchDarkly instance",
            chooses_host=True,
        ),
    ),
    actions=(TRACK_EVENT, ALIAS_USER),
    presets=(
        Preset("Track events", "track_event", TRACK_EVENT.default_trigger),
        Preset("Alias users", "alias_user", ALIAS_USER.default_trigger),
    ),
    connection_test=ConnectionTest(test_request),
    orders_per_user=True,
)
