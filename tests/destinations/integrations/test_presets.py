"""The catalog's preset triggers and default mappings (docs/destinations.md, "Wire formats"), read
from the registry.

The registry is the one source of the triggers and mappings; this module holds only what
docs/destinations.md says of them: which event types each trigger picks, and the exact payload
each mapping makes of a typical Segment event (after the action's field schema is applied).
A preset or an action added to the registry without an entry here fails with a message
saying which entry to add.
"""

from typing import Any

import pytest

from destinations import mapping, triggers
from destinations.delivery.payloads import PayloadInvalid, prepare
from destinations.integrations import REGISTRY
from tests.destinations import events
from tests.destinations.events import CONTEXT

# Every sample event carries this moment, which each action writes in its own format.
ISO_TIME = "2026-03-01T12:00:00.000Z"
EPOCH_MILLISECONDS = 1_772_366_400_000
EPOCH_SECONDS = 1_772_366_400

SAMPLES = [
    events.track(),
    events.identify(),
    events.page(),
    events.screen(),
    events.group(),
    events.alias(),
]

# (kind key, preset name) -> the event types its trigger picks.
PRESET_EVENT_TYPES = {
    ("metronome", "Send track events"): {"track"},
    ("launchdarkly", "Track events"): {"track"},
    ("launchdarkly", "Alias users"): {"identify", "alias"},
    ("librato", "Track events"): {"track"},
    ("librato", "Page views"): {"page"},
    ("segment", "Forward track messages"): {"track"},
    ("segment", "Forward identify messages"): {"identify"},
    ("segment", "Forward page messages"): {"page"},
    ("segment", "Forward screen messages"): {"screen"},
    ("segment", "Forward group messages"): {"group"},
    # Google Analytics 4
    ("ga4", "Page views"): {"page"},
    ("ga4", "Purchases"): set(),  # track "Order Completed" only; no sample is one
    ("ga4", "Products added to cart"): set(),  # track "Product Added" only
    # Meta Conversions API
    ("meta_conversions", "Purchases"): set(),
    ("meta_conversions", "Products added to cart"): set(),
    ("meta_conversions", "Page views"): {"page"},
    # Amplitude
    ("amplitude", "Track calls"): {"track"},
    ("amplitude", "Page calls"): {"page"},
    ("amplitude", "Screen calls"): {"screen"},
    ("amplitude", "Identify calls"): {"identify"},
    # Mixpanel
    ("mixpanel", "Track calls"): {"track"},
    ("mixpanel", "Page calls"): {"page"},
    ("mixpanel", "Screen calls"): {"screen"},
    ("mixpanel", "Identify calls"): {"identify"},
    ("mixpanel", "Group calls"): {"group"},
    # Braze
    ("braze", "Track calls"): {"track"},
    ("braze", "Order completed calls"): set(),
    ("braze", "Identify calls"): {"identify"},
    # Customer.io
    ("customerio", "Create or update person"): {"identify"},
    ("customerio", "Track event"): {"track"},
    ("customerio", "Track page view"): {"page"},
    ("customerio", "Delete person"): set(),
    # Klaviyo
    ("klaviyo", "Track events"): {"track"},
    ("klaviyo", "Upsert profiles"): {"identify"},
    # HubSpot
    ("hubspot", "Upsert contacts"): {"identify"},
    ("hubspot", "Upsert companies"): {"group"},
    # PostHog
    ("posthog", "Track events"): {"track"},
    ("posthog", "Page views"): {"page"},
    ("posthog", "Screen views"): {"screen"},
    ("posthog", "Identify users"): {"identify"},
    # Slack
    ("slack", "Post track events"): {"track"},
    # PostgreSQL warehouse
    ("postgres_warehouse", "Load every event"): {
        *("track", "identify", "page", "screen", "group", "alias")
    },
}

# (kind key, action key) -> the event types the trigger of a mapping made from the action
# picks. No preset names a trigger for the webhook or the forwarder's alias action: those are
# the registry's choices, kept here so that a change to them is deliberate.
DEFAULT_TRIGGER_EVENT_TYPES = {
    ("metronome", "send_event"): {"track"},
    ("aggregations_io", "send_events"): {"track", "page", "screen"},
    ("launchdarkly", "track_event"): {"track"},
    ("launchdarkly", "alias_user"): {"identify", "alias"},
    ("librato", "send_gauge"): {"track"},
    ("webhook", "send"): {"track"},
    ("segment", "send_track"): {"track"},
    ("segment", "send_identify"): {"identify"},
    ("segment", "send_page"): {"page"},
    ("segment", "send_screen"): {"screen"},
    ("segment", "send_group"): {"group"},
    ("segment", "send_alias"): {"alias"},
    # Google Analytics 4
    ("ga4", "custom_event"): {"track"},
    ("ga4", "page_view"): {"page"},
    ("ga4", "purchase"): set(),
    ("ga4", "add_to_cart"): set(),
    # Meta Conversions API
    ("meta_conversions", "purchase"): set(),
    ("meta_conversions", "add_to_cart"): set(),
    ("meta_conversions", "page_view"): {"page"},
    ("meta_conversions", "custom_event"): {"track"},
    # Amplitude
    ("postgres_warehouse", "load"): {"track", "identify", "page", "screen", "group", "alias"},
    ("amplitude", "log_event"): {"track"},
    ("amplitude", "identify_user"): {"identify"},
    ("amplitude", "group_identify"): {"group"},
    # Mixpanel
    ("mixpanel", "track_event"): {"track"},
    ("mixpanel", "identify_user"): {"identify"},
    ("mixpanel", "group_identify"): {"group"},
    ("mixpanel", "alias"): {"alias"},
    # Braze
    ("braze", "track_event"): {"track"},
    ("braze", "track_purchase"): set(),
    ("braze", "update_user_profile"): {"identify"},
    # Customer.io
    ("customerio", "create_or_update_person"): {"identify"},
    ("customerio", "track_event"): {"track"},
    ("customerio", "track_page_view"): {"page"},
    ("customerio", "delete_person"): set(),
    # Klaviyo
    ("klaviyo", "track_event"): {"track"},
    ("klaviyo", "upsert_profile"): {"identify"},
    ("klaviyo", "add_to_list"): set(),
    # HubSpot
    ("hubspot", "send_custom_behavioral_event"): {"track"},
    ("hubspot", "upsert_contact"): {"identify"},
    ("hubspot", "upsert_company"): {"group"},
    # PostHog
    ("posthog", "capture_event"): {"track"},
    ("posthog", "identify"): {"identify"},
    # Slack
    ("slack", "post_message"): {"track"},
}


def preset_triggers() -> dict[tuple[str, str], str]:
    return {
        (key, preset.name): preset.trigger
        for key, kind in REGISTRY.items()
        for preset in kind.presets
    }


def default_triggers() -> dict[tuple[str, str], str]:
    return {
        (key, action.key): action.default_trigger
        for key, kind in REGISTRY.items()
        for action in kind.actions
    }


def default_mappings() -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(kind key, preset name) -> (action key, fields) for every preset, plus
    (kind key, action title) -> (action key, default fields) for every action no preset uses."""
    found = {}
    for key, kind in REGISTRY.items():
        for preset in kind.presets:
            action = kind.action(preset.action)
            fields = preset.fields if preset.fields is not None else action.default_fields()
            found[key, preset.name] = (action.key, fields)
        used = {preset.action for preset in kind.presets}
        for action in kind.actions:
            if action.key not in used:
                found[key, action.title] = (action.key, action.default_fields())
    return found


DEFAULT_MAPPINGS = default_mappings()


def without(event: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in keys}


def rendering(
    kind: str,
    name: str,
    event: dict[str, Any],
    expected: dict[str, Any],
    case: str = "a typical event",
    added: dict[str, Any] | None = None,
):
    """One row: the registry mapping `name` of `kind` (plus `added` fields, which a person
    must add before saving) turns `event` into exactly `expected`."""
    return pytest.param(kind, name, added or {}, event, expected, id=f"{kind}: {name}: {case}")


RENDERINGS = [
    rendering("postgres_warehouse", "Load every event", events.group(), {"event": events.group()}),
    rendering(
        "metronome",
        "Send track events",
        events.track(),
        {
            "transaction_id": "msg-0001",
            "customer_id": "acme-inc",
            "timestamp": ISO_TIME,
            "event_type": "API Call",
            "properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
        },
    ),
    rendering("aggregations_io", "Send events", events.page(), {"data": events.page()}),
    rendering(
        "launchdarkly",
        "Track events",
        events.track(),
        {
            "context_kind": "user",
            "user_key": "user-1",
            "additional_context_keys": {"unauthenticatedUser": "anon-1"},
            "event_name": "API Call",
            "metric_value": 12.5,
            "event_properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
            "timestamp": EPOCH_MILLISECONDS,
        },
    ),
    rendering(
        "launchdarkly",
        "Track events",
        without(events.track(properties={"value": 2}), "userId"),
        {
            "context_kind": "user",
            "user_key": "anon-1",
            "additional_context_keys": {"unauthenticatedUser": "anon-1"},
            "event_name": "API Call",
            "metric_value": 2,
            "event_properties": {"value": 2},
            "timestamp": EPOCH_MILLISECONDS,
        },
        case="an anonymous visitor without revenue",
    ),
    rendering(
        "launchdarkly",
        "Track events",
        without(events.track(), "anonymousId", "properties"),
        {
            "context_kind": "user",
            "user_key": "user-1",
            "additional_context_keys": {},
            "event_name": "API Call",
            "timestamp": EPOCH_MILLISECONDS,
        },
        case="no anonymous id and no metric",
    ),
    rendering(
        "launchdarkly",
        "Alias users",
        events.alias(anonymousId="anon-other"),
        {"user_key": "user-1", "previous_key": "anon-1", "timestamp": EPOCH_MILLISECONDS},
        case="an alias call, whose previous id wins over its anonymous id",
    ),
    rendering(
        "launchdarkly",
        "Alias users",
        events.identify(),
        {"user_key": "user-1", "previous_key": "anon-1", "timestamp": EPOCH_MILLISECONDS},
        case="an identify call",
    ),
    rendering(
        "librato",
        "Track events",
        events.track(integrations={"Librato": {"source": "checkout-service"}}),
        {
            "name": "API Call",
            "value": 3,
            "measure_time": EPOCH_SECONDS,
            "source": "checkout-service",
        },
    ),
    rendering(
        "librato",
        "Track events",
        events.track(properties={"value": 0}),
        {"name": "API Call", "value": 0, "measure_time": EPOCH_SECONDS},
        case="a zero value and no source",
    ),
    # A null value leaves the payload without one; the gauge builder then sends 1.
    rendering(
        "librato",
        "Track events",
        events.track(properties={"value": None}),
        {"name": "API Call", "measure_time": EPOCH_SECONDS},
        case="a null value",
    ),
    rendering(
        "librato",
        "Page views",
        events.page(context={**CONTEXT, "source": "web"}),
        {"name": "Viewed Pricing Page", "measure_time": EPOCH_SECONDS, "source": "web"},
    ),
    rendering(
        "librato",
        "Page views",
        without(
            events.page(context={**CONTEXT, "Librato": {"source": "s"}, "source": "x"}), "name"
        ),
        {"name": "Loaded a Page", "measure_time": EPOCH_SECONDS, "source": "s"},
        case="no name and the source in context.Librato",
    ),
    rendering(
        "webhook",
        "Send",
        events.track(),
        {
            "url": "https://hooks.example/orders",
            "method": "POST",
            "data": events.track(),
            "enable_batching": False,
        },
        added={"url": "https://hooks.example/orders"},
    ),
    rendering(
        "segment",
        "Forward track messages",
        events.track(),
        {
            "userId": "user-1",
            "anonymousId": "anon-1",
            "messageId": "msg-0001",
            "timestamp": ISO_TIME,
            "context": CONTEXT,
            "event": "API Call",
            "properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
        },
    ),
    rendering(
        "segment",
        "Forward identify messages",
        events.identify(),
        {
            "userId": "user-1",
            "anonymousId": "anon-1",
            "messageId": "idf-0001",
            "timestamp": ISO_TIME,
            "context": CONTEXT,
            "traits": {"email": "ada@example.com", "plan": "pro"},
        },
    ),
    rendering(
        "segment",
        "Forward page messages",
        events.page(),
        {
            "anonymousId": "anon-1",
            "messageId": "pg-0001",
            "timestamp": ISO_TIME,
            "context": CONTEXT,
            "name": "Pricing",
            "properties": {"path": "/pricing", "title": "Pricing"},
        },
    ),
    rendering(
        "segment",
        "Forward screen messages",
        events.screen(),
        {
            "userId": "user-1",
            "messageId": "scr-0001",
            "timestamp": ISO_TIME,
            "context": CONTEXT,
            "name": "Home",
            "category": "App",
            "properties": {"orientation": "portrait"},
        },
    ),
    rendering(
        "segment",
        "Forward group messages",
        events.group(),
        {
            "userId": "user-1",
            "messageId": "grp-0001",
            "timestamp": ISO_TIME,
            "context": CONTEXT,
            "groupId": "acme-inc",
            "traits": {"name": "Acme Inc", "seats": 12},
        },
    ),
    rendering(
        "segment",
        "Send alias",
        events.alias(),
        {
            "userId": "user-1",
            "messageId": "als-0001",
            "timestamp": ISO_TIME,
            "context": CONTEXT,
            "previousId": "anon-1",
        },
    ),
    # Google Analytics 4
    rendering(
        "ga4",
        "Page views",
        events.page(context={**CONTEXT, "page": {"url": "https://shop.example/p", "title": "P"}}),
        {
            "client_id": "anon-1",
            "timestamp": EPOCH_MILLISECONDS,
            "page_location": "https://shop.example/p",
            "page_title": "P",
            "engagement_time_msec": 1,
        },
    ),
    rendering(
        "ga4",
        "Purchases",
        events.track(
            event="Order Completed",
            properties={
                "order_id": "o-1",
                "currency": "EUR",
                "total": 20,
                "tax": 2,
                "products": [{"product_id": "p-1", "name": "Mug", "price": 10, "quantity": 2}],
            },
        ),
        {
            "client_id": "anon-1",
            "user_id": "user-1",
            "timestamp": EPOCH_MILLISECONDS,
            "transaction_id": "o-1",
            "currency": "EUR",
            "value": 20,
            "tax": 2,
            "items": [{"item_id": "p-1", "item_name": "Mug", "price": 10, "quantity": 2}],
            "engagement_time_msec": 1,
        },
    ),
    rendering(
        "ga4",
        "Products added to cart",
        events.track(
            event="Product Added",
            properties={"product_id": "p-1", "name": "Mug", "price": 10, "currency": "EUR"},
        ),
        {
            "client_id": "anon-1",
            "user_id": "user-1",
            "timestamp": EPOCH_MILLISECONDS,
            "currency": "EUR",
            "value": 10,
            "items": [{"item_id": "p-1", "item_name": "Mug", "price": 10}],
            "engagement_time_msec": 1,
        },
    ),
    rendering(
        "ga4",
        "Custom event",
        without(events.track(), "anonymousId"),
        {
            "client_id": "user-1",
            "user_id": "user-1",
            "timestamp": EPOCH_MILLISECONDS,
            "name": "API Call",
            "lowercase": False,
            "engagement_time_msec": 1,
        },
        case="a server-side event without an anonymous id",
    ),
    # Meta Conversions API
    rendering(
        "meta_conversions",
        "Purchases",
        events.track(
            event="Order Completed",
            properties={
                "order_id": "o-1",
                "currency": "EUR",
                "revenue": 20,
                "products": [{"product_id": "p-1", "price": 10, "quantity": 2}],
            },
            context={**CONTEXT, "traits": {"email": "Ada@Example.com"}, "userAgent": "UA/1"},
        ),
        {
            "event_time": EPOCH_SECONDS,
            "event_id": "msg-0001",
            "action_source": "website",
            "email": "Ada@Example.com",
            "external_id": "user-1",
            "client_ip_address": "203.0.113.7",
            "client_user_agent": "UA/1",
            "currency": "EUR",
            "value": 20,
            "order_id": "o-1",
            "contents": [{"id": "p-1", "quantity": 2, "item_price": 10}],
        },
    ),
    rendering(
        "meta_conversions",
        "Products added to cart",
        events.track(event="Product Added", properties={"product_id": "p-1", "price": 10}),
        {
            "event_time": EPOCH_SECONDS,
            "event_id": "msg-0001",
            "action_source": "website",
            "external_id": "user-1",
            "client_ip_address": "203.0.113.7",
            "value": 10,
            "contents": [{"id": "p-1", "item_price": 10}],
        },
    ),
    rendering(
        "meta_conversions",
        "Page views",
        events.page(),
        {
            "event_time": EPOCH_SECONDS,
            "event_id": "pg-0001",
            "action_source": "website",
            "external_id": "anon-1",
            "client_ip_address": "203.0.113.7",
        },
    ),
    rendering(
        "meta_conversions",
        "Custom event",
        events.track(),
        {
            "event_time": EPOCH_SECONDS,
            "event_id": "msg-0001",
            "action_source": "website",
            "external_id": "user-1",
            "client_ip_address": "203.0.113.7",
            "event_name": "API Call",
        },
    ),
    # Amplitude
    rendering(
        "amplitude",
        "Track calls",
        events.track(),
        {
            "user_id": "user-1",
            "device_id": "anon-1",
            "event_type": "API Call",
            "time": EPOCH_MILLISECONDS,
            "insert_id": "msg-0001",
            "event_properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
            "ip": "203.0.113.7",
            "revenue": 12.5,
        },
    ),
    rendering(
        "amplitude",
        "Track calls",
        events.track(
            properties={"price": 4.5, "quantity": 2, "productId": "sku-1", "revenueType": "Refund"},
            context={
                **CONTEXT,
                "device": {
                    "id": "idfv-1",
                    "advertisingId": "ad-1",
                    "type": "ios",
                    "manufacturer": "Apple",
                    "model": "iPhone16,1",
                },
                "os": {"name": "iOS", "version": "18.1"},
                "app": {"version": "2.1.3"},
                "network": {"carrier": "Orange"},
                "location": {"country": "France", "city": "Paris", "latitude": 48.85},
                "locale": "fr-FR",
            },
            integrations={"Actions Amplitude": {"session_id": 1772366000000}},
        ),
        {
            "user_id": "user-1",
            "device_id": "idfv-1",
            "event_type": "API Call",
            "time": EPOCH_MILLISECONDS,
            "session_id": 1772366000000,
            "insert_id": "msg-0001",
            "event_properties": {
                "price": 4.5,
                "quantity": 2,
                "productId": "sku-1",
                "revenueType": "Refund",
            },
            "app_version": "2.1.3",
            "platform": "ios",
            "os_name": "iOS",
            "os_version": "18.1",
            "device_manufacturer": "Apple",
            "device_model": "iPhone16,1",
            "carrier": "Orange",
            "country": "France",
            "city": "Paris",
            "language": "fr-FR",
            "location_lat": 48.85,
            "ip": "203.0.113.7",
            "idfa": "ad-1",
            "idfv": "idfv-1",
            "adid": "ad-1",
            "price": 4.5,
            "quantity": 2,
            "productId": "sku-1",
            "revenueType": "Refund",
        },
        case="a purchase in a mobile app, its device ID and session from the context",
    ),
    rendering(
        "amplitude",
        "Page calls",
        events.page(),
        {
            "device_id": "anon-1",
            "event_type": "Viewed Pricing",
            "time": EPOCH_MILLISECONDS,
            "insert_id": "pg-0001",
            "event_properties": {"path": "/pricing", "title": "Pricing"},
            "ip": "203.0.113.7",
        },
    ),
    rendering(
        "amplitude",
        "Screen calls",
        events.screen(),
        {
            "user_id": "user-1",
            "event_type": "Viewed Home",
            "time": EPOCH_MILLISECONDS,
            "insert_id": "scr-0001",
            "event_properties": {"orientation": "portrait"},
            "ip": "203.0.113.7",
        },
    ),
    rendering(
        "amplitude",
        "Identify calls",
        events.identify(),
        {
            "user_id": "user-1",
            "device_id": "anon-1",
            "user_properties": {"email": "ada@example.com", "plan": "pro"},
        },
    ),
    rendering(
        "amplitude",
        "Group identify",
        events.group(),
        {
            "group_type": "company",
            "group_value": "acme-inc",
            "group_properties": {"name": "Acme Inc", "seats": 12},
        },
    ),
    # Mixpanel
    rendering(
        "mixpanel",
        "Track calls",
        events.track(),
        {
            "event": "API Call",
            "distinct_id": "user-1",
            "device_id": "anon-1",
            "user_id": "user-1",
            "group_id": "acme-inc",
            "insert_id": "msg-0001",
            "time": EPOCH_MILLISECONDS,
            "ip": "203.0.113.7",
            "default_properties": {},
            "event_properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
        },
    ),
    rendering(
        "mixpanel",
        "Track calls",
        without(
            events.track(
                context={
                    "page": {"url": "https://shop.example/cart", "referrer": "https://a.example/"},
                    "campaign": {"source": "newsletter", "medium": "email", "name": "spring"},
                    "os": {"name": "Mac OS", "version": "15.1"},
                },
                properties={"cart": 2},
            ),
            "userId",
        ),
        {
            "event": "API Call",
            "distinct_id": "anon-1",
            "device_id": "anon-1",
            "insert_id": "msg-0001",
            "time": EPOCH_MILLISECONDS,
            "default_properties": {
                "$os": "Mac OS",
                "$os_version": "15.1",
                "$current_url": "https://shop.example/cart",
                "$referrer": "https://a.example/",
                "utm_source": "newsletter",
                "utm_medium": "email",
                "utm_campaign": "spring",
            },
            "event_properties": {"cart": 2},
        },
        case="an anonymous visitor of a web page from a campaign",
    ),
    rendering(
        "mixpanel",
        "Page calls",
        events.page(),
        {
            "event": "Viewed Pricing",
            "distinct_id": "anon-1",
            "device_id": "anon-1",
            "group_id": "acme-inc",
            "insert_id": "pg-0001",
            "time": EPOCH_MILLISECONDS,
            "ip": "203.0.113.7",
            "default_properties": {},
            "event_properties": {"path": "/pricing", "title": "Pricing"},
        },
    ),
    rendering(
        "mixpanel",
        "Screen calls",
        events.screen(),
        {
            "event": "Viewed Home",
            "distinct_id": "user-1",
            "user_id": "user-1",
            "group_id": "acme-inc",
            "insert_id": "scr-0001",
            "time": EPOCH_MILLISECONDS,
            "ip": "203.0.113.7",
            "default_properties": {},
            "event_properties": {"orientation": "portrait"},
        },
    ),
    rendering(
        "mixpanel",
        "Identify calls",
        events.identify(),
        {
            "distinct_id": "user-1",
            "ip": "203.0.113.7",
            "traits": {"email": "ada@example.com", "plan": "pro"},
        },
    ),
    rendering(
        "mixpanel",
        "Group calls",
        events.group(),
        {
            "group_key": "$group_id",
            "group_id": "acme-inc",
            "traits": {"name": "Acme Inc", "seats": 12},
        },
    ),
    rendering(
        "mixpanel",
        "Alias",
        events.alias(),
        {
            "alias": "user-1",
            "distinct_id": "anon-1",
            "insert_id": "als-0001",
            "time": EPOCH_MILLISECONDS,
        },
    ),
    # Braze
    rendering(
        "braze",
        "Track calls",
        events.track(),
        {
            "external_id": "user-1",
            "name": "API Call",
            "time": ISO_TIME,
            "properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
            "_update_existing_only": False,
        },
    ),
    rendering(
        "braze",
        "Track calls",
        events.track(context={**CONTEXT, "traits": {"email": "ada@example.com"}}),
        {
            "external_id": "user-1",
            "email": "ada@example.com",
            "name": "API Call",
            "time": ISO_TIME,
            "properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
            "_update_existing_only": False,
        },
        case="the email in the context's traits",
    ),
    rendering(
        "braze",
        "Order completed calls",
        events.track(
            event="Order Completed",
            properties={"currency": "EUR", "products": [{"product_id": "sku-1", "price": 19.5}]},
        ),
        {
            "external_id": "user-1",
            "time": ISO_TIME,
            "products": [{"product_id": "sku-1", "price": 19.5}],
            "currency": "EUR",
            "properties": {"currency": "EUR", "products": [{"product_id": "sku-1", "price": 19.5}]},
            "_update_existing_only": False,
        },
    ),
    rendering(
        "braze",
        "Identify calls",
        events.identify(),
        {
            "external_id": "user-1",
            "email": "ada@example.com",
            "current_location": {},
            "custom_attributes": {"email": "ada@example.com", "plan": "pro"},
            "_update_existing_only": False,
        },
    ),
    rendering(
        "braze",
        "Identify calls",
        events.identify(
            traits={"firstName": "Ada", "lastName": "Lovelace", "gender": "female"},
            context={**CONTEXT, "location": {"country": "GB", "latitude": 51.5, "longitude": 0}},
        ),
        {
            "external_id": "user-1",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "gender": "female",
            "country": "GB",
            "current_location": {"latitude": 51.5, "longitude": 0},
            "custom_attributes": {"firstName": "Ada", "lastName": "Lovelace", "gender": "female"},
            "_update_existing_only": False,
        },
        case="names, gender and a location",
    ),
    # Customer.io
    rendering(
        "customerio",
        "Create or update person",
        events.identify(),
        {
            "id": "user-1",
            "anonymous_id": "anon-1",
            "email": "ada@example.com",
            "custom_attributes": {"email": "ada@example.com", "plan": "pro"},
            "timestamp": EPOCH_SECONDS,
            "convert_timestamp": True,
        },
    ),
    rendering(
        "customerio",
        "Create or update person",
        without(events.identify(traits={"email": "ada@example.com", "createdAt": 1}), "userId"),
        {
            "id": "ada@example.com",
            "anonymous_id": "anon-1",
            "email": "ada@example.com",
            "created_at": 1,
            "custom_attributes": {"email": "ada@example.com", "createdAt": 1},
            "timestamp": EPOCH_SECONDS,
            "convert_timestamp": True,
        },
        case="no user id, so the email is the person id",
    ),
    rendering(
        "customerio",
        "Track event",
        events.track(),
        {
            "id": "user-1",
            "anonymous_id": "anon-1",
            "name": "API Call",
            "event_id": "msg-0001",
            "timestamp": EPOCH_SECONDS,
            "data": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
            "convert_timestamp": True,
        },
    ),
    rendering(
        "customerio",
        "Track page view",
        events.page(context={**CONTEXT, "page": {"url": "https://example.com/pricing"}}),
        {
            "anonymous_id": "anon-1",
            "event_id": "pg-0001",
            "url": "https://example.com/pricing",
            "timestamp": EPOCH_SECONDS,
            "data": {"path": "/pricing", "title": "Pricing"},
            "convert_timestamp": True,
        },
    ),
    rendering(
        "customerio",
        "Delete person",
        events.track(event="User Deleted"),
        {"person_id": "user-1"},
    ),
    # Klaviyo
    rendering(
        "klaviyo",
        "Track events",
        events.track(),
        {
            "external_id": "user-1",
            "anonymous_id": "anon-1",
            "metric_name": "API Call",
            "properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
            "time": ISO_TIME,
            "unique_id": "msg-0001",
        },
    ),
    rendering(
        "klaviyo",
        "Upsert profiles",
        events.identify(),
        {
            "email": "ada@example.com",
            "external_id": "user-1",
            "location": {},
            "properties": {"email": "ada@example.com", "plan": "pro"},
        },
    ),
    rendering(
        "klaviyo",
        "Add to list",
        events.track(event="Audience Entered"),
        {"external_id": "user-1", "list_id": "XyZ123"},
        added={"list_id": "XyZ123"},
    ),
    # HubSpot
    rendering(
        "hubspot",
        "Upsert contacts",
        events.identify(
            traits={
                "email": "ada@example.com",
                "firstName": "Ada",
                "last_name": "Lovelace",
                "company": "Analytical Engines",
                "address": {"street": "12 St James's Sq", "city": "London", "postal_code": "SW1"},
            }
        ),
        {
            "email": "ada@example.com",
            "firstname": "Ada",
            "lastname": "Lovelace",
            "company": "Analytical Engines",
            "address": "12 St James's Sq",
            "city": "London",
            "zip": "SW1",
        },
    ),
    rendering(
        "hubspot",
        "Upsert companies",
        events.group(traits={"name": "Acme Inc", "website": "acme.example", "employees": "12"}),
        {
            "id_property": "segment_group_id",
            "id": "acme-inc",
            "name": "Acme Inc",
            "domain": "acme.example",
            "numberofemployees": 12,
        },
    ),
    rendering(
        "hubspot",
        "Upsert companies",
        without(events.track(), "type") | {"type": "group"},
        {"id_property": "segment_group_id", "id": "acme-inc"},
        case="a group id only in context.groupId",
    ),
    rendering(
        "hubspot",
        "Custom Behavioral Event",
        events.track(context={**CONTEXT, "traits": {"email": "ada@example.com"}}),
        {
            "event_name": "pe123456_api_call",
            "occurred_at": ISO_TIME,
            "email": "ada@example.com",
            "message_id": "msg-0001",
        },
        added={"event_name": "pe123456_api_call"},
    ),
    # PostHog
    rendering(
        "posthog",
        "Track events",
        events.track(context={**CONTEXT, "page": {"url": "https://acme.example/search"}}),
        {
            "event_name": "API Call",
            "distinct_id": "user-1",
            "properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
            "current_url": "https://acme.example/search",
            "anonymous_event": False,
            "timestamp": ISO_TIME,
            "message_id": "msg-0001",
        },
    ),
    rendering(
        "posthog",
        "Track events",
        without(events.track(), "userId", "properties"),
        {
            "event_name": "API Call",
            "distinct_id": "anon-1",
            "anonymous_event": False,
            "timestamp": ISO_TIME,
            "message_id": "msg-0001",
        },
        case="an anonymous visitor's event without properties",
    ),
    rendering(
        "posthog",
        "Page views",
        events.page(context={**CONTEXT, "page": {"url": "https://acme.example/pricing"}}),
        {
            "event_name": "$pageview",
            "distinct_id": "anon-1",
            "properties": {"path": "/pricing", "title": "Pricing"},
            "current_url": "https://acme.example/pricing",
            "anonymous_event": False,
            "timestamp": ISO_TIME,
            "message_id": "pg-0001",
        },
    ),
    rendering(
        "posthog",
        "Screen views",
        events.screen(),
        {
            "event_name": "$screen",
            "distinct_id": "user-1",
            "properties": {"orientation": "portrait"},
            "screen_name": "Home",
            "anonymous_event": False,
            "timestamp": ISO_TIME,
            "message_id": "scr-0001",
        },
    ),
    rendering(
        "posthog",
        "Identify users",
        events.identify(),
        {
            "distinct_id": "user-1",
            "anonymous_id": "anon-1",
            "traits": {"email": "ada@example.com", "plan": "pro"},
            "timestamp": ISO_TIME,
            "message_id": "idf-0001",
        },
    ),
    # Slack
    rendering("slack", "Post track events", events.track(), {"text": "*API Call* by user-1"}),
    rendering(
        "slack",
        "Post track events",
        without(events.track(event="<!channel> & <https://evil.example|win>"), "userId"),
        {"text": "*&lt;!channel&gt; &amp; &lt;https://evil.example|win&gt;* by anon-1"},
        case="an anonymous event whose name holds Slack markup",
    ),
]

TRIGGERS = [
    pytest.param(trigger, PRESET_EVENT_TYPES.get(entry), id=f"{entry[0]}: preset {entry[1]}")
    for entry, trigger in preset_triggers().items()
] + [
    pytest.param(
        trigger,
        DEFAULT_TRIGGER_EVENT_TYPES.get(entry),
        id=f"{entry[0]}: default trigger of {entry[1]}",
    )
    for entry, trigger in default_triggers().items()
]


@pytest.mark.parametrize(
    ("table", "expected", "registry"),
    [
        ("PRESET_EVENT_TYPES", set(PRESET_EVENT_TYPES), set(preset_triggers())),
        ("DEFAULT_TRIGGER_EVENT_TYPES", set(DEFAULT_TRIGGER_EVENT_TYPES), set(default_triggers())),
        ("RENDERINGS", {row.values[:2] for row in RENDERINGS}, set(DEFAULT_MAPPINGS)),
    ],
)
def test_each_expectation_table_names_exactly_the_entries_of_the_registry(
    table, expected, registry
):
    missing, stale = sorted(registry - expected), sorted(expected - registry)
    assert not missing, f"add to {table} (docs/destinations.md says what to expect) for: {missing}"
    assert not stale, f"remove from {table}, the registry no longer has: {stale}"


@pytest.mark.parametrize(("trigger", "event_types"), TRIGGERS)
def test_each_trigger_picks_exactly_the_event_types_spec_names_for_it(trigger, event_types):
    assert event_types is not None, "this trigger has no expected event types in its table"
    triggers.parse(trigger)
    picked = {event["type"] for event in SAMPLES if triggers.matches(trigger, event)}
    assert picked == event_types


@pytest.mark.parametrize(("kind", "name", "added", "event", "expected"), RENDERINGS)
def test_each_default_mapping_validates_and_makes_the_exact_payload(
    kind, name, added, event, expected
):
    action_key, fields = DEFAULT_MAPPINGS[kind, name]
    mapping.validate(fields)
    payload = prepare(REGISTRY[kind].action(action_key), fields | added, event)
    assert payload == expected
    # Payloads keep the action's field order, and some are sent as they are.
    assert list(payload) == list(expected)


def test_the_webhook_default_mapping_cannot_send_until_a_url_is_added():
    action_key, fields = DEFAULT_MAPPINGS["webhook", "Send"]
    with pytest.raises(PayloadInvalid, match="field 'url' is required but missing") as raised:
        prepare(REGISTRY["webhook"].action(action_key), fields, events.track())
    assert raised.value.code == "PAYLOAD_VALIDATION_FAILED"
