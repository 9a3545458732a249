"""Test mapping (docs/destinations.md, "Test mapping"): a dry run explains the trigger and shows the
exact request without sending it; "Send test event" sends that one event and shows the answer,
recording nothing."""

import json
from dataclasses import replace
from html import escape

import orjson
import pytest
from django.urls import reverse

from destinations.delivery.payloads import prepare
from destinations.integrations import REGISTRY, get_kind
from destinations.models import Delivery, DeliveryAttempt, Destination, Mapping
from destinations.services.destinations import create_destination
from destinations.services.mapping_trial import dry_run, send_test_event
from tests.destinations import events
from tests.destinations.admin.factories import TOKEN, store_event
from tests.destinations.delivery.sinks import Sink, always

pytestmark = pytest.mark.django_db

SEND_EVENT = get_kind("metronome").action("send_event")


@pytest.fixture
def preset(billing: Destination) -> Mapping:
    return billing.mappings.get()


def page_url(mapping: Mapping) -> str:
    return reverse("admin:destinations_mapping_test", args=[mapping.pk])


def expected_body(mapping: Mapping, event: dict) -> bytes:
    """What the kind itself would send for this one event."""
    return orjson.dumps([prepare(SEND_EVENT, mapping.fields, event)])


def test_a_dry_run_explains_each_condition_and_builds_the_exact_request_without_sending(
    preset, sink: Sink
):
    preset.trigger = 'type = "track" and properties.value > 2 and context.missing = null'
    event = events.track(7)

    result = dry_run(preset, event)

    assert result.matched and result.integrations_allowed and not result.problem
    assert [(c["source"], c["found"], c["value_json"], c["held"]) for c in result.conditions] == [
        ('type = "track"', True, '"track"', True),
        ("properties.value > 2", True, "3", True),
        ("context.missing = null", False, "", True),
    ]
    [request] = result.requests
    assert (request.method, request.url) == ("POST", f"{sink.url}/v1/ingest")
    assert request.body.encode() == expected_body(preset, event)
    assert request.headers["Authorization"] == "Bearer ••••"
    assert sink.received == []


def test_a_dry_run_shows_which_condition_did_not_hold(preset):
    preset.trigger = 'type = "track" and event = "Order Completed"'

    result = dry_run(preset, events.track(1))

    assert not result.matched
    assert [c["held"] for c in result.conditions] == [True, False]
    assert result.requests  # the request is still shown: what it would be if it matched


def test_a_dry_run_reports_a_payload_the_action_schema_refuses(preset):
    event = events.track(1, context={"ip": "203.0.113.7"})  # no groupId: no customer_id

    result = dry_run(preset, event)

    assert result.problem == (
        "PAYLOAD_VALIDATION_FAILED: field 'customer_id' is required but missing"
    )
    assert result.requests == []


def test_a_dry_run_notes_an_integrations_object_that_turns_the_destination_off(preset):
    result = dry_run(preset, events.track(1, integrations={"Metronome": False}))

    assert result.matched and not result.integrations_allowed


def test_the_test_mapping_page_shows_the_explanation_and_the_request_body(
    admin_client, preset, sink
):
    event = events.track(3)

    response = admin_client.post(
        page_url(preset), {"event": json.dumps(event), "dry_run": "Dry run"}
    )

    page = response.content.decode()
    assert 'id="trigger-explanation"' in page and "The trigger matches this event." in page
    assert "<td><code>type = &quot;track&quot;</code></td>" in page and "✓ held" in page
    assert 'id="dry-run-result"' in page
    assert escape(expected_body(preset, event).decode()) in page  # the exact bytes
    body = orjson.loads(expected_body(preset, event))
    pretty = json.dumps(body, indent=2, ensure_ascii=False)
    assert escape(pretty) in page  # and the same, indented
    assert f"{sink.url}/v1/ingest" in page and "Bearer ••••" in page
    assert TOKEN not in page
    assert sink.received == []
    assert not Delivery.objects.exists()


def test_the_page_shows_a_payload_problem_clearly(admin_client, preset):
    event = events.track(3, context={})

    page = admin_client.post(page_url(preset), {"event": json.dumps(event)}).content.decode()

    assert 'id="dry-run-problem"' in page
    assert "field &#x27;customer_id&#x27; is required but missing" in page


def test_a_recent_event_of_the_destination_sources_can_be_picked(admin_client, preset, source):
    stored = store_event(source, 42, event="Picked Event")
    page = admin_client.get(page_url(preset)).content.decode()
    assert f'<option value="{stored.pk}">' in page

    response = admin_client.post(page_url(preset), {"event": "", "recent_event": stored.pk})

    page = response.content.decode()
    assert response.context["preview"].matched
    assert "Picked Event" in page  # in the request body, and in the text box for editing
    assert json.loads(response.context["form"]["event"].value()) == stored.payload


def test_an_event_of_another_source_cannot_be_picked(admin_client, preset):
    from ingest.models import Source

    other = store_event(Source.objects.create(name="Other"), 1)

    response = admin_client.post(page_url(preset), {"recent_event": other.pk})

    assert response.context["preview"] is None
    assert "That event is gone" in response.content.decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Paste an event or choose a recent one."),
        ("[1, 2]", "An event is a JSON object."),
        ('{"type": ', "Not valid JSON: Expecting value at line 1, column 10"),
    ],
)
def test_what_is_not_an_event_is_refused(admin_client, preset, text, message):
    response = admin_client.post(page_url(preset), {"event": text})

    assert response.context["preview"] is None
    assert message in response.content.decode()


def test_send_test_event_reaches_the_sink_and_shows_its_answer_without_a_delivery(
    admin_client, preset, sink
):
    sink.answer = lambda request: (200, {"X-Request-Id": "req-123"}, b'{"accepted": 1}')
    event = events.track(5)

    response = admin_client.post(
        page_url(preset), {"event": json.dumps(event), "send": "Send test event"}
    )

    [received] = sink.received
    assert received.body == expected_body(preset, event)
    assert received.headers["Authorization"] == f"Bearer {TOKEN}"
    page = response.content.decode()
    assert 'id="test-event-response"' in page
    assert 'id="test-event-status">200<' in page
    assert "req-123" in page and escape('"accepted": 1') in page
    assert '<span class="badge badge-delivered" id="test-event-outcome">delivered</span>' in page
    assert TOKEN not in page
    assert not Delivery.objects.exists() and not DeliveryAttempt.objects.exists()


def test_send_test_event_shows_a_refusal_and_its_classification(preset, sink):
    sink.answer = lambda request: (403, {}, f"token {TOKEN} is not valid".encode())

    sent = send_test_event(preset, events.track(1))

    [response] = sent.responses
    assert (response.status, response.outcome, response.error_code) == (
        403,
        "failed",
        "INVALID_AUTHENTICATION",
    )
    assert TOKEN not in response.body and TOKEN not in response.error_message
    assert response.request.headers["Authorization"] == "Bearer ••••"


def test_send_test_event_sends_nothing_when_the_payload_cannot_be_built(admin_client, preset, sink):
    response = admin_client.post(
        page_url(preset), {"event": json.dumps(events.track(1, context={})), "send": "Send"}
    )

    assert sink.received == []
    assert 'id="test-event-not-sent"' in response.content.decode()


def test_send_test_event_sends_even_when_the_trigger_does_not_match(preset, sink):
    sink.answer = always(200)

    sent = send_test_event(preset, events.track(1, type="page"))

    assert not sent.dry_run.matched
    assert len(sink.received) == 1


def test_a_viewer_cannot_test_a_mapping(client, django_user_model, preset):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_mapping"))
    client.force_login(viewer)

    assert client.get(page_url(preset)).status_code == 403


def test_a_dry_run_notes_each_string_it_read_as_a_number(source):
    flags = create_destination(
        "launchdarkly", "Flags", {"client_id": "5f0c1d2e3a4b5c6d7e8f9a0b"}, sources=[source]
    )
    mapping = flags.mappings.get(action="track_event")

    result = dry_run(mapping, events.track(1, properties={"revenue": "14.99"}))

    assert not result.problem
    assert result.payload["metric_value"] == 14.99
    assert result.coercions == ["field 'metric_value': the string \"14.99\" became 14.99"]


def test_a_dry_run_of_a_payload_without_coercion_has_no_note(preset):
    assert dry_run(preset, events.track(1)).coercions == []


def test_the_test_mapping_page_lists_the_coercions_of_its_dry_run(admin_client, source):
    flags = create_destination(
        "launchdarkly", "Flags", {"client_id": "5f0c1d2e3a4b5c6d7e8f9a0b"}, sources=[source]
    )
    mapping = flags.mappings.get(action="track_event")
    event = events.track(1, properties={"revenue": "14.99"})

    response = admin_client.post(page_url(mapping), {"event": json.dumps(event), "dry_run": "1"})

    page = response.content.decode()
    assert 'id="dry-run-coercions"' in page
    assert escape("field 'metric_value': the string \"14.99\" became 14.99") in page


def test_send_test_event_uses_the_kinds_test_mode_where_it_has_one(preset, sink, monkeypatch):
    """A vendor's validation endpoint (GA4's /debug/mp/collect) records nothing real."""

    def to_validation_server(config, payloads):
        return [replace(r, url=f"{r.url}?validate=1") for r in SEND_EVENT.build(config, payloads)]

    metronome = get_kind("metronome")
    action = replace(SEND_EVENT, build_test=to_validation_server)
    monkeypatch.setitem(REGISTRY, "metronome", replace(metronome, actions=(action,)))
    sink.answer = always(200)

    send_test_event(preset, events.track(1))

    assert sink.received[0].path.endswith("?validate=1")
