"""Customer.io people, events and page views, with the Track API v2 batch endpoint:
https://docs.customer.io/api/track/#operation/batch
"""

import hashlib
import re
from base64 import b64encode
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

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
    named_refusals,
)
from .defaults import path, path_or

TRACK_HOSTS = {"US": "https://track.customer.io", "EU": "https://track-eu.customer.io"}
DEFAULT_REGION = "US"
# Track API limits ("v2 API Limits"): a /batch request is at most 500 KB, and each of its
# entries at most 32 KB, the limit of a /single request.
MAX_BATCH_BYTES = 500_000
MAX_ENTITY_BYTES = 32_000
ENVELOPE = len(b'{"batch":[]}')
# Segment's Customer.io destination reads a person ID with these forms as other identifiers.
CIO_ID_PREFIX = "cio_"
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Segment's Customer.io destination converts attribute strings of this form (its isIsoDate)
# to Unix seconds, which Customer.io needs to treat them as dates.
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?)?")
# An event's id deduplicates it and "must be a ULID" (Track API, customer events).
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
REFUSED_FOR_OTHERS = "Customer.io refused the whole batch for other entries in it; sent again"

ToEntity = Callable[[dict[str, Any]], dict[str, Any]]


def origin(config: Config) -> str:
    # A base URL someone typed (a proxy, a test server) wins over the region.
    if config.get("base_url"):
        return config["base_url"].rstrip("/")
    return TRACK_HOSTS.get(config.get("region"), TRACK_HOSTS[DEFAULT_REGION])


def auth(config: Config) -> dict[str, str]:
    credentials = b64encode(f"{config['site_id']}:{config['api_key']}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def identifiers(
    person_id: str | None, email: str | None, anonymous_id: str | None
) -> dict[str, str]:
    """Who an entry is about, as Segment's destination resolves it: a person ID beginning
    with cio_ is a Customer.io ID and one that reads as an email is an email."""
    if person_id:
        if person_id.startswith(CIO_ID_PREFIX):
            return {"cio_id": person_id.removeprefix(CIO_ID_PREFIX)}
        return {"email": person_id} if EMAIL.fullmatch(person_id) else {"id": person_id}
    if email:
        return {"email": email}
    return {"anonymous_id": anonymous_id} if anonymous_id else {}


def person(action: str, who: dict[str, str], payload: dict[str, Any], **values: Any) -> dict:
    entry = {"type": "person", "action": action, "identifiers": who, **values}
    if "timestamp" in payload:
        entry["timestamp"] = payload["timestamp"]
    return entry


def unix_dates(value: Any) -> Any:
    """ISO-8601 strings in an object, at any depth of objects, as Unix seconds."""
    if isinstance(value, dict):
        return {key: unix_dates(item) for key, item in value.items()}
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    return value


def converted(payload: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return unix_dates(values) if payload.get("convert_timestamp", True) else values


def identify(payload: dict[str, Any]) -> dict[str, Any]:
    anonymous_id = payload.get("anonymous_id")
    who = identifiers(payload.get("id"), payload.get("email"), anonymous_id)
    traits = dict(payload.get("custom_attributes") or {})
    traits.pop("createdAt", None)  # Segment's name for created_at, which has its own field
    traits.pop("created_at", None)
    traits |= {key: payload[key] for key in ("created_at", "email") if payload.get(key)}
    # An anonymous ID beside the person's own merges their anonymous activity into them.
    if anonymous_id and "anonymous_id" not in who:
        traits["anonymous_id"] = anonymous_id
    return person("identify", who, payload, attributes=converted(payload, traits))


def event(payload: dict[str, Any]) -> dict[str, Any]:
    return activity("event", payload["name"], payload)


def page(payload: dict[str, Any]) -> dict[str, Any]:
    return activity("page", payload["url"], payload)


def activity(action: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    who = identifiers(payload.get("id"), None, payload.get("anonymous_id"))
    values: dict[str, Any] = {"name": name}
    if payload.get("event_id"):
        values["id"] = event_ulid(payload["event_id"], payload.get("timestamp", 0))
    values["attributes"] = converted(payload, payload.get("data") or {})
    return person(action, who, payload, **values)


def event_ulid(event_id: str, seconds: int) -> str:
    """The event's ID as a ULID: one already, or one made of the event's time and a hash of
    its ID, the same on every retry, so that Customer.io drops a copy it already has."""
    if ULID.fullmatch(event_id):
        return event_id
    entropy = int.from_bytes(hashlib.sha256(event_id.encode()).digest()[:10])
    value = (max(seconds, 0) * 1000 % 2**48) << 80 | entropy
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def delete(payload: dict[str, Any]) -> dict[str, Any]:
    return person("delete", identifiers(payload["person_id"], None, None), payload)


def refusal(to_entity: ToEntity) -> Refusal:
    def refuse(payload: dict[str, Any]) -> ItemResult | None:
        entry = to_entity(payload)
        if not entry["identifiers"]:
            message = "Customer.io needs a person ID, an email or an anonymous ID; this has none"
            return ItemResult(Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED", message)
        size = len(orjson.dumps(entry))
        if size > MAX_ENTITY_BYTES:
            message = f"the entry is {size} bytes, over Customer.io's limit of 32 KB"
            return ItemResult(Outcome.FAILED, "PAYLOAD_TOO_LARGE", message)
        return None

    return refuse


def batch_builder(to_entity: ToEntity) -> Builder:
    refuse = refusal(to_entity)

    def build(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
        entries = [
            (index, to_entity(payload))
            for index, payload in enumerate(payloads)
            if refuse(payload) is None
        ]
        return [batch_request(config, chunk) for chunk in chunked(entries)]

    return build


def chunked(entries: list[tuple[int, dict]]) -> Iterator[list[tuple[int, dict]]]:
    """Entries cut into batches of at most 500 KB."""
    chunk: list[tuple[int, dict]] = []
    size = ENVELOPE
    for index, entry in entries:
        weight = len(orjson.dumps(entry)) + 1  # the entry and its comma
        if chunk and size + weight > MAX_BATCH_BYTES:
            yield chunk
            chunk, size = [], ENVELOPE
        chunk.append((index, entry))
        size += weight
    if chunk:
        yield chunk


def batch_request(config: Config, chunk: list[tuple[int, dict]]) -> Request:
    body = {"batch": [entry for _, entry in chunk]}
    items = tuple(index for index, _ in chunk)
    return json_request("POST", f"{origin(config)}/api/v2/batch", body, items, auth(config))


def read_batch_answer(answer: Answer, count: int) -> list[ItemResult] | None:
    """Per-entry results from the `errors` Customer.io lists as `{batch_index, reason, field,
    message}` (a 200 or 207 with errors; Customer.io's own change to Segment's destination,
    action-destinations PR 3657, reads them so). In a 2xx only those entries were dropped;
    in a 400 that names entries the others are sent again at once. None when the answer
    names no entry."""
    if not (200 <= answer.status < 300 or answer.status == 400):
        return None
    refused = refused_entries(answer.body, count)
    return named_refusals(answer, refused, count, REFUSED_FOR_OTHERS)


def refused_entries(body: bytes, count: int) -> dict[int, str] | None:
    try:
        reply = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    errors = reply.get("errors") if isinstance(reply, dict) else None
    if not isinstance(errors, list):
        return None
    refused = {}
    for error in errors:
        index = error.get("batch_index") if isinstance(error, dict) else None
        if type(index) is int and 0 <= index < count:
            problem = error.get("message") or error.get("reason") or "refused"
            where = f" ({error['field']})" if error.get("field") else ""
            refused[index] = f"Customer.io refused batch[{index}]{where}: {problem}"
    return refused


def test_request(config: Config) -> Request:
    """Customer.io's account region lookup, which takes the Track API credentials and
    records nothing: https://docs.customer.io/api/track/#operation/getRegion"""
    return Request("GET", f"{origin(config)}/api/v1/accounts/region", auth(config), b"", ())


def batch_action(
    key: str, title: str, to_entity: ToEntity, fields: tuple[Field, ...], trigger: str
) -> Action:
    return Action(
        key=key,
        title=title,
        fields=fields,
        build=batch_builder(to_entity),
        batching=True,
        # Customer.io documents no count limit, only the 500 KB that the builder keeps to.
        max_batch_size=1000,
        default_batch_size=100,
        max_batch_bytes=MAX_BATCH_BYTES,
        default_trigger=trigger,
        read_response=read_batch_answer,
        refuse=refusal(to_entity),
    )


# Customer.io takes Unix seconds (Track API, "timestamp"); an entry without one is dated on
# arrival.
TIMESTAMP = Field("timestamp", "Timestamp", "datetime", False, path("$.timestamp"), "", "epoch_s")
CONVERT_TIMESTAMP = Field(
    "convert_timestamp",
    "Convert dates",
    "boolean",
    default=True,
    description="Send ISO-8601 dates in the attributes as Unix seconds, as Customer.io needs.",
)
PERSON_ID = Field("id", "Person ID", "string", default=path("$.userId"))
ANONYMOUS_ID = Field("anonymous_id", "Anonymous ID", "string", default=path("$.anonymousId"))
# Customer.io names a page view by its URL; a page call that has none is named by its path.
PAGE_URL = {
    "@if": {
        "exists": path("$.properties.url"),
        "then": path("$.properties.url"),
        "else": path_or("$.context.page.url", "$.properties.path"),
    }
}
EVENT_ID = Field(
    "event_id",
    "Event ID",
    "string",
    default=path("$.messageId"),
    description="Deduplicates the event; sent as a ULID, made from this value unless it is one.",
)

CREATE_OR_UPDATE_PERSON = batch_action(
    "create_or_update_person",
    "Create or update person",
    identify,
    (
        Field("id", "Person ID", "string", default=path_or("$.userId", "$.traits.email")),
        ANONYMOUS_ID,
        Field("email", "Email", "string", default=path("$.traits.email")),
        Field(
            "created_at", "Created at", default=path_or("$.traits.created_at", "$.traits.createdAt")
        ),
        Field("custom_attributes", "Attributes", "object", default=path("$.traits")),
        TIMESTAMP,
        CONVERT_TIMESTAMP,
    ),
    'type = "identify"',
)

# "User Deleted" is Delete person's event, as in Segment's Customer.io destination.
TRACK_EVENT = batch_action(
    "track_event",
    "Track event",
    event,
    (
        PERSON_ID,
        ANONYMOUS_ID,
        Field("name", "Event name", "string", True, path("$.event")),
        EVENT_ID,
        TIMESTAMP,
        Field("data", "Event attributes", "object", default=path("$.properties")),
        CONVERT_TIMESTAMP,
    ),
    'type = "track" and event != "User Deleted"',
)

TRACK_PAGE_VIEW = batch_action(
    "track_page_view",
    "Track page view",
    page,
    (
        PERSON_ID,
        ANONYMOUS_ID,
        EVENT_ID,
        Field("url", "Page URL", "string", True, PAGE_URL),
        TIMESTAMP,
        Field("data", "Page attributes", "object", default=path("$.properties")),
        CONVERT_TIMESTAMP,
    ),
    'type = "page"',
)

DELETE_PERSON = batch_action(
    "delete_person",
    "Delete person",
    delete,
    (Field("person_id", "Person ID", "string", True, path("$.userId")),),
    'type = "track" and event = "User Deleted"',
)

KIND = Kind(
    key="customerio",
    name="Customer.io",
    description="People, events and page views for Customer.io Journeys.",
    docs_url="https://docs.customer.io/api/track/#operation/batch",
    # Empty, so that the region decides until someone types a base URL.
    default_base_url="",
    settings=(
        Setting(
            "site_id",
            "Site ID",
            "password",
            required=True,
            help="From Customer.io's Track API credentials (the Basic auth user name)",
        ),
        Setting("api_key", "Track API key", "password", required=True),
        Setting(
            "region",
            "Account region",
            "choice",
            default=DEFAULT_REGION,
            choices=tuple(TRACK_HOSTS),
            help="US sends to track.customer.io, EU to track-eu.customer.io",
            chooses_host=True,
        ),
    ),
    actions=(CREATE_OR_UPDATE_PERSON, TRACK_EVENT, TRACK_PAGE_VIEW, DELETE_PERSON),
    presets=(
        Preset("Create or update person", "create_or_update_person", 'type = "identify"'),
        Preset("Track event", "track_event", TRACK_EVENT.default_trigger),
        Preset("Track page view", "track_page_view", 'type = "page"'),
        Preset("Delete person", "delete_person", DELETE_PERSON.default_trigger),
    ),
    connection_test=ConnectionTest(test_request),
    orders_per_user=True,
)
