"""The catalog's preset triggers and default mappings (SPEC 5.2), run through the engines.

The presets live here as data until the destination registry provides them; the tests
check that each trigger picks exactly its event type and each mapping renders the exact
payload for a typical Segment event.
"""

import pytest

from destinations import mapping, triggers


def path(json_path):
    return {"@path": json_path}


def first_existing(*json_paths, otherwise=None):
    """``@if exists`` chained: the first path that exists, else ``otherwise``."""
    head, *rest = json_paths
    fallback = first_existing(*rest, otherwise=otherwise) if rest else otherwise
    branches = {"then": path(head)} if fallback is None else {"then": path(head), "else": fallback}
    return {"@if": {"exists": path(head), **branches}}


METRONOME_SEND_TRACK_EVENTS_TRIGGER = 'type = "track"'
METRONOME_SEND_EVENT_FIELDS = {
    "transaction_id": path("$.messageId"),
    "customer_id": path("$.context.groupId"),
    "timestamp": path("$.timestamp"),
    "event_type": path("$.event"),
    "properties": path("$.properties"),
}

LAUNCHDARKLY_TRACK_EVENT_TRIGGER = 'type = "track"'
LAUNCHDARKLY_TRACK_EVENT_FIELDS = {
    "context_kind": "user",
    "user_key": first_existing("$.userId", otherwise=path("$.anonymousId")),
    "additional_context_keys": {"unauthenticatedUser": path("$.anonymousId")},
    "event_name": path("$.event"),
    "metric_value": first_existing("$.properties.revenue", otherwise=path("$.properties.value")),
    "event_properties": path("$.properties"),
    "timestamp": path("$.timestamp"),
}
LAUNCHDARKLY_ALIAS_USER_TRIGGER = 'type = "identify" or type = "alias"'
LAUNCHDARKLY_ALIAS_USER_FIELDS = {
    "user_key": path("$.userId"),
    "previous_key": first_existing("$.previousId", otherwise=path("$.anonymousId")),
    "timestamp": path("$.timestamp"),
}

# No preset: the seed mapping filters to track, page and screen itself.
AGGREGATIONS_SEED_TRIGGER = 'type = "track" or type = "page" or type = "screen"'
AGGREGATIONS_SEND_EVENTS_FIELDS = {"data": path("$.")}

LIBRATO_SOURCE = first_existing(
    "$.integrations.Librato.source", "$.context.Librato.source", "$.context.source"
)
LIBRATO_TRACK_TRIGGER = 'type = "track"'
LIBRATO_TRACK_FIELDS = {
    "name": path("$.event"),
    "value": first_existing("$.properties.value", otherwise=1),
    "timestamp": path("$.timestamp"),
    "source": LIBRATO_SOURCE,
}
LIBRATO_PAGE_TRIGGER = 'type = "page"'
LIBRATO_PAGE_FIELDS = {
    "name": {
        "@if": {
            "exists": path("$.name"),
            "then": {"@template": "Viewed {{name}} Page"},
            "else": "Loaded a Page",
        }
    },
    "value": 1,
    "timestamp": path("$.timestamp"),
    "source": LIBRATO_SOURCE,
}

WEBHOOK_SEND_FIELDS = {"method": "POST", "data": path("$.")}

_FORWARDED_COMMON = {
    "type": path("$.type"),
    "userId": path("$.userId"),
    "anonymousId": path("$.anonymousId"),
    "context": path("$.context"),
    "timestamp": path("$.timestamp"),
    "messageId": path("$.messageId"),
}
FORWARDER_TRACK_TRIGGER = 'type = "track"'
FORWARDER_TRACK_FIELDS = {
    **_FORWARDED_COMMON,
    "event": path("$.event"),
    "properties": path("$.properties"),
}
FORWARDER_IDENTIFY_TRIGGER = 'type = "identify"'
FORWARDER_IDENTIFY_FIELDS = {**_FORWARDED_COMMON, "traits": path("$.traits")}
FORWARDER_PAGE_TRIGGER = 'type = "page"'
FORWARDER_PAGE_FIELDS = {
    **_FORWARDED_COMMON,
    "name": path("$.name"),
    "properties": path("$.properties"),
}
FORWARDER_SCREEN_TRIGGER = 'type = "screen"'
FORWARDER_SCREEN_FIELDS = {**FORWARDER_PAGE_FIELDS}
FORWARDER_GROUP_TRIGGER = 'type = "group"'
FORWARDER_GROUP_FIELDS = {
    **_FORWARDED_COMMON,
    "groupId": path("$.groupId"),
    "traits": path("$.traits"),
}

CONTEXT = {
    "ip": "203.0.113.7",
    "library": {"name": "analytics-python", "version": "2.4.0"},
    "page": {"path": "/checkout", "url": "https://shop.example/checkout"},
    "groupId": "acme",
}
TRACK = {
    "type": "track",
    "event": "Order Completed",
    "userId": "user-42",
    "anonymousId": "anon-7",
    "messageId": "msg-track",
    "timestamp": "2024-05-01T12:00:00.000Z",
    "properties": {"order_id": "o-1", "revenue": 99.5, "value": 3, "currency": "EUR"},
    "context": CONTEXT,
    "integrations": {"Librato": {"source": "checkout-service"}},
}
IDENTIFY = {
    "type": "identify",
    "userId": "user-42",
    "anonymousId": "anon-7",
    "messageId": "msg-identify",
    "timestamp": "2024-05-01T12:00:01.000Z",
    "traits": {"email": "jane@example.com", "plan": "pro"},
    "context": CONTEXT,
}
PAGE = {
    "type": "page",
    "name": "Checkout",
    "anonymousId": "anon-7",
    "messageId": "msg-page",
    "timestamp": "2024-05-01T12:00:02.000Z",
    "properties": {"path": "/checkout", "title": "Checkout"},
    "context": {**CONTEXT, "source": "web"},
}
SCREEN = {
    "type": "screen",
    "name": "Cart",
    "userId": "user-42",
    "messageId": "msg-screen",
    "timestamp": "2024-05-01T12:00:03.000Z",
    "properties": {"items": 2},
    "context": CONTEXT,
}
GROUP = {
    "type": "group",
    "groupId": "acme",
    "userId": "user-42",
    "messageId": "msg-group",
    "timestamp": "2024-05-01T12:00:04.000Z",
    "traits": {"name": "Acme", "employees": 120},
    "context": CONTEXT,
}
ALIAS = {
    "type": "alias",
    "previousId": "anon-7",
    "userId": "user-42",
    "messageId": "msg-alias",
    "timestamp": "2024-05-01T12:00:05.000Z",
    "context": CONTEXT,
}
SAMPLES = {
    "track": TRACK,
    "identify": IDENTIFY,
    "page": PAGE,
    "screen": SCREEN,
    "group": GROUP,
    "alias": ALIAS,
}

PRESET_TRIGGERS = [
    ("metronome send track events", METRONOME_SEND_TRACK_EVENTS_TRIGGER, {"track"}),
    ("launchdarkly track event", LAUNCHDARKLY_TRACK_EVENT_TRIGGER, {"track"}),
    ("launchdarkly alias user", LAUNCHDARKLY_ALIAS_USER_TRIGGER, {"identify", "alias"}),
    ("aggregations.io seed", AGGREGATIONS_SEED_TRIGGER, {"track", "page", "screen"}),
    ("librato track", LIBRATO_TRACK_TRIGGER, {"track"}),
    ("librato page", LIBRATO_PAGE_TRIGGER, {"page"}),
    ("forwarder track", FORWARDER_TRACK_TRIGGER, {"track"}),
    ("forwarder identify", FORWARDER_IDENTIFY_TRIGGER, {"identify"}),
    ("forwarder page", FORWARDER_PAGE_TRIGGER, {"page"}),
    ("forwarder screen", FORWARDER_SCREEN_TRIGGER, {"screen"}),
    ("forwarder group", FORWARDER_GROUP_TRIGGER, {"group"}),
]


@pytest.mark.parametrize(("preset", "trigger", "event_types"), PRESET_TRIGGERS)
@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_each_preset_trigger_matches_its_event_types_and_no_others(
    preset, trigger, event_types, event_type
):
    assert triggers.matches(trigger, SAMPLES[event_type]) is (event_type in event_types)


RENDERINGS = [
    (
        "metronome send event",
        METRONOME_SEND_EVENT_FIELDS,
        TRACK,
        {
            "transaction_id": "msg-track",
            "customer_id": "acme",
            "timestamp": "2024-05-01T12:00:00.000Z",
            "event_type": "Order Completed",
            "properties": {"order_id": "o-1", "revenue": 99.5, "value": 3, "currency": "EUR"},
        },
    ),
    (
        "launchdarkly track event",
        LAUNCHDARKLY_TRACK_EVENT_FIELDS,
        TRACK,
        {
            "context_kind": "user",
            "user_key": "user-42",
            "additional_context_keys": {"unauthenticatedUser": "anon-7"},
            "event_name": "Order Completed",
            "metric_value": 99.5,
            "event_properties": {"order_id": "o-1", "revenue": 99.5, "value": 3, "currency": "EUR"},
            "timestamp": "2024-05-01T12:00:00.000Z",
        },
    ),
    (
        "launchdarkly track event of an anonymous visitor without revenue",
        LAUNCHDARKLY_TRACK_EVENT_FIELDS,
        {
            "type": "track",
            "event": "Signed Up",
            "anonymousId": "anon-9",
            "properties": {"value": 2},
            "timestamp": "2024-05-02T00:00:00.000Z",
        },
        {
            "context_kind": "user",
            "user_key": "anon-9",
            "additional_context_keys": {"unauthenticatedUser": "anon-9"},
            "event_name": "Signed Up",
            "metric_value": 2,
            "event_properties": {"value": 2},
            "timestamp": "2024-05-02T00:00:00.000Z",
        },
    ),
    (
        "launchdarkly track event without a metric",
        LAUNCHDARKLY_TRACK_EVENT_FIELDS,
        {"type": "track", "event": "Tap", "userId": "u", "timestamp": "2024-05-02T00:00:00.000Z"},
        {
            "context_kind": "user",
            "user_key": "u",
            "additional_context_keys": {},
            "event_name": "Tap",
            "timestamp": "2024-05-02T00:00:00.000Z",
        },
    ),
    (
        "launchdarkly alias of an alias call",
        LAUNCHDARKLY_ALIAS_USER_FIELDS,
        ALIAS,
        {"user_key": "user-42", "previous_key": "anon-7", "timestamp": "2024-05-01T12:00:05.000Z"},
    ),
    (
        "launchdarkly alias of an identify call",
        LAUNCHDARKLY_ALIAS_USER_FIELDS,
        IDENTIFY,
        {"user_key": "user-42", "previous_key": "anon-7", "timestamp": "2024-05-01T12:00:01.000Z"},
    ),
    ("aggregations.io send events", AGGREGATIONS_SEND_EVENTS_FIELDS, PAGE, {"data": PAGE}),
    (
        "librato track",
        LIBRATO_TRACK_FIELDS,
        TRACK,
        {
            "name": "Order Completed",
            "value": 3,
            "timestamp": "2024-05-01T12:00:00.000Z",
            "source": "checkout-service",
        },
    ),
    (
        "librato track with a zero value and no source",
        LIBRATO_TRACK_FIELDS,
        {"type": "track", "event": "Ping", "properties": {"value": 0}, "timestamp": "t"},
        {"name": "Ping", "value": 0, "timestamp": "t"},
    ),
    (
        "librato track with a null value",
        LIBRATO_TRACK_FIELDS,
        {"type": "track", "event": "Ping", "properties": {"value": None}, "timestamp": "t"},
        {"name": "Ping", "value": 1, "timestamp": "t"},
    ),
    (
        "librato page",
        LIBRATO_PAGE_FIELDS,
        PAGE,
        {
            "name": "Viewed Checkout Page",
            "value": 1,
            "timestamp": "2024-05-01T12:00:02.000Z",
            "source": "web",
        },
    ),
    (
        "librato page without a name, with the source in context.Librato",
        LIBRATO_PAGE_FIELDS,
        {"type": "page", "timestamp": "t", "context": {"Librato": {"source": "s"}, "source": "x"}},
        {"name": "Loaded a Page", "value": 1, "timestamp": "t", "source": "s"},
    ),
    ("webhook send", WEBHOOK_SEND_FIELDS, TRACK, {"method": "POST", "data": TRACK}),
    (
        "forwarder track",
        FORWARDER_TRACK_FIELDS,
        TRACK,
        {
            "type": "track",
            "userId": "user-42",
            "anonymousId": "anon-7",
            "context": CONTEXT,
            "timestamp": "2024-05-01T12:00:00.000Z",
            "messageId": "msg-track",
            "event": "Order Completed",
            "properties": TRACK["properties"],
        },
    ),
    (
        "forwarder identify",
        FORWARDER_IDENTIFY_FIELDS,
        IDENTIFY,
        {
            "type": "identify",
            "userId": "user-42",
            "anonymousId": "anon-7",
            "context": CONTEXT,
            "timestamp": "2024-05-01T12:00:01.000Z",
            "messageId": "msg-identify",
            "traits": {"email": "jane@example.com", "plan": "pro"},
        },
    ),
    (
        "forwarder page",
        FORWARDER_PAGE_FIELDS,
        PAGE,
        {
            "type": "page",
            "anonymousId": "anon-7",
            "context": PAGE["context"],
            "timestamp": "2024-05-01T12:00:02.000Z",
            "messageId": "msg-page",
            "name": "Checkout",
            "properties": {"path": "/checkout", "title": "Checkout"},
        },
    ),
    (
        "forwarder screen",
        FORWARDER_SCREEN_FIELDS,
        SCREEN,
        {
            "type": "screen",
            "userId": "user-42",
            "context": CONTEXT,
            "timestamp": "2024-05-01T12:00:03.000Z",
            "messageId": "msg-screen",
            "name": "Cart",
            "properties": {"items": 2},
        },
    ),
    (
        "forwarder group",
        FORWARDER_GROUP_FIELDS,
        GROUP,
        {
            "type": "group",
            "userId": "user-42",
            "context": CONTEXT,
            "timestamp": "2024-05-01T12:00:04.000Z",
            "messageId": "msg-group",
            "groupId": "acme",
            "traits": {"name": "Acme", "employees": 120},
        },
    ),
]


@pytest.mark.parametrize(
    ("preset", "fields", "event", "expected"),
    RENDERINGS,
    ids=[rendering[0] for rendering in RENDERINGS],
)
def test_each_default_mapping_validates_and_renders_the_exact_payload(
    preset, fields, event, expected
):
    mapping.validate(fields)
    rendered = mapping.render(fields, event)
    assert rendered == expected
    assert list(rendered) == list(expected)
