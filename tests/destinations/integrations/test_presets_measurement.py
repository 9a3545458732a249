"""The default mappings of the kinds that measure: Metronome's usage, LaunchDarkly's and Librato's
metrics, GA4's analytics and Meta's conversions (docs/destinations.md, "Wire formats").
presets.py holds the harness; test_presets.py checks this table is complete.
"""

import pytest

from tests.destinations import events
from tests.destinations.events import CONTEXT
from tests.destinations.integrations.presets import (
    EPOCH_MILLISECONDS,
    EPOCH_SECONDS,
    ISO_TIME,
    assert_makes,
    rendering,
    without,
)

RENDERINGS = [
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
]


@pytest.mark.parametrize(("kind", "name", "added", "event", "expected"), RENDERINGS)
def test_each_default_mapping_validates_and_makes_the_exact_payload(
    kind, name, added, event, expected
):
    assert_makes(kind, name, added, event, expected)
