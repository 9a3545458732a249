"""Segment-compatible forwarder: messages to a Tracking API's /batch endpoint (docs/destinations.md,
"Segment-compatible API").

The receiver may be Segment itself, RudderStack's data plane or another Switchyard: all take
`POST <endpoint>/batch` with HTTP Basic `write_key:` and `{"batch": [...], "sentAt"}`.
https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/#batch
"""

from base64 import b64encode
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from .base import (
    Action,
    Answer,
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

DEFAULT_ENDPOINT = "https://api.segment.io/v1"
# Segment refuses batch requests over 500 KB (HTTP Tracking API, "Max request size"); the
# margin leaves room for the envelope and the "type" the builder adds to every message.
MAX_BATCH_BYTES = 450_000
# Segment's per-message limit (HTTP Tracking API, "Max request size"), measured on the
# message's JSON as it goes in the batch.
MAX_MESSAGE_BYTES = 32 * 1024
SEGMENT_HOSTS = ("api.segment.io", "events.eu1.segmentapis.com")
# Where Segment's own destination checks a write key: one CDN for every region.
SEGMENT_CDN = "https://cdn.segment.com/v1"


def path(key: str) -> dict[str, str]:
    return {"@path": f"$.{key}"}


def common_fields(user_id_required: bool = False) -> tuple[Field, ...]:
    """What every message carries; messageId goes as it came, so the receiver's dedup makes
    a batch sent twice (at-least-once delivery) harmless."""
    return (
        Field("userId", "User ID", "string", user_id_required, path("userId")),
        Field("anonymousId", "Anonymous ID", "string", default=path("anonymousId")),
        Field("messageId", "Message ID", "string", True, path("messageId")),
        Field("timestamp", "Timestamp", "datetime", default=path("timestamp")),
        Field("context", "Context", "object", default=path("context")),
        # Not forwarded by default: the integrations object that routed an event here would
        # also switch off the receiver's own destinations. Map it to steer them on purpose.
        Field("integrations", "Integrations", "object"),
    )


def batch_url(config: Config) -> str:
    # The advanced base URL, when someone set it, wins over the endpoint setting.
    endpoint = config.base_url if config.get("base_url") else config.get("endpoint")
    return f"{(endpoint or DEFAULT_ENDPOINT).rstrip('/')}/batch"


def auth(config: Config) -> dict[str, str]:
    credentials = b64encode(f"{config['write_key']}:".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def refusal(message_type: str) -> Refusal:
    """Why a message would make the receiver refuse its whole batch, or None."""

    def refuse(payload: dict[str, Any]) -> ItemResult | None:
        if not payload.get("userId") and not payload.get("anonymousId"):
            message = "a message needs a userId or an anonymousId; it has neither"
            return ItemResult(Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED", message)
        size = len(orjson.dumps({"type": message_type, **payload}))
        if size > MAX_MESSAGE_BYTES:
            message = f"the message is {size} bytes, over the receiver's limit of 32 KB"
            return ItemResult(Outcome.FAILED, "PAYLOAD_TOO_LARGE", message)
        return None

    return refuse


def batch_builder(message_type: str) -> Builder:
    refuse = refusal(message_type)

    def build(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
        good = tuple(i for i, payload in enumerate(payloads) if refuse(payload) is None)
        if not good:
            return []
        messages = [{"type": message_type, **payloads[i]} for i in good]
        # sentAt is the moment of sending (each retry anew): the receiver corrects clock skew
        # with it (timestamp = receivedAt - (sentAt - originalTimestamp)).
        body = {"batch": messages, "sentAt": now_iso()}
        return [json_request("POST", batch_url(config), body, good, auth(config))]

    return build


def test_request(config: Config) -> Request:
    """Segment's Tracking API takes any write key, so for Segment this asks its CDN for the
    source's settings, as Segment's own destination does (404 for an unknown key). Other
    receivers get an empty batch: it carries no event, and Switchyard and RudderStack check
    the write key before anything else (401)."""
    url = batch_url(config)
    if urlsplit(url).hostname in SEGMENT_HOSTS:
        settings_url = f"{SEGMENT_CDN}/projects/{quote(config['write_key'], safe='')}/settings"
        return Request("GET", settings_url, {}, b"", ())
    return json_request("POST", url, {"batch": [], "sentAt": now_iso()}, (), auth(config))


def read_rejections(answer: Answer, item_count: int) -> list[ItemResult] | None:
    """Per-item results from `{"success": true, "rejected": [{"index", "code"}]}`, the 2xx
    answer of a Switchyard (docs/tracking-api.md, "Answers"); None for any other answer, which then
    counts whole."""
    if not 200 <= answer.status < 300:
        return None
    try:
        reply = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(reply, dict) or reply.get("success") is not True:
        return None
    rejected = reply.get("rejected")
    if not isinstance(rejected, list):
        return None
    results = [ItemResult(Outcome.DELIVERED)] * item_count
    for rejection in rejected:
        index = rejection.get("index") if isinstance(rejection, dict) else None
        if type(index) is int and 0 <= index < item_count:
            code = str(rejection.get("code") or "REJECTED")
            message = f"the receiving API dropped this message ({code})"
            results[index] = ItemResult(Outcome.FAILED, code, message)
    return results


def send_action(
    message_type: str, fields: tuple[Field, ...], user_id_required: bool = False
) -> Action:
    return Action(
        key=f"send_{message_type}",
        title=f"Send {message_type}",
        description=f"Forward {message_type} messages to a Segment-compatible Tracking API.",
        fields=common_fields(user_id_required) + fields,
        build=batch_builder(message_type),
        batching=True,
        max_batch_size=500,
        default_batch_size=100,
        max_batch_bytes=MAX_BATCH_BYTES,
        default_trigger=f'type = "{message_type}"',
        read_response=read_rejections,
        refuse=refusal(message_type),
    )


def properties() -> Field:
    return Field("properties", "Properties", "object", default=path("properties"))


def traits() -> Field:
    return Field("traits", "Traits", "object", default=path("traits"))


def screen_or_page() -> tuple[Field, ...]:
    return (
        Field("name", "Name", "string", default=path("name")),
        Field("category", "Category", "string", default=path("category")),
        properties(),
    )


ACTIONS = (
    send_action("track", (Field("event", "Event", "string", True, path("event")), properties())),
    send_action("identify", (traits(),)),
    send_action("page", screen_or_page()),
    send_action("screen", screen_or_page()),
    send_action("group", (Field("groupId", "Group ID", "string", True, path("groupId")), traits())),
    # No preset (the other five types have one), but a forwarder that cannot pass on aliases would
    # break identity merging downstream; add it from the action when the receiver needs them.
    send_action(
        "alias",
        (Field("previousId", "Previous ID", "string", True, path("previousId")),),
        user_id_required=True,
    ),
)

KIND = Kind(
    key="segment",
    name="Segment-compatible API",
    description="Forward messages to Segment, RudderStack or another Switchyard.",
    docs_url="https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/",
    # Empty, so the admin form never stores a base URL nobody typed: one that is set wins
    # over the endpoint setting.
    default_base_url="",
    settings=(
        Setting(
            "write_key", "Write key", "password", required=True, help="The source's write key."
        ),
        Setting(
            "endpoint",
            "Endpoint",
            default=DEFAULT_ENDPOINT,
            help="The Tracking API root, ending in /v1: Segment EU is "
            "https://events.eu1.segmentapis.com/v1, RudderStack <data plane URL>/v1, "
            "Switchyard https://<host>/v1.",
            chooses_host=True,
        ),
    ),
    actions=ACTIONS,
    presets=tuple(
        Preset(f"Forward {name} messages", f"send_{name}", f'type = "{name}"')
        for name in ("track", "identify", "page", "screen", "group")
    ),
    # RudderStack refuses an empty batch with 400, after it has accepted the write key.
    connection_test=ConnectionTest(test_request, frozenset({*range(200, 300), 400})),
    orders_per_user=True,
)
