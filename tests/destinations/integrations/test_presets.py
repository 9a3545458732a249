"""The catalog's preset triggers and default mappings (SPEC §5.2), read from the registry.

The registry is the one source of the triggers and mappings; this module holds only what
SPEC §5.2 promises about them: which event types each trigger picks, and the exact payload
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
}

# (kind key, action key) -> the event types the trigger of a mapping made from the action
# picks. SPEC names no trigger for the webhook or the forwarder's alias action: those are
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
    assert not missing, f"add to {table} (SPEC §5.2 says what to expect) for: {missing}"
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
