"""The default mappings of the product analytics kinds: Amplitude, Mixpanel and PostHog
(docs/destinations.md, "Wire formats"). presets.py holds the harness; test_presets.py checks
this table is complete.
"""

import pytest

from tests.destinations import events
from tests.destinations.events import CONTEXT
from tests.destinations.integrations.presets import (
    EPOCH_MILLISECONDS,
    ISO_TIME,
    assert_makes,
    rendering,
    without,
)

RENDERINGS = [
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
]


@pytest.mark.parametrize(("kind", "name", "added", "event", "expected"), RENDERINGS)
def test_each_default_mapping_validates_and_makes_the_exact_payload(
    kind, name, added, event, expected
):
    assert_makes(kind, name, added, event, expected)
