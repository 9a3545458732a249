"""The catalog's preset triggers and default mappings (docs/destinations.md, "Wire formats"), read
from the registry.

The registry is the one source of the triggers and mappings; these tests hold only what
docs/destinations.md says of them: which event types each trigger picks (here), and the exact
payload each mapping makes of a typical Segment event, after the action's field schema is
applied (the RENDERINGS of test_presets_<family>.py, one family of kinds each, on the harness
of presets.py). A preset or an action added to the registry without an entry in these tables
fails here with a message saying which table to add it to.
"""

import pytest

from destinations import triggers
from tests.destinations import events
from tests.destinations.integrations import (
    test_presets_analytics,
    test_presets_engagement,
    test_presets_measurement,
    test_presets_pipes,
)
from tests.destinations.integrations.presets import (
    DEFAULT_MAPPINGS,
    default_triggers,
    preset_triggers,
)

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

# Every rendering, whichever family's module holds it.
RENDERINGS = [
    *test_presets_pipes.RENDERINGS,
    *test_presets_measurement.RENDERINGS,
    *test_presets_analytics.RENDERINGS,
    *test_presets_engagement.RENDERINGS,
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
