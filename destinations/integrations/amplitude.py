"""Amplitude: events to the HTTP V2 API https://amplitude.com/docs/apis/analytics/http-v2
(or the Batch Event Upload API, .../batch-event-upload), user properties to the Identify API
(.../identify), group properties to the Group Identify API (.../group-identify). Fields and
mappings follow Segment's Amplitude (Actions) destination (segmentio/action-destinations,
packages/destination-actions/src/destinations/amplitude).
"""

import base64
import math
from typing import Any
from urllib.parse import urlencode

import orjson

from .amplitude_rules import read_events_answer, read_identify_answer
from .base import (
    NO_DEFAULT,
    Action,
    Builder,
    Config,
    ConnectionTest,
    Field,
    FieldType,
    Kind,
    Preset,
    Request,
    Setting,
    json_request,
)
from .defaults import path, path_or

DEFAULT_REGION = "US"
INGESTION_HOSTS = {"US": "https://api2.amplitude.com", "EU": "https://api.eu.amplitude.com"}
# The Dashboard REST API, where the connection test searches a user, has hosts of its own.
DASHBOARD_HOSTS = {"US": "https://amplitude.com", "EU": "https://analytics.eu.amplitude.com"}
# HTTP V2 takes 2000 events and 1 MB a request, /batch 2000 events and 20 MB (413 past
# them). One limit serves both, so that switching endpoints never strands a claimed batch;
# the margin leaves room for the envelope and the revenue fields the builder adds.
MAX_EVENTS = 2000
MAX_EVENT_BYTES = 900_000
# Group Identify API: 1024 identifications and 1 MB a request. The Identify API documents
# no cap, so it gets its sibling's. Form encoding can triple JSON ('"' goes as %22).
MAX_IDENTIFICATIONS = 1024
MAX_FORM_BYTES = 330_000
# HTTP V2 asks Starter plans for 10 events a request at most: their mappings need less.
DEFAULT_BATCH_SIZE = 100
REVENUE_KEYS = ("price", "quantity", "revenue", "productId", "revenueType")
CONNECTION_TEST_USER = "switchyard-connection-test"


def origin(config: Config, hosts: dict[str, str]) -> str:
    # A base URL (a proxy, a test server) wins over the region's host.
    if config.get("base_url"):
        return config.base_url
    return hosts.get(str(config.get("region")), hosts[DEFAULT_REGION])


def options(config: Config) -> dict[str, int]:
    """Amplitude removes user and device IDs shorter than 5 characters unless told otherwise."""
    length = config.get("min_id_length")
    if isinstance(length, int | float) and not isinstance(length, bool) and 1 <= length < 2**31:
        return {"min_id_length": int(length)}
    return {}


def revenue_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """Revenue as Segment sends it (logPurchase/index.ts, getRevenueProperties): price times
    quantity when both are set, else the revenue; nothing without one; "Purchase" as the
    default type. Segment drops a price sent alone, but Amplitude counts a missing quantity
    as 1 (Batch Event Upload API, event keys), so the price alone is the revenue here."""
    price, quantity = payload.get("price"), payload.get("quantity")
    if price is not None and quantity is not None:
        revenue = price * quantity
    else:
        revenue = payload.get("revenue", price)
    if not revenue:
        return {}
    fields = {
        "revenue": revenue,
        "revenueType": payload.get("revenueType", "Purchase"),
        "price": price,
        # Rounded as JavaScript's Math.round does, as Segment's action rounds it.
        "quantity": None if quantity is None else math.floor(quantity + 0.5),
        "productId": payload.get("productId"),
    }
    return {key: value for key, value in fields.items() if value is not None}


def amplitude_event(payload: dict[str, Any]) -> dict[str, Any]:
    event = {key: value for key, value in payload.items() if key not in REVENUE_KEYS}
    return event | revenue_fields(payload)


def build_events(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
    path = "/batch" if config.get("use_batch_endpoint") is True else "/2/httpapi"
    events = [amplitude_event(payload) for payload in payloads]
    # HTTP V2 and /batch take the API key in the body only.
    body = {"api_key": config.get("api_key", ""), "events": events}
    if request_options := options(config):
        body["options"] = request_options
    url = origin(config, INGESTION_HOSTS) + path
    return [json_request("POST", url, body, range(len(payloads)))]


def form_request(url: str, fields: dict[str, Any], items: tuple[int, ...]) -> Request:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return Request("POST", url, headers, urlencode(fields).encode(), items)


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def identify_builder(path: str, with_options: bool) -> Builder:
    """Identifications as a JSON array in a form field, as the Identify and Group Identify
    APIs take them."""

    def build(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
        fields = {"api_key": config.get("api_key", ""), "identification": json_text(payloads)}
        if with_options and (request_options := options(config)):
            fields["options"] = json_text(request_options)
        url = origin(config, INGESTION_HOSTS) + path
        return [form_request(url, fields, tuple(range(len(payloads))))]

    return build


def basic_auth(username: str, password: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def test_request(config: Config) -> Request:
    """The ingestion APIs answer a bad API key with 400, as any upload they refuse, and
    record what a good one sends. So, as Segment's Amplitude destination does
    (amplitude/index.ts, testAuthentication), this searches a user with the Dashboard REST
    API, which takes the API key and the secret key as Basic credentials: 200 when both are
    good (a search that finds nobody included), 401 otherwise. It records nothing."""
    query = urlencode({"user": CONNECTION_TEST_USER})
    url = f"{origin(config, DASHBOARD_HOSTS)}/api/2/usersearch?{query}"
    credentials = basic_auth(config.get("api_key", ""), config.get("secret_key", ""))
    return Request("GET", url, credentials, b"", ())


def field(key: str, label: str, source: str = "", kind: FieldType = "string") -> Field:
    return Field(key, label, kind, default=path(source) if source else NO_DEFAULT)


USER_ID = field("user_id", "User ID", "$.userId")
DEVICE_ID = Field(
    "device_id", "Device ID", "string", default=path_or("$.context.device.id", "$.anonymousId")
)
USER_PROPERTIES = Field("user_properties", "User properties", "object", default=path("$.traits"))
GROUPS = Field("groups", "Groups", "object", description="Group types and their values")
# Amplitude's event keys that describe the device and where the user is.
DEVICE_AND_PLACE = (
    field("app_version", "App version", "$.context.app.version"),
    field("platform", "Platform", "$.context.device.type"),
    field("os_name", "OS name", "$.context.os.name"),
    field("os_version", "OS version", "$.context.os.version"),
    field("device_brand", "Device brand", "$.context.device.brand"),
    field("device_manufacturer", "Device manufacturer", "$.context.device.manufacturer"),
    field("device_model", "Device model", "$.context.device.model"),
    field("carrier", "Carrier", "$.context.network.carrier"),
    field("country", "Country", "$.context.location.country"),
    field("region", "Region", "$.context.location.region"),
    field("city", "City", "$.context.location.city"),
    field("dma", "Designated market area"),
    field("language", "Language", "$.context.locale"),
)
ADVERTISING_ID = path_or("$.context.device.advertisingId", "$.context.device.idfa")

LOG_EVENT = Action(
    key="log_event",
    title="Log event",
    description="Send an event to Amplitude's HTTP V2 API (or Batch Event Upload API).",
    fields=(
        USER_ID,
        DEVICE_ID,
        Field("event_type", "Event type", "string", True, path("$.event")),
        Field("time", "Time", "datetime", default=path("$.timestamp"), datetime_format="epoch_ms"),
        Field(
            "session_id",
            "Session ID",
            "integer",
            default=path("$.integrations.Actions Amplitude.session_id"),
            description="The session's start, in milliseconds since the epoch.",
        ),
        Field(
            "insert_id",
            "Insert ID",
            "string",
            default=path("$.messageId"),
            description="Amplitude drops an event whose insert ID it saw in the last 7 days, "
            "so a batch sent twice counts once.",
        ),
        Field("event_properties", "Event properties", "object", default=path("$.properties")),
        USER_PROPERTIES,
        GROUPS,
        *DEVICE_AND_PLACE,
        field("location_lat", "Latitude", "$.context.location.latitude", "number"),
        field("location_lng", "Longitude", "$.context.location.longitude", "number"),
        field("ip", "IP address", "$.context.ip"),
        Field("idfa", "IDFA (iOS)", "string", default=ADVERTISING_ID),
        field("idfv", "IDFV (iOS)", "$.context.device.id"),
        Field("adid", "Advertising ID (Android)", "string", default=ADVERTISING_ID),
        field("android_id", "Android ID"),
        field("event_id", "Event ID", kind="integer"),
        field("price", "Price", "$.properties.price", "number"),
        field("quantity", "Quantity", "$.properties.quantity", "number"),
        field("revenue", "Revenue", "$.properties.revenue", "number"),
        field("productId", "Product ID", "$.properties.productId"),
        field("revenueType", "Revenue type", "$.properties.revenueType"),
    ),
    build=build_events,
    batching=True,
    max_batch_size=MAX_EVENTS,
    default_batch_size=DEFAULT_BATCH_SIZE,
    max_batch_bytes=MAX_EVENT_BYTES,
    default_trigger='type = "track"',
    read_response=read_events_answer,
)

IDENTIFY_USER = Action(
    key="identify_user",
    title="Identify user",
    description="Set a user's properties, or tie a user ID to a device ID, without an event.",
    fields=(USER_ID, DEVICE_ID, USER_PROPERTIES, GROUPS, *DEVICE_AND_PLACE),
    build=identify_builder("/identify", with_options=True),
    batching=True,
    max_batch_size=MAX_IDENTIFICATIONS,
    default_batch_size=DEFAULT_BATCH_SIZE,
    max_batch_bytes=MAX_FORM_BYTES,
    default_trigger='type = "identify"',
    read_response=read_identify_answer,
)

GROUP_IDENTIFY = Action(
    key="group_identify",
    title="Group identify",
    description="Set a group's properties (Amplitude's Accounts add-on).",
    fields=(
        Field(
            "group_type",
            "Group type",
            "string",
            True,
            "company",
            "The group type as your Amplitude project names it, e.g. company or org id.",
        ),
        Field("group_value", "Group value", "string", True, path("$.groupId")),
        Field("group_properties", "Group properties", "object", default=path("$.traits")),
    ),
    build=identify_builder("/groupidentify", with_options=False),
    batching=True,
    max_batch_size=MAX_IDENTIFICATIONS,
    default_batch_size=DEFAULT_BATCH_SIZE,
    max_batch_bytes=MAX_FORM_BYTES,
    default_trigger='type = "group"',
)

# Segment's presets (amplitude/index.ts); Order Completed goes with the other track calls,
# Log event's revenue fields taking the order's. Group properties need Amplitude's Accounts
# add-on: as in Segment, no preset sends them.
VIEWED = {**LOG_EVENT.default_fields(), "event_type": {"@template": "Viewed {{name}}"}}

KIND = Kind(
    key="amplitude",
    name="Amplitude",
    description="Events, user properties and group properties for Amplitude analytics.",
    docs_url="https://amplitude.com/docs/apis/analytics/http-v2",
    # Empty, so the admin form never stores a base URL nobody typed: one that is set wins
    # over the region.
    default_base_url="",
    settings=(
        Setting("api_key", "API key", "password", required=True, help="The project's API key"),
        Setting(
            "secret_key",
            "Secret key",
            "password",
            required=True,
            help="The project's secret key; only the connection test uses it",
        ),
        Setting(
            "region",
            "Data region",
            "choice",
            default=DEFAULT_REGION,
            choices=tuple(INGESTION_HOSTS),
            help="EU for a project in Amplitude's EU data center",
            chooses_host=True,
        ),
        Setting(
            "use_batch_endpoint",
            "Use the Batch Event Upload API",
            "boolean",
            default=False,
            help="Send events to /batch, which throttles a user or device at 1000 events a "
            "second rather than 30 (fewer 429s), instead of /2/httpapi",
        ),
        Setting(
            "min_id_length",
            "Minimum ID length",
            "number",
            help="Amplitude removes user and device IDs shorter than this (5 when empty)",
            advanced=True,
        ),
    ),
    actions=(LOG_EVENT, IDENTIFY_USER, GROUP_IDENTIFY),
    presets=(
        Preset("Track calls", "log_event", 'type = "track"'),
        Preset("Page calls", "log_event", 'type = "page"', VIEWED),
        Preset("Screen calls", "log_event", 'type = "screen"', VIEWED),
        Preset("Identify calls", "identify_user", 'type = "identify"'),
    ),
    connection_test=ConnectionTest(test_request),
    orders_per_user=True,
)
