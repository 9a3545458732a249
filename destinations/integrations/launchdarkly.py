"""LaunchDarkly custom and alias events: https://docs.launchdarkly.com/integrations/segment"""

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from destinations.mapping import js_text

from .base import Action, Builder, Config, Field, Kind, Preset, Request, Setting, json_request

DEFAULT_EVENTS_HOST = "events.launchdarkly.com"
DEFAULT_CONTEXT_KIND = "user"
HEADERS = {"X-LaunchDarkly-Event-Schema": "4"}
# No documented cap on events per bulk request was found; 100 keeps one request small.
BATCH_SIZE = 100


def events_url(config: Config) -> str:
    # A base URL set on purpose (a Relay Proxy, a test server) wins over the events host.
    origin = config.base_url if config.get("base_url") else f"https://{events_host(config)}"
    return f"{origin}/events/bulk/{quote(config['client_id'], safe='')}"


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
        return [json_request("POST", events_url(config), body, range(len(payloads)), HEADERS)]

    return build


def path(text: str) -> dict[str, str]:
    return {"@path": text}


def path_or(first: str, fallback: str) -> dict[str, Any]:
    return {"@if": {"exists": path(first), "then": path(first), "else": path(fallback)}}


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
    default_base_url=f"https://{DEFAULT_EVENTS_HOST}",
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
        ),
    ),
    actions=(TRACK_EVENT, ALIAS_USER),
    presets=(
        Preset("Track events", "track_event", TRACK_EVENT.default_trigger),
        Preset("Alias users", "alias_user", ALIAS_USER.default_trigger),
    ),
)
