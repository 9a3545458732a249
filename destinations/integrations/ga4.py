"""Google Analytics 4 events through the Measurement Protocol.

https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference
Actions follow Segment's Google Analytics 4 Cloud destination
(packages/destination-actions/src/destinations/google-analytics-4); where Google's documents
say otherwise, they win.

GA4 answers 2xx to every request it receives and drops what it cannot use without a word,
so the rules it documents are checked here and an event that breaks one fails alone, with
the reason, instead of vanishing. Events of one request share its device and user, so a
batch goes as one request per device, user, user properties and consent.
"""

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from .base import (
    Action,
    Builder,
    Config,
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
from .ga4_rules import (
    MAX_NAME_LENGTH,
    MAX_USER_PROPERTY_NAME_LENGTH,
    RESERVED_EVENT_NAME,
    RESERVED_USER_PROPERTY,
    currency_problem,
    entries_problem,
    event_name,
    items_problem,
    name_problem,
    read_validation,
)

GLOBAL_HOST = "www.google-analytics.com"
EU_HOST = "region1.google-analytics.com"
COLLECT_PATH = "/mp/collect"
VALIDATION_PATH = "/debug/mp/collect"
WEB, APP = "web", "app"
# Limits from the protocol reference and "Event collection limits"
# (https://support.google.com/analytics/answer/9267744).
MAX_EVENTS = 25
MAX_BODY_BYTES = 130_000
STRICT_VALIDATION = {"validation_behavior": "ENFORCE_RECOMMENDATIONS"}

Event = dict[str, Any]
ToEvent = Callable[[dict[str, Any]], Event]


def origin(config: Config) -> str:
    # A base URL set on purpose (a proxy, a test server) wins over the collection host.
    return config.base_url or f"https://{config.get('host') or GLOBAL_HOST}"


def stream_url(config: Config, path: str) -> str:
    stream_key = "firebase_app_id" if config.get("stream_type") == APP else "measurement_id"
    # Google's own examples put the stream and the secret in the query: the protocol has no
    # other place for them. Firebase app IDs keep their colons, as Google's examples write them.
    query = {stream_key: config["stream_id"], "api_secret": config["api_secret"]}
    return f"{origin(config)}{path}?{urlencode(query, safe=':', quote_via=quote)}"


def device_key(config: Config) -> str:
    return "app_instance_id" if config.get("stream_type") == APP else "client_id"


def ga4_event(name: str, payload: dict[str, Any], params: dict[str, Any]) -> Event:
    extra = {"engagement_time_msec": payload.get("engagement_time_msec")}
    merged = {**params, **extra, **(payload.get("params") or {})}
    event = {"name": name, "params": {k: v for k, v in merged.items() if v is not None}}
    if "timestamp" in payload:
        # Each event keeps its own time: an event's timestamp_micros wins over the request's.
        event["timestamp_micros"] = payload["timestamp"] * 1000
    return event


def envelope(payload: dict[str, Any], device: str) -> dict[str, Any]:
    """What a request says once for all its events: device, user, user properties, consent."""
    body: dict[str, Any] = {device: payload["client_id"]}
    if "user_id" in payload:
        body["user_id"] = payload["user_id"]
    if properties := payload.get("user_properties"):
        body["user_properties"] = {name: {"value": value} for name, value in properties.items()}
    consent = {
        "ad_user_data": payload.get("ad_user_data_consent"),
        "ad_personalization": payload.get("ad_personalization_consent"),
    }
    if consent := {key: value for key, value in consent.items() if value}:
        body["consent"] = consent
    return body


def event_problem(event: Event, payload: dict[str, Any]) -> str | None:
    """Why GA4 would drop the event or part of it, or None."""
    params = event["params"]
    return (
        name_problem("event name", event["name"], MAX_NAME_LENGTH, RESERVED_EVENT_NAME)
        or entries_problem("parameter", params, MAX_NAME_LENGTH)
        or items_problem(params.get("items", []))
        or currency_problem(params.get("currency"))
        or entries_problem(
            "user property",
            payload.get("user_properties") or {},
            MAX_USER_PROPERTY_NAME_LENGTH,
            RESERVED_USER_PROPERTY,
        )
        or size_problem(event, payload)
    )


def size_problem(event: Event, payload: dict[str, Any]) -> str | None:
    # Sized with the longer of the two device keys, so that either stream fits.
    body = {**envelope(payload, "app_instance_id"), "events": [event]}
    try:
        size = len(orjson.dumps(body))
    except orjson.JSONEncodeError as error:  # an integer over 64 bits, say
        return f"the event cannot be written as JSON: {error}"
    if size > MAX_BODY_BYTES:
        return f"the event's request would be {size} bytes; GA4 takes under {MAX_BODY_BYTES}"
    return None


def same_request(payload: dict[str, Any]) -> bytes:
    """Events that may share a request: the same device, user, user properties and consent."""
    return orjson.dumps(envelope(payload, "device"), option=orjson.OPT_SORT_KEYS)


def chunks(
    events: list[tuple[int, Event]], envelope_size: int
) -> Iterator[list[tuple[int, Event]]]:
    """At most 25 events and under 130 kB per request, in their order."""
    chunk: list[tuple[int, Event]] = []
    size = envelope_size
    for index, event in events:
        event_size = len(orjson.dumps(event)) + 1
        if chunk and (len(chunk) == MAX_EVENTS or size + event_size > MAX_BODY_BYTES):
            yield chunk
            chunk, size = [], envelope_size
        chunk.append((index, event))
        size += event_size
    if chunk:
        yield chunk


def refusal(to_event: ToEvent) -> Refusal:
    def refuse(payload: dict[str, Any]) -> ItemResult | None:
        problem = event_problem(to_event(payload), payload)
        return ItemResult(Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED", problem) if problem else None

    return refuse


def batch_builder(to_event: ToEvent, path: str, extra: dict[str, Any]) -> Builder:
    def build(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
        groups: dict[bytes, list[tuple[int, Event]]] = {}
        for index, payload in enumerate(payloads):
            event = to_event(payload)
            if event_problem(event, payload) is None:
                groups.setdefault(same_request(payload), []).append((index, event))
        requests = []
        for members in groups.values():
            head = {**envelope(payloads[members[0][0]], device_key(config)), **extra}
            for chunk in chunks(members, len(orjson.dumps({**head, "events": []}))):
                body = {**head, "events": [event for _, event in chunk]}
                items = tuple(index for index, _ in chunk)
                requests.append(json_request("POST", stream_url(config, path), body, items))
        return requests

    return build


COMMON_FIELDS = (
    Field(
        "client_id",
        "Client ID or app instance ID",
        "string",
        True,
        path_or("$.anonymousId", "$.userId"),
        "Web streams: the device's client ID. App streams: the Firebase app instance ID, "
        "which only the Firebase SDK knows; map it from where your app sends it.",
    ),
    Field("user_id", "User ID", "string", False, path("$.userId")),
    Field("timestamp", "Timestamp", "datetime", False, path("$.timestamp"), "", "epoch_ms"),
    Field(
        "engagement_time_msec",
        "Engagement time (ms)",
        "integer",
        False,
        1,
        "GA4 counts a user as active only with a non-zero engagement time; Segment sends 1.",
    ),
    Field("params", "Event parameters", "object", description="More parameters, text or numbers."),
    Field("user_properties", "User properties", "object"),
    Field("ad_user_data_consent", "Ad user data consent", "string", choices=("GRANTED", "DENIED")),
    Field(
        "ad_personalization_consent",
        "Ad personalization consent",
        "string",
        choices=("GRANTED", "DENIED"),
    ),
)


def items_field(products: str) -> Field:
    shape = {
        "item_id": path("$.product_id"),
        "item_name": path("$.name"),
        "affiliation": path("$.affiliation"),
        "coupon": path("$.coupon"),
        "item_brand": path("$.brand"),
        "item_category": path("$.category"),
        "item_variant": path("$.variant"),
        "price": path("$.price"),
        "quantity": path("$.quantity"),
    }
    return Field("items", "Items", "array", True, {"@arrayPath": [products, shape]})


def ga4_action(
    key: str, title: str, fields: tuple[Field, ...], trigger: str, name: str = ""
) -> Action:
    """A recommended event `name`, its parameters the action's own fields; or, without a
    name, a custom event named by the payload."""
    to_event = recommended(name, fields) if name else custom
    return Action(
        key=key,
        title=title,
        description=f"Send a GA4 {title.lower()} event through the Measurement Protocol.",
        fields=COMMON_FIELDS[:3] + fields + COMMON_FIELDS[3:],
        build=batch_builder(to_event, COLLECT_PATH, {}),
        batching=True,
        max_batch_size=MAX_EVENTS,
        default_batch_size=MAX_EVENTS,
        default_trigger=trigger,
        read_response=read_validation,
        refuse=refusal(to_event),
        build_test=batch_builder(to_event, VALIDATION_PATH, STRICT_VALIDATION),
    )


def recommended(name: str, fields: tuple[Field, ...]) -> ToEvent:
    keys = [field.key for field in fields]
    return lambda payload: ga4_event(name, payload, {key: payload.get(key) for key in keys})


def custom(payload: dict[str, Any]) -> Event:
    return ga4_event(event_name(payload["name"], payload.get("lowercase", False)), payload, {})


CUSTOM_EVENT = ga4_action(
    "custom_event",
    "Custom event",
    (
        Field("name", "Event name", "string", True, path("$.event"), "Spaces become _."),
        Field("lowercase", "Lowercase the event name", "boolean", False, False),
    ),
    'type = "track"',
)

PAGE_VIEW = ga4_action(
    "page_view",
    "Page view",
    (
        Field("page_location", "Page location", "string", False, path("$.context.page.url")),
        Field("page_referrer", "Page referrer", "string", False, path("$.context.page.referrer")),
        Field("page_title", "Page title", "string", False, path("$.context.page.title")),
    ),
    'type = "page"',
    "page_view",
)

PURCHASE = ga4_action(
    "purchase",
    "Purchase",
    (
        Field("transaction_id", "Order ID", "string", True, path("$.properties.order_id")),
        Field("affiliation", "Affiliation", "string", False, path("$.properties.affiliation")),
        Field("currency", "Currency", "string", True, path("$.properties.currency")),
        Field("value", "Value", "number", False, path("$.properties.total")),
        Field("coupon", "Coupon", "string", False, path("$.properties.coupon")),
        Field("shipping", "Shipping", "number", False, path("$.properties.shipping")),
        Field("tax", "Tax", "number", False, path("$.properties.tax")),
        items_field("$.properties.products"),
    ),
    'type = "track" and event = "Order Completed"',
    "purchase",
)

ADD_TO_CART = ga4_action(
    "add_to_cart",
    "Add to cart",
    (
        Field("currency", "Currency", "string", False, path("$.properties.currency")),
        Field("value", "Value", "number", False, path("$.properties.price")),
        items_field("$.properties"),
    ),
    'type = "track" and event = "Product Added"',
    "add_to_cart",
)

KIND = Kind(
    key="ga4",
    name="Google Analytics 4",
    description="Events, page views and e-commerce events for a GA4 web or app stream.",
    docs_url="https://developers.google.com/analytics/devguides/collection/protocol/ga4",
    default_base_url="",
    settings=(
        Setting(
            "api_secret",
            "API secret",
            "password",
            required=True,
            help="Admin > Data streams > your stream > Measurement Protocol API secrets.",
        ),
        Setting(
            "stream_id",
            "Measurement ID or Firebase app ID",
            required=True,
            help="A web stream's measurement ID (G-…) or an app stream's Firebase app ID.",
        ),
        Setting(
            "stream_type",
            "Stream type",
            "choice",
            default=WEB,
            choices=(WEB, APP),
            help="Web sends measurement_id and client_id; app sends firebase_app_id and "
            "app_instance_id.",
        ),
        Setting(
            "host",
            "Collection host",
            "choice",
            default=GLOBAL_HOST,
            choices=(GLOBAL_HOST, EU_HOST),
            help=f"{EU_HOST} collects the data in the EU.",
            chooses_host=True,
        ),
    ),
    actions=(CUSTOM_EVENT, PAGE_VIEW, PURCHASE, ADD_TO_CART),
    presets=(
        Preset("Page views", "page_view", PAGE_VIEW.default_trigger),
        Preset("Purchases", "purchase", PURCHASE.default_trigger),
        Preset("Products added to cart", "add_to_cart", ADD_TO_CART.default_trigger),
    ),
)
