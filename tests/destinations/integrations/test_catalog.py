"""The catalog as a whole: every kind well-formed, presets become mappings, bad input refused."""

import pytest
from django.core.exceptions import ValidationError

from destinations import mapping, triggers
from destinations.integrations import REGISTRY
from destinations.models import Mapping
from destinations.services.destinations import create_destination, create_mapping_from_action

KINDS = sorted(REGISTRY)


@pytest.mark.parametrize("key", KINDS)
def test_every_kind_declares_valid_presets_and_default_fields(key):
    kind = REGISTRY[key]
    assert kind.name and kind.description and kind.docs_url.startswith("https://")
    assert "base_url" in {setting.key for setting in kind.all_settings}
    for action in kind.actions:
        mapping.validate(action.default_fields())
        triggers.parse(action.default_trigger)
        assert 1 <= action.default_batch_size <= action.max_batch_size
    for preset in kind.presets:
        action = kind.action(preset.action)
        fields = preset.fields if preset.fields is not None else action.default_fields()
        triggers.parse(preset.trigger)
        mapping.validate(fields)
        missing = [f.key for f in action.fields if f.required and f.key not in fields]
        assert not missing, f"{key} preset {preset.name!r} lacks required fields {missing}"


# Secrets whose setting checks their form (a warehouse's URL); any text does for the others.
SAMPLE_SECRETS = {"connection_url": "postgresql://loader:pw@warehouse.example.com/analytics"}


@pytest.mark.parametrize("key", KINDS)
def test_adding_a_destination_creates_its_presets_as_mappings(db, key):
    kind = REGISTRY[key]
    secrets = {s.key: SAMPLE_SECRETS.get(s.key, "secret") for s in kind.all_settings if s.secret}
    settings = {s.key: "x" for s in kind.all_settings if s.required and not s.secret}

    destination = create_destination(key, f"My {kind.name}", settings, secrets)

    assert sorted(destination.mappings.values_list("name", "trigger")) == sorted(
        (preset.name, preset.trigger) for preset in kind.presets
    )


@pytest.fixture
def metronome(db):
    return create_destination("metronome", "Billing", secrets={"api_token": "t"})


def test_a_trigger_with_a_syntax_error_cannot_be_saved_and_the_error_says_where(metronome):
    preset = metronome.mappings.get()
    preset.trigger = 'type = "track" and event ='

    with pytest.raises(ValidationError) as raised:
        preset.save()

    assert raised.value.message_dict["trigger"] == [
        "expected a value (a quoted string, a number, true, false or null) after '=' at 26"
    ]


def test_a_mapping_with_an_unknown_directive_option_cannot_be_saved(metronome):
    preset = metronome.mappings.get()
    preset.fields = preset.fields | {"customer_id": {"@if": {"exist": {"@path": "$.userId"}}}}

    with pytest.raises(ValidationError) as raised:
        preset.save()

    assert "fields.customer_id.@if" in raised.value.message_dict["fields"][0]


def test_a_mapping_with_a_field_the_action_lacks_cannot_be_saved(metronome):
    preset = metronome.mappings.get()
    preset.fields = preset.fields | {"colour": "blue"}

    with pytest.raises(ValidationError, match="has no field 'colour'"):
        preset.save()


def test_a_mapping_without_a_required_field_cannot_be_saved(metronome):
    preset = metronome.mappings.get()
    del preset.fields["customer_id"]

    with pytest.raises(ValidationError, match="required field 'customer_id' has no mapping"):
        preset.save()


def test_a_batch_size_over_the_action_limit_cannot_be_saved(metronome):
    preset = metronome.mappings.get()
    preset.batch_size = 101

    with pytest.raises(ValidationError, match="at most 100 per request"):
        preset.save()


def test_a_webhook_mapping_cannot_be_saved_until_it_names_a_url(db):
    webhook = create_destination("webhook", "Hooks")

    with pytest.raises(ValidationError, match="required field 'url' has no mapping"):
        create_mapping_from_action(webhook, "send", "Orders")


def test_a_mapping_created_from_an_action_starts_with_its_defaults(metronome):
    created = create_mapping_from_action(metronome, "send_event", "Usage")

    assert (created.trigger, created.fields) == (
        'type = "track"',
        {
            "transaction_id": {"@path": "$.messageId"},
            "customer_id": {"@path": "$.context.groupId"},
            "timestamp": {"@path": "$.timestamp"},
            "event_type": {"@path": "$.event"},
            "properties": {"@path": "$.properties"},
        },
    )
    assert Mapping.objects.filter(destination=metronome).count() == 2


def test_every_kind_that_takes_credentials_offers_a_connection_test():
    lacking = [
        key
        for key, kind in REGISTRY.items()
        if any(setting.secret for setting in kind.settings) and kind.connection_test is None
    ]

    # A webhook's secret only signs bodies: no receiver can say whether it is right. Nor can
    # Google of a GA4 API secret: its validation server checks payloads, not secrets.
    assert lacking == ["webhook", "ga4"]


def test_only_the_kinds_that_need_them_read_error_answers_or_refuse_payloads():
    """The hooks are additive: every other kind keeps the generic rules (docs/delivery.md,
    "Classifying answers")."""
    readers = {key for key, kind in REGISTRY.items() for a in kind.actions if a.read_error}
    refusers = {key for key, kind in REGISTRY.items() for a in kind.actions if a.refuse}

    assert readers == {"librato", "meta_conversions", "braze", "hubspot", "slack"}
    assert refusers == {
        *("segment", "ga4", "meta_conversions", "braze", "customerio", "klaviyo"),
        *("hubspot", "posthog"),
    }
