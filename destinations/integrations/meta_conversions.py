"""Meta Conversions API: server events for a Meta pixel or dataset.

https://developers.facebook.com/docs/marketing-api/conversions-api/using-the-api
Actions follow Segment's Facebook Conversions API (Actions) destination
(packages/destination-actions/src/destinations/facebook-conversions-api); where Meta's
documents say otherwise, they win.

Customer information is normalized and hashed with SHA-256 here, as Meta's customer
information parameters document asks; a value that already is a SHA-256 digest goes as it is.
"""

import hashlib
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

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
    Request,
    Setting,
    json_request,
)
from .defaults import path, path_or

GRAPH_ORIGIN = "https://graph.facebook.com"
# The newest Graph API version Meta's changelog lists (v26.0, July 29, 2026); a setting can
# pin another. Segment's destination pins v24.0.
GRAPH_API_VERSION = "v26.0"
# "You can send up to 1,000 events in data" (Using the API).
MAX_EVENTS = 1000
DEFAULT_BATCH_SIZE = 100
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Graph API error codes (https://developers.facebook.com/docs/graph-api/guides/error-handling
# and .../overview/rate-limiting): throttling, transient outages, tokens and permissions.
RATE_LIMITED = frozenset({4, 17, 32, 613, 80004})
TRANSIENT = frozenset({1, 2})
BAD_TOKEN = frozenset({102, 190})
NO_PERMISSION = frozenset({10, *range(200, 300)})
INVALID_PARAMETER = 100
# The transport's own cap on a Retry-After: past a day the retry window decides.
MAX_WAIT_SECONDS = 24 * 3600.0
# Meta names an event of the batch in its parameter errors as `$['data'][3]`.
EVENT_INDEX = re.compile(r"\$\['data'\]\[(\d+)\]")
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


def normalized(value: Any) -> str:
    return str(value).strip().lower()


def digits(value: str) -> str:
    # "Remove symbols, letters, and any leading zeros"; the country code stays.
    return re.sub(r"\D", "", value).lstrip("0")


def birth_date(value: str) -> str:
    """YYYYMMDD, from an ISO date (Segment's birthday trait) or digits."""
    if match := re.match(r"(\d{4})-(\d{2})-(\d{2})", value):
        return "".join(match.groups())
    return re.sub(r"\D", "", value)


def gender(value: str) -> str:
    return {"m": "m", "male": "m", "f": "f", "female": "f"}.get(value, "")


def postal_code(value: str) -> str:
    # The SDK's rule: no spaces, and a US ZIP+4 keeps its first five digits.
    return re.sub(r"\s", "", value).split("-")[0]


def letters(value: str) -> str:
    return re.sub(r"[^a-z]", "", value)


def place(value: str) -> str:
    # Meta's SDK drops digits, spaces, dots, dashes and brackets from cities and states.
    return re.sub(r"[0-9.\s\-()]", "", value)


Normalizer = Callable[[str], str]
# Field key, Meta's key, and how a value is normalized before hashing (Meta's customer
# information parameters and its Business SDK's normalize.py); None: sent as it is.
USER_DATA: tuple[tuple[str, str, Normalizer | None], ...] = (
    ("email", "em", str),
    ("phone", "ph", digits),
    ("first_name", "fn", str),
    ("last_name", "ln", str),
    ("gender", "ge", gender),
    ("date_of_birth", "db", birth_date),
    ("city", "ct", place),
    ("state", "st", place),
    ("zip", "zp", postal_code),
    ("country", "country", letters),
    # Hashing is "recommended" for external IDs; Segment hashes them, and so do we.
    ("external_id", "external_id", str),
    ("client_ip_address", "client_ip_address", None),
    ("client_user_agent", "client_user_agent", None),
    ("fbc", "fbc", None),
    ("fbp", "fbp", None),
)


def hashed(value: Any, normalize: Normalizer) -> str:
    text = normalized(value)
    if SHA256_HEX.fullmatch(text):
        return text  # hashed already: hashing it again would match no one
    clean = normalize(text)
    return hashlib.sha256(clean.encode()).hexdigest() if clean else ""


def user_data(payload: dict[str, Any]) -> dict[str, str]:
    data = {}
    for key, meta_key, normalize in USER_DATA:
        value = payload.get(key)
        if value is None:
            continue
        sent = str(value) if normalize is None else hashed(value, normalize)
        if sent:
            data[meta_key] = sent
    return data


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


def graph_error(answer: Answer) -> dict[str, Any] | None:
    try:
        reply = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return None
    error = reply.get("error") if isinstance(reply, dict) else None
    return error if isinstance(error, dict) and type(error.get("code")) is int else None


def describe(error: dict[str, Any]) -> str:
    text = error.get("error_user_msg") or error.get("message") or "no message"
    codes = "/".join(str(error[k]) for k in ("code", "error_subcode") if error.get(k) is not None)
    trace = f" (fbtrace_id {error['fbtrace_id']})" if error.get("fbtrace_id") else ""
    return f"Meta error {codes}: {text}{trace}"


def read_error(answer: Answer) -> ItemResult | None:
    """A Graph API error by its code: throttling and outages are retried, token and
    permission errors fail as authentication, an invalid parameter fails."""
    error = graph_error(answer)
    if error is None:
        return None
    code, message = error["code"], describe(error)
    if code in RATE_LIMITED:
        return ItemResult(Outcome.RETRY, "TOO_MANY_REQUESTS", message, regain_access(answer))
    if code in TRANSIENT or error.get("is_transient") is True:
        return ItemResult(Outcome.RETRY, "SERVICE_UNAVAILABLE", message)
    if code in BAD_TOKEN or code in NO_PERMISSION:
        return ItemResult(Outcome.FAILED, "INVALID_AUTHENTICATION", message)
    if code == INVALID_PARAMETER:
        return ItemResult(Outcome.FAILED, "INVALID_PARAMETER", message)
    return None


def regain_access(answer: Answer) -> float | None:
    """Seconds until Meta lifts the throttle: the largest `estimated_time_to_regain_access`
    (minutes) of the X-Business-Use-Case-Usage header, or None."""
    try:
        usage = orjson.loads(answer.headers.get("x-business-use-case-usage", ""))
    except orjson.JSONDecodeError:
        return None
    entries = usage.values() if isinstance(usage, dict) else ()
    minutes = [
        entry["estimated_time_to_regain_access"]
        for group in entries
        if isinstance(group, list)
        for entry in group
        if isinstance(entry, dict)
        and type(entry.get("estimated_time_to_regain_access")) in (int, float)
    ]
    return min(max(0.0, max(minutes) * 60.0), MAX_WAIT_SECONDS) if minutes else None


def read_response(answer: Answer, count: int) -> list[ItemResult] | None:
    """A refused request item by item, so that it is not split to find what Meta already
    said: an error naming `$['data'][i]` fails that event and retries the others at once
    (Meta processed none of them); an error about the request (token, throttling) counts
    for all. Anything else is judged whole, and a 400 of several events is split."""
    if 200 <= answer.status < 300 or (error := graph_error(answer)) is None:
        return None
    texts = " ".join(str(error.get(key) or "") for key in ("message", "error_user_msg"))
    named = {int(i) for i in EVENT_INDEX.findall(texts) if int(i) < count}
    if named and error["code"] == INVALID_PARAMETER:
        failed = ItemResult(Outcome.FAILED, "INVALID_PARAMETER", describe(error))
        innocent = ItemResult(Outcome.RETRY, "BATCH_REFUSED", "another event was invalid", 0)
        return [failed if i in named else innocent for i in range(count)]
    result = read_error(answer)
    if result is None or result.code == "INVALID_PARAMETER":
        return None
    return [result] * count


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
