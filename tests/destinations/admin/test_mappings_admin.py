"""The mapping admin (docs/admin.md, "Mappings and Test mapping"): new mappings from an action, a
trigger checked with its error position, fields as pretty JSON checked against the action's schema,
filtered counts."""

import json
from html import escape

import pytest
from django.urls import reverse
from django.utils import timezone

from destinations.models import Destination, FilteredCount, Mapping
from destinations.services.destinations import create_destination
from infra.tallies import hour_of
from tests.destinations.admin.factories import TOKEN, metronome

pytestmark = pytest.mark.django_db

ADD = reverse("admin:destinations_mapping_add")
CHANGELIST = reverse("admin:destinations_mapping_changelist")


def change_url(mapping: Mapping) -> str:
    return reverse("admin:destinations_mapping_change", args=[mapping.pk])


def mapping_form(mapping: Mapping, **overrides) -> dict:
    return {
        "name": mapping.name,
        "enabled": "on",
        "trigger": mapping.trigger,
        "fields": json.dumps(mapping.fields),
        "batch_size": "",
        "flush_interval": 1.0,
    } | overrides


@pytest.fixture
def preset(billing: Destination) -> Mapping:
    return billing.mappings.get()


def test_new_mapping_offers_the_destination_actions_first(admin_client, billing):
    page = admin_client.get(f"{ADD}?destination={billing.pk}").content.decode()

    assert "Send event" in page
    assert f'href="{ADD}?destination={billing.pk}&amp;action=send_event"' in page


def test_the_destination_page_links_to_new_mapping_and_to_each_mapping_test(
    admin_client, billing, preset
):
    url = reverse("admin:destinations_destination_change", args=[billing.pk])
    page = admin_client.get(url).content.decode()

    assert f'href="{ADD}?destination={billing.pk}"' in page
    assert reverse("admin:destinations_mapping_test", args=[preset.pk]) in page


def test_the_form_of_an_action_starts_with_its_default_trigger_and_pretty_fields(
    admin_client, billing
):
    response = admin_client.get(f"{ADD}?destination={billing.pk}&action=send_event")

    form = response.context["adminform"].form
    assert form["trigger"].value() == 'type = "track"'
    assert form["name"].value() == "Send event"
    shown = form["fields"].as_widget()
    assert (
        "{\n  &quot;transaction_id&quot;: {\n    &quot;@path&quot;: &quot;$.messageId&quot;"
        in shown
    )
    page = response.content.decode()
    assert 'id="action-schema"' in page and 'id="schema-customer_id"' in page
    assert "required" in page


def test_saving_the_form_of_an_action_creates_the_mapping(admin_client, billing):
    fields = {"transaction_id": {"@path": "$.messageId"}, "customer_id": {"@path": "$.userId"}}
    fields |= {"timestamp": {"@path": "$.timestamp"}, "event_type": "usage"}
    fields |= {"properties": {"@path": "$.properties"}}
    data = {"name": "Usage", "enabled": "on", "trigger": 'event = "API Call"'}
    data |= {"fields": json.dumps(fields), "flush_interval": 1}

    response = admin_client.post(f"{ADD}?destination={billing.pk}&action=send_event", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    mapping = billing.mappings.get(name="Usage")
    assert (mapping.action, mapping.trigger, mapping.fields) == (
        "send_event",
        'event = "API Call"',
        fields,
    )


def test_a_bad_trigger_shows_the_error_at_its_position_and_is_not_saved(admin_client, preset):
    bad = 'type = "track" and event ='

    response = admin_client.post(change_url(preset), mapping_form(preset, trigger=bad))

    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["trigger"]
    assert error.startswith("expected a value (a quoted string, a number, true, false or null)")
    assert "at 26<pre" in error
    assert '<pre class="trigger-caret" id="trigger-error-position">' in error
    assert f"{escape(bad)}\n{' ' * 26}^</pre>" in error
    preset.refresh_from_db()
    assert preset.trigger == 'type = "track"'


def test_a_caret_points_into_the_right_line_of_a_multi_line_trigger(admin_client, preset):
    bad = 'type = "track"\nand event = "x" or'

    response = admin_client.post(change_url(preset), mapping_form(preset, trigger=bad))

    [error] = response.context["adminform"].form.errors["trigger"]
    assert error.startswith("expected a condition at 33")
    assert escape('and event = "x" or') + "\n" + " " * 18 + "^</pre>" in error


def test_fields_that_are_not_json_say_where_the_syntax_error_is(admin_client, preset):
    response = admin_client.post(
        change_url(preset), mapping_form(preset, fields='{\n  "transaction_id": ,\n}')
    )

    [error] = response.context["adminform"].form.errors["fields"]
    assert error.startswith("Not valid JSON: Expecting value at line 2, column 21")
    assert '"transaction_id": ,' in response.content.decode().replace("&quot;", '"')
    preset.refresh_from_db()
    assert "transaction_id" in preset.fields


def test_fields_that_break_the_action_schema_show_the_schema_message(admin_client, preset):
    fields = dict(preset.fields)
    del fields["customer_id"]
    fields["colour"] = "red"

    response = admin_client.post(
        change_url(preset), mapping_form(preset, fields=json.dumps(fields))
    )

    [error] = response.context["adminform"].form.errors["fields"]
    assert "Send event has no field 'colour'" in error


def test_a_directive_error_names_its_json_path(admin_client, preset):
    fields = preset.fields | {"customer_id": {"@if": {"exist": {"@path": "$.userId"}}}}

    response = admin_client.post(
        change_url(preset), mapping_form(preset, fields=json.dumps(fields))
    )

    [error] = response.context["adminform"].form.errors["fields"]
    assert error.startswith("fields.customer_id.@if")


def test_a_second_mapping_of_the_same_name_is_refused_on_the_form(admin_client, billing, preset):
    data = mapping_form(preset)

    response = admin_client.post(f"{ADD}?destination={billing.pk}&action=send_event", data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["name"] == [
        "This destination already has a mapping of this name."
    ]


def test_the_change_page_shows_events_filtered_in_the_last_24_hours(admin_client, preset):
    now = timezone.now()
    FilteredCount.objects.create(mapping=preset, hour=hour_of(now), reason="trigger", count=7)
    FilteredCount.objects.create(
        mapping=preset, hour=hour_of(now) - timezone.timedelta(hours=3), reason="trigger", count=5
    )
    FilteredCount.objects.create(mapping=preset, hour=hour_of(now), reason="integrations", count=2)
    FilteredCount.objects.create(
        mapping=preset, hour=hour_of(now) - timezone.timedelta(hours=30), reason="trigger", count=99
    )

    page = admin_client.get(change_url(preset)).content.decode()

    assert "12 by the trigger, 2 by the event's integrations object" in page


def test_no_mapping_page_shows_a_secret(admin_client, billing, preset):
    for url in (
        CHANGELIST,
        f"{ADD}?destination={billing.pk}",
        f"{ADD}?destination={billing.pk}&action=send_event",
        change_url(preset),
        reverse("admin:destinations_mapping_test", args=[preset.pk]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert TOKEN not in response.content.decode(), url


def test_mapping_pages_run_a_bounded_number_of_queries(
    admin_client, billing, source, preset, django_assert_max_num_queries
):
    for number in range(20):
        metronome(source, "https://api.metronome.com", name=f"Billing {number}")
    hook = create_destination("webhook", "Hook", sources=[source])
    for number in range(20):
        hook.mappings.create(
            name=f"Hook {number}",
            action="send",
            trigger='type = "track"',
            fields={"url": "https://example.com/in", "method": "POST"},
        )

    with django_assert_max_num_queries(8):
        assert admin_client.get(CHANGELIST).status_code == 200
    with django_assert_max_num_queries(8):
        assert admin_client.get(change_url(preset)).status_code == 200
    with django_assert_max_num_queries(8):
        assert admin_client.get(f"{ADD}").status_code == 200
