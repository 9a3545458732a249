"""PostHog events and person properties through the batch capture endpoint:
https://posthog.com/docs/api/capture
"""

import uuid
from collections.abc import Callable
from typing import Any

import orjson

from .base import (
    Action,
    Builder,
    Config,
    ConnectionTest,
    Field,
    ItemResult,
    Kind,
    Outcome,
    Preset,
    Refusal,
    Request,
    Setting,
    json_request,
)
from .defaults import path, path_or

US_CLOUD = "https://us.i.posthog.com"
# PostHog's own Python SDK keeps a batch under 5 MiB ("the maximum request body size is
# currently 20MiB, let's be conservative") and drops a single event over 900 KiB
# (PostHog/posthog-python, posthog/consumer.py: BATCH_SIZE_LIMIT, MAX_MSG_SIZE).
MAX_BATCH_BYTES = 5 * 1024 * 1024
MAX_EVENT_BYTES = 900 * 1024
BATCH_SIZE = 100  # the SDKs' flush_at
MAX_BATCH_SIZE = 1000
# Derives an event's uuid from a messageId that is not a UUID itself.
MESSAGE_ID_NAMESPACE = uuid.UUID("0c6b8f3e-7d2a-4e51-9b7c-4f1e2a8d6c35")
CONNECTION_TEST_DISTINCT_ID = "switchyard-connection-test"

EventMaker = Callable[[dict[str, Any]], dict[str, Any]]


def origin(config: Config) -> str:
    # The advanced base URL, when someone set it, wins over the host setting (a proxy).
    host = config.base_url if config.get("base_url") else config.get("host")
    return (host or US_CLOUD).rstrip("/")


def event_uuid(message_id: str) -> str:
    """The event's uuid: the messageId itself when it is a UUID, else one derived from it.

    PostHog's capture reads `uuid` as a UUID and refuses the whole request (400) when one
    event's is not (rust/common/types event.rs RawEvent.uuid: Option<Uuid>). Segment's
    messageIds are often not UUIDs ("ajs-next-...", "msg-0001"), so those get a UUIDv5 of
    the messageId: the same event retried, or sent again, keeps its uuid, and PostHog's
    events table, deduplicated on the uuid, stores it once."""
    try:
        return str(uuid.UUID(message_id))
    except ValueError:
        return str(uuid.uuid5(MESSAGE_ID_NAMESPACE, message_id))


def envelope(payload: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The keys every captured event ends with: when it happened and its uuid."""
    if "timestamp" in payload:
        event["timestamp"] = payload["timestamp"]
    if payload.get("message_id"):
        event["uuid"] = event_uuid(payload["message_id"])
    return event


def captured_event(payload: dict[str, Any]) -> dict[str, Any]:
    properties = dict(payload.get("properties") or {})
    if payload.get("current_url"):
        properties["$current_url"] = payload["current_url"]
    if payload.get("screen_name"):
        properties["$screen_name"] = payload["screen_name"]
    if payload.get("anonymous_event"):
        # https://posthog.com/docs/api/capture "Events without person profiles".
        properties["$process_person_profile"] = False
    event = {
        "event": payload["event_name"],
        "distinct_id": payload["distinct_id"],
        "properties": properties,
    }
    return envelope(payload, event)


def identify_event(payload: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {"$set": payload.get("traits") or {}}
    if payload.get("anonymous_id") not in (None, "", payload["distinct_id"]):
        # Merges the anonymous person into the identified one, as posthog-js's identify()
        # does (PostHog's handbook, "Person processing": $identify with $anon_distinct_id).
        properties["$anon_distinct_id"] = payload["anonymous_id"]
    event = {"event": "$identify", "distinct_id": payload["distinct_id"], "properties": properties}
    return envelope(payload, event)


def refusal(make_event: EventMaker) -> Refusal:
    """Events PostHog's capture would refuse the whole batch for, or its SDKs drop."""

    def refuse(payload: dict[str, Any]) -> ItemResult | None:
        event = make_event(payload)
        if not str(event["event"]).strip():
            return invalid("the event name is empty; PostHog refuses a batch holding one")
        if not str(event["distinct_id"]).strip():
            return invalid("the distinct_id is blank; PostHog refuses a batch holding one")
        size = len(orjson.dumps(event))
        if size > MAX_EVENT_BYTES:
            return ItemResult(
                Outcome.FAILED,
                "PAYLOAD_TOO_LARGE",
                f"the event is {size} bytes, over PostHog's limit of 900 KiB per event",
            )
        return None

    return refuse


def invalid(message: str) -> ItemResult:
    return ItemResult(Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED", message)


def batch_builder(make_event: EventMaker) -> Builder:
    refuse = refusal(make_event)

    def build(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
        good = tuple(i for i, payload in enumerate(payloads) if refuse(payload) is None)
        if not good:
            return []
        body = {
            "api_key": config["api_key"],
            "historical_migration": bool(config.get("historical_migration")),
            "batch": [make_event(payloads[i]) for i in good],
        }
        return [json_request("POST", f"{origin(config)}/batch/", body, good)]

    return build


def test_request(config: Config) -> Request:
    """Feature flags for a made-up person: /flags checks the project API key against the
    project (401 for an unknown one) and records no event. /batch/ cannot tell: it checks
    only the key's form and answers 200 for any other key, whose events are then dropped
    (rust/capture api.rs TokenValidationError; rust/feature-flags FlagError)."""
    body = {"api_key": config["api_key"], "distinct_id": CONNECTION_TEST_DISTINCT_ID}
    return json_request("POST", f"{origin(config)}/flags?v=2", body, ())


TIMESTAMP = Field("timestamp", "Timestamp", "datetime", default=path("$.timestamp"))
MESSAGE_ID = Field(
    "message_id",
    "Message ID",
    "string",
    default=path("$.messageId"),
    description="Becomes the event's uuid, so PostHog stores a retried event once.",
)


def batch_action(
    key: str,
    title: str,
    description: str,
    fields: tuple[Field, ...],
    make_event: EventMaker,
    trigger: str,
) -> Action:
    return Action(
        key=key,
        title=title,
        description=description,
        fields=fields,
        build=batch_builder(make_event),
        batching=True,
        max_batch_size=MAX_BATCH_SIZE,
        default_batch_size=BATCH_SIZE,
        max_batch_bytes=MAX_BATCH_BYTES,
        default_trigger=trigger,
        refuse=refusal(make_event),
    )


CAPTURE_EVENT = batch_action(
    "capture_event",
    "Capture Event",
    "Capture an event, a pageview ($pageview) or a screen view ($screen).",
    (
        Field("event_name", "Event name", "string", True, path("$.event")),
        Field("distinct_id", "Distinct ID", "string", True, path_or("$.userId", "$.anonymousId")),
        Field("properties", "Properties", "object", default=path("$.properties")),
        Field(
            "current_url",
            "Current URL",
            "string",
            default=path("$.context.page.url"),
            description="Sent as $current_url, as PostHog's own SDKs send it.",
        ),
        Field("screen_name", "Screen name", "string", description="Sent as $screen_name."),
        Field(
            "anonymous_event",
            "Anonymous event",
            "boolean",
            default=False,
            description="Capture without a person profile ($process_person_profile: false).",
        ),
        TIMESTAMP,
        MESSAGE_ID,
    ),
    captured_event,
    'type = "track"',
)

IDENTIFY = batch_action(
    "identify",
    "Identify",
    "Set an identified person's properties ($identify with $set).",
    (
        Field("distinct_id", "Distinct ID", "string", True, path("$.userId")),
        Field(
            "anonymous_id",
            "Anonymous ID",
            "string",
            default=path("$.anonymousId"),
            description="Sent as $anon_distinct_id: PostHog merges that anonymous person "
            "into the identified one.",
        ),
        Field("traits", "Person properties", "object", default=path("$.traits")),
        TIMESTAMP,
        MESSAGE_ID,
    ),
    identify_event,
    # An identify without a userId has no identified person to set properties on.
    'type = "identify" and userId != null',
)

CAPTURE_DEFAULTS = CAPTURE_EVENT.default_fields()

KIND = Kind(
    key="posthog",
    name="PostHog",
    description="Events, pageviews and person properties for PostHog product analytics.",
    docs_url="https://posthog.com/docs/api/capture",
    # Empty, so the admin form never stores a base URL nobody typed: one that is set wins
    # over the host setting.
    default_base_url="",
    settings=(
        Setting(
            "api_key",
            "Project API key",
            "password",
            required=True,
            help="The project's API key (phc_...), from the project's settings.",
        ),
        Setting(
            "host",
            "Host",
            default=US_CLOUD,
            help="US Cloud https://us.i.posthog.com, EU Cloud https://eu.i.posthog.com, or "
            "your self-hosted instance's URL.",
            chooses_host=True,
        ),
        Setting(
            "historical_migration",
            "Historical migration",
            "boolean",
            default=False,
            help="Mark batches as a historical import (replays of old events), so PostHog "
            "ingests them apart from live traffic.",
        ),
    ),
    actions=(CAPTURE_EVENT, IDENTIFY),
    presets=(
        Preset("Track events", "capture_event", CAPTURE_EVENT.default_trigger),
        Preset(
            "Page views",
            "capture_event",
            'type = "page"',
            {**CAPTURE_DEFAULTS, "event_name": "$pageview"},
        ),
        Preset(
            "Screen views",
            "capture_event",
            'type = "screen"',
            {**CAPTURE_DEFAULTS, "event_name": "$screen", "screen_name": path("$.name")},
        ),
        Preset("Identify users", "identify", IDENTIFY.default_trigger),
    ),
    connection_test=ConnectionTest(test_request),
    orders_per_user=True,
)
