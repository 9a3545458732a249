"""Klaviyo events, profiles and list membership, with its JSON:API REST API:
https://developers.klaviyo.com/en/reference/api_overview
"""

import re
from collections.abc import Iterator
from typing import Any

import orjson

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
    Refusal,
    Request,
    ResponseReader,
    Setting,
    json_request,
)
from .defaults import path

DEFAULT_ORIGIN = "https://a.klaviyo.com"
# Every request pins Klaviyo's API revision; 2026-07-15 is the stable revision of Klaviyo's
# OpenAPI description (github.com/klaviyo/openapi) this was written against. A revision is
# supported for two years after its release (API versioning and deprecation policy).
REVISION = "2026-07-15"
# Bulk Create Events takes up to 1,000 events and Bulk Import Profiles up to 10,000
# profiles, in at most 5 MB each (the endpoints' reference pages).
MAX_EVENTS = 1000
MAX_PROFILES = 10_000
MAX_REQUEST_BYTES = 5_000_000
# A job's validation error points at the entry it refuses, e.g.
# /data/attributes/events-bulk-create/data/3/attributes/profile (Segment's Klaviyo
# destination reads the same pointers, functions.ts, handleKlaviyoAPIErrorResponse).
EVENT_POINTER = re.compile(r"/data/attributes/events-bulk-create/data/(\d+)(/|$)")
PROFILE_POINTER = re.compile(r"/data/attributes/profiles/data/(\d+)(/|$)")
REFUSED_FOR_OTHERS = "Klaviyo refused the whole job for other entries in it; sent again"
# Segment's trait names for what Upsert profile sends as standard profile attributes.
STANDARD_TRAITS = frozenset(
    {"email", "phone", "firstName", "lastName", "title", "avatar", "company", "address"}
)

Entry = tuple[int, dict[str, Any]]  # an item's index and its entry in a job


def headers(config: Config) -> dict[str, str]:
    return {
        "Authorization": f"Klaviyo-API-Key {config['api_key']}",
        "revision": REVISION,
        "Accept": "application/json",
    }


def api_url(config: Config, path: str) -> str:
    return f"{config.base_url}/api/{path}"


def compact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def profile_identifiers(payload: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: payload[key] for key in keys if payload.get(key)}


def refuse_unidentified(*keys: str) -> Refusal:
    def refuse(payload: dict[str, Any]) -> ItemResult | None:
        if profile_identifiers(payload, *keys):
            return None
        message = f"Klaviyo needs one of {', '.join(keys)} to know the profile; this has none"
        return ItemResult(Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED", message)

    return refuse


EVENT_PROFILE_KEYS = ("email", "phone_number", "external_id", "anonymous_id")
PROFILE_KEYS = ("email", "phone_number", "external_id")
refuse_event = refuse_unidentified(*EVENT_PROFILE_KEYS)
refuse_profile = refuse_unidentified(*PROFILE_KEYS)


def event_entry(payload: dict[str, Any]) -> dict[str, Any]:
    """One profile and its one event: a bulk job groups events by profile, and an entry per
    event keeps the job's entry indexes those of the batch's items."""
    event = {
        "properties": payload.get("properties") or {},
        "time": payload.get("time"),
        "value": payload.get("value"),
        # Klaviyo records one event per unique_id, profile and metric: a retried batch
        # records nothing twice.
        "unique_id": payload.get("unique_id"),
        "metric": {"data": {"type": "metric", "attributes": {"name": payload["metric_name"]}}},
    }
    profile = profile_identifiers(payload, *EVENT_PROFILE_KEYS)
    return {
        "type": "event-bulk-create",
        "attributes": {
            "profile": {"data": {"type": "profile", "attributes": profile}},
            "events": {"data": [{"type": "event", "attributes": compact(event)}]},
        },
    }


def build_events(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
    entries = [(i, event_entry(p)) for i, p in enumerate(payloads) if refuse_event(p) is None]
    return [events_job(config, chunk) for chunk in chunked(entries)]


def events_job(config: Config, chunk: list[Entry]) -> Request:
    entries = [entry for _, entry in chunk]
    body = {
        "data": {
            "type": "event-bulk-create-job",
            "attributes": {"events-bulk-create": {"data": entries}},
        }
    }
    url = api_url(config, "event-bulk-create-jobs")
    return json_request("POST", url, body, tuple(i for i, _ in chunk), headers(config))


def chunked(entries: list[Entry]) -> Iterator[list[Entry]]:
    """Entries cut into jobs of at most 5 MB (the count is the batch size's to keep)."""
    chunk: list[Entry] = []
    size = 0
    for index, entry in entries:
        weight = len(orjson.dumps(entry)) + 1
        if chunk and size + weight > MAX_REQUEST_BYTES - 200:  # room for the job envelope
            yield chunk
            chunk, size = [], 0
        chunk.append((index, entry))
        size += weight
    if chunk:
        yield chunk


def build_upsert(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
    """Create or Update Profile (POST /api/profile-import), one profile a request: fields
    left out are left unchanged on the profile."""
    requests = []
    for index, payload in enumerate(payloads):
        if refuse_profile(payload) is None:
            body = {"data": {"type": "profile", "attributes": profile_attributes(payload)}}
            url = api_url(config, "profile-import")
            requests.append(json_request("POST", url, body, (index,), headers(config)))
    return requests


def profile_attributes(payload: dict[str, Any]) -> dict[str, Any]:
    attributes = {key: payload.get(key) for key in (*PROFILE_KEYS, *STANDARD_ATTRIBUTES)}
    attributes["location"] = payload.get("location") or None
    properties = payload.get("properties") or {}
    custom = {key: value for key, value in properties.items() if key not in STANDARD_TRAITS}
    attributes["properties"] = custom or None
    return compact(attributes)


def build_list_imports(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
    """Bulk Import Profiles with the list as the job's relationship, as Segment's Add to
    List batches do: it creates or updates each profile by its email, phone number or
    external ID and adds it to the list, where the list's relationship endpoint would need
    Klaviyo's profile IDs first. A job per list the batch names."""
    by_list: dict[str, list[Entry]] = {}
    for index, payload in enumerate(payloads):
        if refuse_profile(payload) is None:
            profile = {"type": "profile", "attributes": profile_identifiers(payload, *PROFILE_KEYS)}
            by_list.setdefault(payload["list_id"], []).append((index, profile))
    return [
        import_job(config, list_id, chunk)
        for list_id, entries in by_list.items()
        for chunk in chunked(entries)
    ]


def import_job(config: Config, list_id: str, chunk: list[Entry]) -> Request:
    body = {
        "data": {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": [profile for _, profile in chunk]}},
            "relationships": {"lists": {"data": [{"type": "list", "id": list_id}]}},
        }
    }
    url = api_url(config, "profile-bulk-import-jobs")
    return json_request("POST", url, body, tuple(i for i, _ in chunk), headers(config))


def job_reader(pointer: re.Pattern[str]) -> ResponseReader:
    """A job is accepted whole (202) or refused whole (400), its errors pointing at the
    entries they refuse: those fail, and the others, of which nothing was recorded, are sent
    again at once. None when no error points at an entry, to split the batch instead."""

    def read(answer: Answer, count: int) -> list[ItemResult] | None:
        if answer.status != 400:
            return None
        refused = refused_entries(answer.body, pointer, count)
        if not refused:
            return None
        results = [ItemResult(Outcome.RETRY, "BATCH_REFUSED", REFUSED_FOR_OTHERS, 0)] * count
        for index, message in refused.items():
            results[index] = ItemResult(Outcome.FAILED, "BAD_REQUEST", message)
        return results

    return read


def refused_entries(body: bytes, pointer: re.Pattern[str], count: int) -> dict[int, str]:
    try:
        reply = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    errors = reply.get("errors") if isinstance(reply, dict) else None
    refused = {}
    for error in errors if isinstance(errors, list) else ():
        source = error.get("source") if isinstance(error, dict) else None
        where = source.get("pointer") if isinstance(source, dict) else None
        found = pointer.match(where) if isinstance(where, str) else None
        if found and int(found[1]) < count:
            refused[int(found[1])] = f"Klaviyo refused {where}: {error.get('detail')}"
    return refused


def test_request(config: Config) -> Request:
    """Get Accounts: the cheapest call that proves a private key (it needs accounts:read)."""
    return Request("GET", api_url(config, "accounts"), headers(config), b"", ())


UNIQUE_ID = Field("unique_id", "Unique ID", "string", default=path("$.messageId"))
LIST_ID = Field("list_id", "List ID", "string", True, description="The Klaviyo list's ID")
STANDARD_ATTRIBUTES = ("first_name", "last_name", "organization", "title", "image")

TRACK_EVENT = Action(
    key="track_event",
    title="Track event",
    description="Record an event on a Klaviyo profile, as a metric named after the event.",
    fields=(
        Field("email", "Email", "string", default=path("$.context.traits.email")),
        Field("phone_number", "Phone number", "string", default=path("$.context.traits.phone")),
        Field("external_id", "External ID", "string", default=path("$.userId")),
        Field("anonymous_id", "Anonymous ID", "string", default=path("$.anonymousId")),
        Field("metric_name", "Metric name", "string", True, path("$.event")),
        Field("properties", "Properties", "object", default=path("$.properties")),
        Field("time", "Time", "datetime", default=path("$.timestamp")),
        Field("value", "Value", "number", description="e.g. the amount of a purchase"),
        UNIQUE_ID,
    ),
    build=build_events,
    batching=True,
    max_batch_size=MAX_EVENTS,
    default_batch_size=MAX_EVENTS,
    max_batch_bytes=MAX_REQUEST_BYTES,
    default_trigger='type = "track"',
    read_response=job_reader(EVENT_POINTER),
    refuse=refuse_event,
)

UPSERT_PROFILE = Action(
    key="upsert_profile",
    title="Upsert profile",
    description="Create a Klaviyo profile or update the one with the same identifiers.",
    fields=(
        Field("email", "Email", "string", default=path("$.traits.email")),
        Field("phone_number", "Phone number", "string", default=path("$.traits.phone")),
        Field("external_id", "External ID", "string", default=path("$.userId")),
        Field("first_name", "First name", "string", default=path("$.traits.firstName")),
        Field("last_name", "Last name", "string", default=path("$.traits.lastName")),
        Field("organization", "Organization", "string", default=path("$.traits.company.name")),
        Field("title", "Title", "string", default=path("$.traits.title")),
        Field("image", "Image URL", "string", default=path("$.traits.avatar")),
        Field(
            "location",
            "Location",
            "object",
            default={
                "address1": path("$.traits.address.street"),
                "city": path("$.traits.address.city"),
                "region": path("$.traits.address.state"),
                "zip": path("$.traits.address.postal_code"),
                "country": path("$.traits.address.country"),
            },
        ),
        Field(
            "properties",
            "Custom properties",
            "object",
            default=path("$.traits"),
            description="Segment's standard traits (email, firstName...) are left out.",
        ),
    ),
    build=build_upsert,
    default_trigger='type = "identify"',
    refuse=refuse_profile,
)

ADD_TO_LIST = Action(
    key="add_to_list",
    title="Add to list",
    description="Add profiles to a Klaviyo list, creating the profiles it lacks.",
    fields=(
        Field("email", "Email", "string", default=path("$.context.traits.email")),
        Field("phone_number", "Phone number", "string", default=path("$.context.traits.phone")),
        Field("external_id", "External ID", "string", default=path("$.userId")),
        LIST_ID,
    ),
    build=build_list_imports,
    batching=True,
    max_batch_size=MAX_PROFILES,
    default_batch_size=1000,
    max_batch_bytes=MAX_REQUEST_BYTES,
    default_trigger='event = "Audience Entered"',
    read_response=job_reader(PROFILE_POINTER),
    refuse=refuse_profile,
)

KIND = Kind(
    key="klaviyo",
    name="Klaviyo",
    description="Events, profiles and list membership for Klaviyo.",
    docs_url="https://developers.klaviyo.com/en/reference/api_overview",
    default_base_url=DEFAULT_ORIGIN,
    settings=(
        Setting(
            "api_key",
            "Private API key",
            "password",
            required=True,
            help="A private key with events:write, profiles:write, lists:write and "
            "accounts:read (for the connection test)",
        ),
    ),
    actions=(TRACK_EVENT, UPSERT_PROFILE, ADD_TO_LIST),
    presets=(
        Preset("Track events", "track_event", TRACK_EVENT.default_trigger),
        Preset("Upsert profiles", "upsert_profile", UPSERT_PROFILE.default_trigger),
    ),
    connection_test=ConnectionTest(test_request),
    orders_per_user=True,
)
