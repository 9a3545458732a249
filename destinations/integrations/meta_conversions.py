"""Meta Conversions API: server events for a Meta pixel or dataset.

https://developers.facebook.com/docs/marketing-api/conversions-api/using-the-api
Actions follow Segment's Facebook Conversions API (Actions) destination
(packages/destination-actions/src/destinations/facebook-conversions-api); where Meta's
documents say otherwise, they win.

Customer information is normalized and hashed with SHA-256, as Meta's customer information
parameters document asks (meta_conversions_rules.py, with the reading of Graph API errors); a
value that already is a SHA-256 digest goes as it is.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

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
    Request,
    Setting,
    json_request,
)
from .defaults import path, path_or
from .meta_conversions_rules import read_error, read_response, user_data

GRAPH_ORIGIN = "https://graph.facebook.com"
# The newest Graph API version Meta's changelog lists (v26.0, July 29, 2026); a setting can
# pin another. Segment's destination pins v24.0.
GRAPH_API_VERSION = "v26.0"
# "You can send up to 1,000 events in data" (Using the API).
MAX_EVENTS = 1000
DEFAULT_BATCH_SIZE = 100
ACTION_SOURCES = (
    "website",
    "app",
    "email",
    "phone_call",
    "chat",
    "physical_store",
    "system_generated",
    "business_messaging",
    "other",
)


def server_event(name: str, payload: dict[str, Any], custom_keys: tuple[str, ...]) -> dict:
    event = {"event_name": name, "event_time": payload["event_time"]}
    for key in ("event_id", "event_source_url", "action_source"):
        if key in payload:
            event[key] = payload[key]
    event["user_data"] = user_data(payload)
    custom = {**(payload.get("custom_data") or {})}
    custom |= {key: payload[key] for key in custom_keys if key in payload}
    if custom:
        event["custom_data"] = custom
    return event


def refuse(payload: dict[str, Any]) -> ItemResult | None:
    """Meta refuses a whole request for one bad event: such an event stays out of it."""
    if not user_data(payload):
        message = "Meta needs at least one customer information parameter; the event has none"
        return ItemResult(Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED", message)
    for position, content in enumerate(payload.get("contents") or []):
        if not isinstance(content, dict) or content.get("id") is None:
            message = f"contents[{position}] has no id; Meta requires one per product"
            return ItemResult(Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED", message)
    return None


def graph_url(config: Config, *path: str) -> str:
    version = str(config.get("api_version") or GRAPH_API_VERSION).strip()
    version = version if version.startswith("v") else f"v{version}"
    parts = (version, config["pixel_id"], *path)
    return "/".join([config.base_url or GRAPH_ORIGIN, *(quote(str(p), safe=".") for p in parts)])


def events_builder(name_of: Callable[[dict], str], keys: tuple[str, ...], test: bool) -> Builder:
    def build(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
        items = tuple(i for i, payload in enumerate(payloads) if refuse(payload) is None)
        if not items:
            return []
        data = [server_event(name_of(payloads[i]), payloads[i], keys) for i in items]
        # The token goes in the body, as Meta's own example sends it, not in the URL.
        body: dict[str, Any] = {"data": data, "access_token": config["access_token"]}
        if test and config.get("test_event_code"):
            body["test_event_code"] = config["test_event_code"]
        return [json_request("POST", graph_url(config, "events"), body, items)]

    return build


def test_request(config: Config) -> Request:
    """Reads the pixel's ID: 200 when the token may use the pixel, a Graph error otherwise.
    A GET has no body, so the token goes as a bearer token, as Segment's destination sends
    it, rather than in the URL."""
    headers = {"Authorization": f"Bearer {config['access_token']}"}
    return Request("GET", f"{graph_url(config)}?fields=id", headers, b"", ())


def user_field(key: str, label: str, default: dict[str, Any]) -> Field:
    return Field(key, label, "string", False, default)


TRAITS = "$.context.traits"
COMMON_FIELDS = (
    Field("event_time", "Event time", "datetime", True, path("$.timestamp"), "", "epoch_s"),
    Field(
        "event_id",
        "Event ID",
        "string",
        False,
        path("$.messageId"),
        "Meta drops a server event whose ID and name match a pixel event's: send the pixel "
        "the same ID.",
    ),
    Field("action_source", "Action source", "string", True, "website", choices=ACTION_SOURCES),
    Field("event_source_url", "Event source URL", "string", False, path("$.context.page.url")),
    user_field("email", "Email", path(f"{TRAITS}.email")),
    user_field("phone", "Phone (with country code)", path(f"{TRAITS}.phone")),
    user_field("first_name", "First name", path(f"{TRAITS}.firstName")),
    user_field("last_name", "Last name", path(f"{TRAITS}.lastName")),
    user_field("gender", "Gender", path(f"{TRAITS}.gender")),
    user_field("date_of_birth", "Date of birth", path(f"{TRAITS}.birthday")),
    user_field("city", "City", path(f"{TRAITS}.address.city")),
    user_field("state", "State (2-letter code)", path(f"{TRAITS}.address.state")),
    user_field("zip", "Postal code", path(f"{TRAITS}.address.postalCode")),
    user_field("country", "Country (2-letter code)", path(f"{TRAITS}.address.country")),
    user_field("external_id", "External ID", path_or("$.userId", "$.anonymousId")),
    user_field("client_ip_address", "Client IP address", path("$.context.ip")),
    user_field("client_user_agent", "Client user agent", path("$.context.userAgent")),
    user_field("fbc", "Click ID (fbc)", path("$.properties.fbc")),
    user_field("fbp", "Browser ID (fbp)", path("$.properties.fbp")),
)
CUSTOM_DATA = Field("custom_data", "Custom data", "object", description="More custom_data keys.")


def contents(products: str) -> Field:
    shape = {
        "id": path("$.product_id"),
        "quantity": path("$.quantity"),
        "item_price": path("$.price"),
    }
    return Field("contents", "Contents", "array", False, {"@arrayPath": [products, shape]})


def meta_action(
    key: str, title: str, fields: tuple[Field, ...], trigger: str, name: str = ""
) -> Action:
    """A standard event `name`, or without one a custom event named by the payload; the
    action's own fields go in custom_data."""
    name_of: Callable[[dict], str] = (lambda _: name) if name else (lambda p: p["event_name"])
    keys = tuple(f.key for f in fields if f.key not in ("event_name", "custom_data"))
    return Action(
        key=key,
        title=title,
        description=f"Send a {title} server event to the Conversions API.",
        fields=COMMON_FIELDS + fields,
        build=events_builder(name_of, keys, test=False),
        batching=True,
        max_batch_size=MAX_EVENTS,
        default_batch_size=DEFAULT_BATCH_SIZE,
        default_trigger=trigger,
        read_response=read_response,
        read_error=read_error,
        refuse=refuse,
        build_test=events_builder(name_of, keys, test=True),
    )


PURCHASE = meta_action(
    "purchase",
    "Purchase",
    (
        Field("currency", "Currency", "string", True, path("$.properties.currency")),
        Field("value", "Value", "number", True, path("$.properties.revenue")),
        Field("order_id", "Order ID", "string", False, path("$.properties.order_id")),
        Field("content_ids", "Content IDs", "array"),
        Field("content_type", "Content type", "string"),
        contents("$.properties.products"),
        Field("num_items", "Number of items", "integer"),
        CUSTOM_DATA,
    ),
    'type = "track" and event = "Order Completed"',
    "Purchase",
)

ADD_TO_CART = meta_action(
    "add_to_cart",
    "Add to cart",
    (
        Field("currency", "Currency", "string", False, path("$.properties.currency")),
        Field("value", "Value", "number", False, path("$.properties.price")),
        Field("content_ids", "Content IDs", "array"),
        Field("content_type", "Content type", "string"),
        contents("$.properties"),
        CUSTOM_DATA,
    ),
    'type = "track" and event = "Product Added"',
    "AddToCart",
)

PAGE_VIEW = meta_action("page_view", "Page view", (CUSTOM_DATA,), 'type = "page"', "PageView")

CUSTOM_EVENT = meta_action(
    "custom_event",
    "Custom event",
    (Field("event_name", "Event name", "string", True, path("$.event")), CUSTOM_DATA),
    'type = "track"',
)

KIND = Kind(
    key="meta_conversions",
    name="Meta Conversions API",
    description="Purchases, carts, page views and custom events for a Meta pixel or dataset.",
    docs_url="https://developers.facebook.com/docs/marketing-api/conversions-api",
    default_base_url=GRAPH_ORIGIN,
    settings=(
        Setting("pixel_id", "Pixel ID", required=True, help="A pixel or dataset ID."),
        Setting(
            "access_token",
            "Access token",
            "password",
            required=True,
            help="Events Manager > your pixel > Settings > Conversions API > Generate token.",
        ),
        Setting(
            "test_event_code",
            "Test event code",
            help="Events Manager > Test events. Test mapping sends with it, so that the event "
            "shows among the test events; without one, a test send is a real event.",
        ),
        # No default, so that the admin form never saves the pinned version: destinations
        # follow the constant when a release moves it, unless someone typed a version.
        Setting(
            "api_version",
            "Graph API version",
            help=f"Empty: {GRAPH_API_VERSION}, the version this release pins.",
            advanced=True,
        ),
    ),
    actions=(PURCHASE, ADD_TO_CART, PAGE_VIEW, CUSTOM_EVENT),
    presets=(
        Preset("Purchases", "purchase", PURCHASE.default_trigger),
        Preset("Products added to cart", "add_to_cart", ADD_TO_CART.default_trigger),
        Preset("Page views", "page_view", PAGE_VIEW.default_trigger),
    ),
    connection_test=ConnectionTest(test_request),
)
