"""Braze custom events, purchases and user attributes, with the Track users endpoint:
https://www.braze.com/docs/api/endpoints/user_data/post_user_track/
"""

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import orjson

from destinations.mapping import js_text

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
from .braze_rules import (
    DEFAULT_ENDPOINT,
    ENDPOINTS,
    MAX_OBJECT_BYTES,
    MAX_OBJECTS,
    answer_reader,
    braze_gender,
    read_rate_limit,
)
from .defaults import path, path_or

# Segment's Braze destination defaults a purchase's currency the same way.
DEFAULT_CURRENCY = "USD"
PRODUCT_KEYS = ("product_id", "currency", "price", "quantity")
# Segment's trait names for attributes that this action sets as standard ones.
SEGMENT_TRAIT_NAMES = frozenset({"firstName", "lastName", "avatar"})
# Fields of Update user profile that are not attributes of the same name.
NOT_ATTRIBUTES = frozenset({"user_alias", "custom_attributes"})

ObjectsOf = Callable[[Config, dict[str, Any]], list[dict[str, Any]]]
Group = tuple[int, list[dict[str, Any]]]  # an item's index and its objects


def track_url(config: Config) -> str:
    # A base URL someone typed (a proxy, a test server) wins over the instance setting.
    endpoint = config.get("base_url") or config.get("endpoint") or DEFAULT_ENDPOINT
    return f"{endpoint.rstrip('/')}/users/track"


def auth(config: Config) -> dict[str, str]:
    return {"Authorization": f"Bearer {config['api_key']}"}


def compact(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def identifiers(payload: dict[str, Any]) -> dict[str, Any]:
    """The user's identifiers; an alias counts only with both its name and its label."""
    found = {key: payload.get(key) for key in ("external_id", "braze_id", "email", "phone")}
    alias = payload.get("user_alias")
    if isinstance(alias, dict) and alias.get("alias_name") and alias.get("alias_label"):
        found["user_alias"] = {
            "alias_name": alias["alias_name"],
            "alias_label": alias["alias_label"],
        }
    return {key: value for key, value in found.items() if value}


def failed(message: str) -> ItemResult:
    return ItemResult(Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED", message)


def refuse_anonymous(payload: dict[str, Any]) -> ItemResult | None:
    # Braze names the object's error in a 201 either way; refusing it here keeps a batch of
    # only such objects from earning a fatal 400.
    if identifiers(payload):
        return None
    return failed(
        "Braze needs an external_id, a user_alias (name and label), a braze_id, an email or "
        "a phone to know the user; this has none"
    )


def refuse_purchase(payload: dict[str, Any]) -> ItemResult | None:
    products = payload.get("products")
    if not products:
        return failed("the event has no products, and Braze records a purchase per product")
    if not all(isinstance(product, dict) and product.get("product_id") for product in products):
        return failed("every product needs a product_id")
    if len(products) > MAX_OBJECTS:
        message = f"{len(products)} products are over Braze's limit of {MAX_OBJECTS} per request"
        return ItemResult(Outcome.FAILED, "PAYLOAD_TOO_LARGE", message)
    return refuse_anonymous(payload)


def event(config: Config, payload: dict[str, Any]) -> list[dict[str, Any]]:
    fields = {
        "app_id": config.get("app_id") or None,
        "name": payload["name"],
        "time": payload["time"],
        "properties": payload.get("properties"),
        "_update_existing_only": payload.get("_update_existing_only"),
    }
    return [{**identifiers(payload), **compact(fields)}]


def purchases(config: Config, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """A purchase object per product, as Segment's Track Purchase splits `products`: the
    product's other keys and the event's properties become the purchase's properties."""
    shared = {**identifiers(payload), **compact({"app_id": config.get("app_id") or None})}
    properties = payload.get("properties") or {}
    event_properties = {key: value for key, value in properties.items() if key != "products"}
    currency = payload.get("currency") or DEFAULT_CURRENCY
    objects = []
    for product in payload["products"]:
        fields = {
            "time": payload["time"],
            "product_id": js_text(product["product_id"]),
            "currency": product.get("currency") or currency,
            "price": product.get("price"),
            "quantity": product.get("quantity"),
            "properties": {
                **{k: v for k, v in product.items() if k not in PRODUCT_KEYS},
                **event_properties,
            },
            "_update_existing_only": payload.get("_update_existing_only"),
        }
        objects.append({**shared, **compact(fields)})
    return objects


def attributes(config: Config, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Custom attributes first, without the keys that standard attributes set (Segment's
    names for them included), then the standard attributes."""
    reserved = {field.key for field in UPDATE_USER_PROFILE.fields} | SEGMENT_TRAIT_NAMES
    custom = payload.get("custom_attributes") or {}
    kept = {key: value for key, value in custom.items() if key not in reserved}
    standard = {key: payload[key] for key in payload if key not in NOT_ATTRIBUTES} | {
        "gender": braze_gender(payload.get("gender")),
        "dob": payload["dob"][:10] if "dob" in payload else None,
        "current_location": payload.get("current_location") or None,
    }
    return [{**kept, **identifiers(payload), **compact(standard)}]


def track_builder(array: str, objects_of: ObjectsOf, refuse: Refusal) -> Builder:
    def build(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
        groups = [
            (index, objects_of(config, payload))
            for index, payload in enumerate(payloads)
            if refuse(payload) is None
        ]
        return [track_request(config, array, chunk) for chunk in chunked(groups)]

    return build


def chunked(groups: list[Group]) -> Iterator[list[Group]]:
    """Items with their objects, cut into requests of at most 75 objects and 4 MB; an item's
    objects always go together, so that one answer judges the item."""
    chunk: list[Group] = []
    count = size = 0
    for index, objects in groups:
        weight = sum(len(orjson.dumps(item)) + 1 for item in objects)
        if chunk and (count + len(objects) > MAX_OBJECTS or size + weight > MAX_OBJECT_BYTES):
            yield chunk
            chunk, count, size = [], 0, 0
        chunk.append((index, objects))
        count += len(objects)
        size += weight
    if chunk:
        yield chunk


def track_request(config: Config, array: str, chunk: list[Group]) -> Request:
    body = {array: [item for _, objects in chunk for item in objects]}
    items = tuple(index for index, _ in chunk)
    request = json_request("POST", track_url(config), body, items, auth(config))
    owners = tuple(position for position, (_, objects) in enumerate(chunk) for _ in objects)
    return replace(request, object_items=owners)


def test_request(config: Config) -> Request:
    """An empty Track users call: Braze checks the key first (401 for an unknown one) and
    then refuses the body with 400, having recorded nothing."""
    return json_request("POST", track_url(config), {}, (), auth(config))


def track_action(
    array: str, objects_of: ObjectsOf, refuse: Refusal = refuse_anonymous, **action: Any
) -> Action:
    return Action(
        **action,
        build=track_builder(array, objects_of, refuse),
        batching=True,
        max_batch_size=MAX_OBJECTS,
        default_batch_size=MAX_OBJECTS,
        max_batch_bytes=MAX_OBJECT_BYTES,
        read_response=answer_reader(array),
        read_error=read_rate_limit,
        refuse=refuse,
    )


USER_ALIAS = Field("user_alias", "User alias", "object", description="alias_name and alias_label")
BRAZE_ID = Field("braze_id", "Braze user ID", "string", default=path("$.properties.braze_id"))
UPDATE_EXISTING_ONLY = Field(
    "_update_existing_only",
    "Update existing users only",
    "boolean",
    default=False,
    description="True: never create a user. Braze needs false to create alias-only users.",
)
# Braze's "time" is when the event happened: the event's timestamp (Segment maps receivedAt).
TIME = Field("time", "Time", "datetime", True, path("$.timestamp"))
EXTERNAL_ID = Field("external_id", "External user ID", "string", default=path("$.userId"))
EVENT_EMAIL = path_or("$.context.traits.email", "$.properties.email")
EVENT_USER = (
    EXTERNAL_ID,
    USER_ALIAS,
    Field("email", "Email", "string", default=EVENT_EMAIL),
    BRAZE_ID,
)

TRACK_EVENT = track_action(
    "events",
    event,
    key="track_event",
    title="Track event",
    description="Record a custom event in Braze.",
    default_trigger='type = "track" and event != "Order Completed"',
    fields=(
        *EVENT_USER,
        Field("name", "Event name", "string", True, path("$.event")),
        TIME,
        Field("properties", "Event properties", "object", default=path("$.properties")),
        UPDATE_EXISTING_ONLY,
    ),
)

TRACK_PURCHASE = track_action(
    "purchases",
    purchases,
    refuse_purchase,
    key="track_purchase",
    title="Track purchase",
    description="Record a purchase in Braze for each product of an order.",
    default_trigger='type = "track" and event = "Order Completed"',
    fields=(
        *EVENT_USER,
        TIME,
        Field("products", "Products", "array", True, path("$.properties.products")),
        Field(
            "currency",
            "Currency",
            "string",
            default=path("$.properties.currency"),
            description="For products without their own; USD when neither has one.",
        ),
        Field("properties", "Event properties", "object", default=path("$.properties")),
        UPDATE_EXISTING_ONLY,
    ),
)

UPDATE_USER_PROFILE = track_action(
    "attributes",
    attributes,
    key="update_user_profile",
    title="Update user profile",
    description="Set standard and custom attributes on a Braze user.",
    default_trigger='type = "identify"',
    fields=(
        EXTERNAL_ID,
        USER_ALIAS,
        BRAZE_ID,
        Field("email", "Email", "string", default=path("$.traits.email")),
        Field("phone", "Phone", "string", default=path("$.traits.phone")),
        Field("first_name", "First name", "string", default=path("$.traits.firstName")),
        Field("last_name", "Last name", "string", default=path("$.traits.lastName")),
        Field("gender", "Gender", "string", default=path("$.traits.gender")),
        Field("dob", "Date of birth", "datetime", description="Sent as YYYY-MM-DD."),
        Field("country", "Country", "string", default=path("$.context.location.country")),
        Field("home_city", "Home city", "string", default=path("$.traits.address.city")),
        Field("image_url", "Image URL", "string", default=path("$.traits.avatar")),
        Field(
            "current_location",
            "Current location",
            "object",
            default={
                "latitude": path("$.context.location.latitude"),
                "longitude": path("$.context.location.longitude"),
            },
        ),
        Field(
            "custom_attributes",
            "Custom attributes",
            "object",
            default=path("$.traits"),
            description="Sent as they are, so they may also set standard attributes the fields "
            "above lack (language, time_zone, email_subscribe, subscription_groups...).",
        ),
        UPDATE_EXISTING_ONLY,
    ),
)

KIND = Kind(
    key="braze",
    name="Braze",
    description="Custom events, purchases and user attributes for Braze.",
    docs_url="https://www.braze.com/docs/api/endpoints/user_data/post_user_track/",
    # Empty, so that the instance setting decides until someone types a base URL.
    default_base_url="",
    settings=(
        Setting(
            "api_key",
            "REST API key",
            "password",
            required=True,
            help="A REST API key with the users.track permission",
        ),
        Setting(
            "endpoint",
            "REST endpoint",
            "choice",
            default=DEFAULT_ENDPOINT,
            choices=ENDPOINTS,
            help="Your instance's REST endpoint, shown in Braze under APIs and Identifiers",
            chooses_host=True,
        ),
        Setting("app_id", "App identifier", help="Sent with events and purchases when set"),
    ),
    actions=(TRACK_EVENT, TRACK_PURCHASE, UPDATE_USER_PROFILE),
    presets=(
        Preset("Track calls", "track_event", TRACK_EVENT.default_trigger),
        Preset("Order completed calls", "track_purchase", TRACK_PURCHASE.default_trigger),
        Preset("Identify calls", "update_user_profile", UPDATE_USER_PROFILE.default_trigger),
    ),
    # A good key earns 400 for the empty body; an unknown one 401 (or 404).
    connection_test=ConnectionTest(test_request, frozenset({*range(200, 300), 400})),
    orders_per_user=True,
)
