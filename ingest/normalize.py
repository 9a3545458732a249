"""Per-message validation and enrichment of the Tracking API (docs/tracking-api.md, "Validation" and
"Enrichment").

Pure functions over decoded JSON: `normalize` turns the items of one request into
accepted messages (ready to store) and rejections (index + reason code). It never raises
on any JSON input, however deep, nor on values JSON cannot carry, and what it accepts can
always be encoded, which the ingest fuzz tests hold it to.
"""

import re
import reprlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import orjson

MESSAGE_TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})
MAX_MESSAGE_ID_LENGTH = 100
INDEXED_TEXT_LENGTH = 255
EXAMPLE_LENGTH = 2000
# Examples of items orjson cannot encode: repr alone would recurse as deep as the item goes.
EXAMPLE_REPR = reprlib.Repr()
EXAMPLE_REPR.maxlevel = 8
EXAMPLE_REPR.maxdict = EXAMPLE_REPR.maxlist = 50
EXAMPLE_REPR.maxstring = EXAMPLE_REPR.maxother = 200
# Objects and arrays, counted from the message itself (`{}` is one level). Segment's SDKs never
# nest deeper; orjson cannot encode more than 254 levels, and whatever later walks a message
# recursively (enrichment's merge, the router, transformations) stays far from its limits.
MAX_NESTING_DEPTH = 64
CONTAINERS = (dict, list)
# The enrichment writes these itself from what it could parse.
TIME_KEYS = ("timestamp", "originalTimestamp", "sentAt", "receivedAt")
# What format_time writes (and what analytics.js sends): text in this form is kept as it came,
# which saves formatting it again (a measurable part of a batch's cost).
CANONICAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    code: str
    example: str


@dataclass(frozen=True, slots=True)
class Accepted:
    message: dict[str, Any]
    message_id: str
    type: str
    name: str
    user_id: str
    anonymous_id: str
    timestamp: datetime


@dataclass(frozen=True)
class RequestContext:
    """What the request, not the message, contributes to every message."""

    received_at: datetime
    client_ip: str | None
    max_message_bytes: int
    forced_type: str | None = None
    envelope_context: dict[str, Any] | None = None
    envelope_integrations: dict[str, Any] | None = None
    envelope_sent_at: Any = None
    measure_size: bool = False

    # Parsed and formatted once per request rather than once per message.
    @cached_property
    def received_text(self) -> str:
        return format_time(self.received_at)

    @cached_property
    def envelope_sent(self) -> tuple[datetime | None, str]:
        return read_time(self.envelope_sent_at)


class Invalid(Exception):
    def __init__(self, code: str) -> None:
        self.code = code


def normalize(items: list[Any], ctx: RequestContext) -> tuple[list[Accepted], list[Rejection]]:
    accepted: list[Accepted] = []
    rejected: list[Rejection] = []
    for index, item in enumerate(items):
        try:
            accepted.append(normalize_message(item, ctx))
        except Invalid as invalid:
            rejected.append(Rejection(index, invalid.code, example_of(item)))
    return accepted, rejected


def normalize_message(item: Any, ctx: RequestContext) -> Accepted:
    if not isinstance(item, dict):
        raise Invalid("invalid_message")
    # Encoded whatever the request, so that storing it (one INSERT for the request) cannot fail.
    size = len(encoded(item, MAX_NESTING_DEPTH))
    if ctx.measure_size and size > ctx.max_message_bytes:
        raise Invalid("event_too_large")
    message = dict(item)
    message.pop("writeKey", None)
    message_type = ctx.forced_type or message.get("type")
    if not isinstance(message_type, str) or message_type not in MESSAGE_TYPES:
        raise Invalid("type_unknown")
    message["type"] = message_type
    user_id, anonymous_id = check_identity(message)
    check_type_requirements(message, message_type)
    merge_envelope(message, ctx)
    message_id = check_message_id(message)
    timestamp = enrich_times(message, ctx)
    if ctx.client_ip and "ip" not in message["context"]:
        message["context"]["ip"] = ctx.client_ip
    return Accepted(
        message=message,
        message_id=message_id,
        type=message_type,
        name=indexed(display_name(message, message_type)),
        user_id=indexed(user_id),
        anonymous_id=indexed(anonymous_id),
        timestamp=timestamp,
    )


def encoded(value: Any, max_depth: int) -> bytes:
    """`value` as JSON; Invalid when it nests past `max_depth` levels or holds what JSON cannot
    carry (a lone surrogate, an integer beyond 64 bits, what the decoder kept as not JSON)."""
    try:
        text = orjson.dumps(value)
    except orjson.JSONEncodeError as error:
        code = "too_deep" if nested_deeper_than(value, max_depth) else "unencodable"
        raise Invalid(code) from error
    # Nesting past max_depth takes more opening brackets than that: two counts in C clear most
    # messages, and only the others are walked (on the bench's 1 KB event the counts cost
    # under 1 µs, the walk several).
    if text.count(b"{") + text.count(b"[") > max_depth and nested_deeper_than(value, max_depth):
        raise Invalid("too_deep")
    return text


def nested_deeper_than(value: Any, max_depth: int) -> bool:
    """Whether objects and arrays nest in `value` past `max_depth` levels.

    Walked a level at a time, not recursively: a hostile value may nest past Python's recursion
    limit, and the walk stops at `max_depth` however deep it goes.
    """
    level = [value] if isinstance(value, CONTAINERS) else []
    for _ in range(max_depth):
        if not level:
            return False
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, CONTAINERS)
        ]
    return bool(level)


def check_identity(message: dict[str, Any]) -> tuple[str, str]:
    user_id = stringify_id(message, "userId")
    anonymous_id = stringify_id(message, "anonymousId")
    if not user_id and not anonymous_id:
        raise Invalid("id_required")
    return user_id, anonymous_id


def stringify_id(message: dict[str, Any], key: str) -> str:
    """Return the id as a string ("" when unusable), stringifying numbers as analytics-python."""
    value = message.get(key)
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        value = js_number(value)
        message[key] = value
    return value if isinstance(value, str) else ""


def js_number(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def check_type_requirements(message: dict[str, Any], message_type: str) -> None:
    if message_type == "track":
        event = message.get("event")
        if not isinstance(event, str) or not event:
            raise Invalid("event_not_defined")
    elif message_type == "group":
        if not stringify_id(message, "groupId"):
            raise Invalid("group_id_required")
    elif message_type == "alias":
        if not stringify_id(message, "previousId"):
            raise Invalid("previous_id_required")
        if not stringify_id(message, "userId"):
            raise Invalid("id_required")
    for key, code in (("properties", "properties_not_object"), ("traits", "traits_not_object")):
        if message.get(key) is not None and not isinstance(message[key], dict):
            raise Invalid(code)
    if message.get("context") is not None and not isinstance(message["context"], dict):
        raise Invalid("context_not_object")


def merge_envelope(message: dict[str, Any], ctx: RequestContext) -> None:
    message["context"] = deep_merge(ctx.envelope_context, message.get("context"))
    if ctx.envelope_integrations or "integrations" in message:
        integrations = message.get("integrations")
        if not isinstance(integrations, dict):
            integrations = {}
        message["integrations"] = deep_merge(ctx.envelope_integrations, integrations)


def deep_merge(base: dict[str, Any] | None, own: dict[str, Any] | None) -> dict[str, Any]:
    """Merge `own` over `base`; nested objects merge too, and `own` wins every conflict."""
    if not base:
        return dict(own) if own else {}
    merged = dict(base)
    for key, value in (own or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def check_message_id(message: dict[str, Any]) -> str:
    message_id = message.get("messageId")
    if isinstance(message_id, int | float) and not isinstance(message_id, bool):
        message_id = js_number(message_id)
    if not isinstance(message_id, str) or not message_id:
        message_id = str(uuid.uuid4())
    elif len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise Invalid("message_id_too_long")
    message["messageId"] = message_id
    return message_id


def enrich_times(message: dict[str, Any], ctx: RequestContext) -> datetime:
    original, original_text = read_time(message.get("timestamp"))
    if original is None:
        original, original_text = read_time(message.get("originalTimestamp"))
    sent_at, sent_text = read_time(message.get("sentAt"))
    if sent_at is None:
        sent_at, sent_text = ctx.envelope_sent
    for key in TIME_KEYS:
        message.pop(key, None)
    message["receivedAt"] = ctx.received_text
    if original is None:
        message["timestamp"] = ctx.received_text
        timestamp = ctx.received_at
    elif sent_at is None:
        message["timestamp"] = original_text
        timestamp = original
    else:
        timestamp = skew_corrected(ctx.received_at, sent_at, original)
        message["timestamp"] = format_time(timestamp)
    timestamp = timestamp.replace(microsecond=timestamp.microsecond // 1000 * 1000)
    if original:
        message["originalTimestamp"] = original_text
    if sent_at:
        message["sentAt"] = sent_text
    return timestamp


def skew_corrected(received_at: datetime, sent_at: datetime, original: datetime) -> datetime:
    try:
        return received_at - (sent_at - original)
    except OverflowError:
        return original


def read_time(value: Any) -> tuple[datetime | None, str]:
    """The moment a time field gives, and its text as stored (UTC, milliseconds, `Z`)."""
    moment = parse_time(value)
    if moment is None:
        return None, ""
    return moment, value if CANONICAL_TIME.fullmatch(value) else format_time(moment)


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def display_name(message: dict[str, Any], message_type: str) -> str:
    value = message.get("event") if message_type == "track" else message.get("name")
    return value if isinstance(value, str) else ""


def indexed(text: str) -> str:
    return text[:INDEXED_TEXT_LENGTH]


def example_of(item: Any) -> str:
    try:
        return orjson.dumps(item).decode()[:EXAMPLE_LENGTH]
    except TypeError:
        return EXAMPLE_REPR.repr(item)[:EXAMPLE_LENGTH]
