"""The router as a service (docs/delivery.md, "Routing" and "Enabling and disabling"): which events
become which deliveries."""

from collections import Counter

import orjson
import pytest
from django.utils import timezone

from destinations.delivery import routing
from destinations.models import Delivery, FilteredCount, Mapping
from destinations.services.destinations import create_destination
from infra.tallies import hour_of
from ingest.models import Event, Source
from tests.destinations.delivery import scenario
from tests.destinations.delivery.scenario import ingest, ingest_and_route, track

# Nothing listens there: routing never sends, and a test that dispatches uses a sink.
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def billing(source):
    """A Metronome destination named "Billing" with its preset mapping on type = "track"."""
    return scenario.metronome(source, NOWHERE)


def only_mapping(destination) -> Mapping:
    return destination.mappings.get()


def filtered(mapping: Mapping) -> dict[str, int]:
    return dict(FilteredCount.objects.filter(mapping=mapping).values_list("reason", "count"))


def test_a_matching_event_becomes_one_pending_delivery_with_its_mapped_payload(source, billing):
    ingest_and_route(source, track(1))

    delivery = Delivery.objects.get()
    assert delivery.mapping == only_mapping(billing)
    assert delivery.destination == billing
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.payload == {
        "transaction_id": "msg-00001",
        "customer_id": "acme",
        "timestamp": delivery.event.payload["timestamp"],
        "event_type": "Order Completed",
        "properties": {"total": 1},
    }
    assert delivery.payload_bytes == len(orjson.dumps(delivery.payload))
    assert delivery.attempts == 0
    assert delivery.next_attempt_at == delivery.created_at
    assert not delivery.replay


def test_routed_events_are_marked_routed(source, billing):
    ingest(source, track(1), track(2))
    assert Event.objects.filter(routed_at__isnull=True).count() == 2

    assert routing.route_new_events() == 2

    assert not Event.objects.filter(routed_at__isnull=True).exists()
    assert routing.route_new_events() == 0


def test_events_of_a_source_without_destinations_are_marked_routed_too(source, billing):
    lonely = Source.objects.create(name="Lonely app")
    ingest(lonely, track(1))

    assert routing.route_new_events() == 1

    assert Event.objects.get().routed_at is not None
    assert not Delivery.objects.exists()


def test_a_mapping_whose_trigger_does_not_match_gets_no_delivery_and_a_trigger_count(
    source, billing
):
    identify = {"type": "identify", "userId": "u1", "messageId": "idf-1", "traits": {}}
    ingest_and_route(source, identify, track(1), {**identify, "messageId": "idf-2"})

    assert Delivery.objects.count() == 1
    row = FilteredCount.objects.get(mapping=only_mapping(billing))
    assert (row.reason, row.count) == ("trigger", 2)
    assert row.hour == hour_of(timezone.now())


@pytest.mark.parametrize(
    ("integrations", "delivered"),
    [
        ({}, True),
        ({"All": True}, True),
        ({"Some Other Tool": False}, True),
        ({"All": False}, False),
        ({"All": False, "Billing": True}, True),  # the destination's name
        ({"All": False, "Metronome": True}, True),  # the kind's name
        ({"Metronome": False}, False),
        ({"Billing": False}, False),
        ({"All": False, "Metronome": {"region": "eu"}}, True),  # options keep it on
        ({"All": False, "Billing": {}}, True),
        ({"Metronome": False, "Billing": True}, True),  # the destination's name wins
        ({"Metronome": True, "Billing": False}, False),
        ({"All": True, "Billing": False}, False),
    ],
)
def test_the_integrations_object_turns_a_destination_on_or_off(
    source, billing, integrations, delivered
):
    ingest_and_route(source, track(1, integrations=integrations))

    assert Delivery.objects.exists() is delivered
    assert filtered(only_mapping(billing)) == ({} if delivered else {"integrations": 1})


def test_the_integrations_object_of_a_batch_envelope_applies_to_its_messages(source, billing):
    from ingest.selectors import source_for_write_key
    from ingest.services import ingest_payload

    payload = {"batch": [track(1), track(2)], "integrations": {"All": False}}
    ingest_payload(source_for_write_key(source.write_key), payload, None, "127.0.0.1")
    routing.route_new_events()

    assert not Delivery.objects.exists()
    assert filtered(only_mapping(billing)) == {"integrations": 2}


def disable_mapping(destination, source):
    Mapping.objects.filter(destination=destination).update(enabled=False)


def disable_destination(destination, source):
    destination.enabled = False
    destination.save()


def disconnect(destination, source):
    destination.sources.remove(source)


@pytest.mark.parametrize("turn_off", [disable_mapping, disable_destination, disconnect])
def test_a_mapping_that_is_off_for_the_source_gets_nothing(source, billing, turn_off):
    other = create_destination(
        "metronome", "Other billing", {"base_url": NOWHERE}, {"api_token": "t"}, [source]
    )
    turn_off(billing, source)

    ingest_and_route(source, track(1))

    assert list(Delivery.objects.values_list("destination", flat=True)) == [other.pk]
    assert not FilteredCount.objects.filter(mapping__destination=billing).exists()
    assert Event.objects.get().routed_at is not None


def test_routing_an_event_twice_never_makes_a_second_delivery(source, billing):
    ingest_and_route(source, track(1))
    first = Delivery.objects.get()

    Event.objects.update(routed_at=None)  # as if a router died before marking it
    assert routing.route_new_events() == 1
    events = list(Event.objects.all())
    routing.route_events(events, routing.routing_table(), timezone.now())

    assert list(Delivery.objects.values_list("pk", flat=True)) == [first.pk]


def test_a_duplicate_message_id_is_one_event_and_one_delivery(source, billing):
    ingest_and_route(source, track(1))
    ingest_and_route(source, track(1, properties={"total": 99}))

    assert Delivery.objects.get().payload["properties"] == {"total": 1}


def test_a_payload_that_fails_the_field_schema_is_a_failed_delivery_that_never_goes_out(
    source, sinks, rings, django_capture_on_commit_callbacks
):
    sink = sinks()
    destination = scenario.metronome(source, sink.url)
    no_customer = track(1, context={})  # customer_id <- $.context.groupId is required

    with django_capture_on_commit_callbacks(execute=True):
        ingest_and_route(source, no_customer)

    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.error_code == "PAYLOAD_VALIDATION_FAILED"
    assert "customer_id" in delivery.error_message
    assert delivery.payload is None
    assert delivery.attempts == 0
    assert ("destinations.dispatch", [only_mapping(destination).pk], 0.0) not in rings
    from destinations.delivery.dispatch import dispatch_mapping

    dispatch_mapping(only_mapping(destination).pk)
    assert sink.received == []
    assert delivery.attempt_log.count() == 0


def test_several_events_for_several_mappings_are_routed_in_one_chunk(source):
    billing = scenario.metronome(source, NOWHERE)
    analytics = scenario.aggregations(source, NOWHERE)
    pages = analytics.mappings.create(
        name="Pages",
        action="send_events",
        trigger='type = "page"',
        fields={"data": {"@path": "$."}},
    )
    hook = scenario.webhook(source, NOWHERE)
    page = {"type": "page", "name": "Pricing", "anonymousId": "a1"}
    messages = [track(i) for i in range(6)] + [page | {"messageId": f"pg-{i}"} for i in range(3)]
    ingest(source, *messages)
    events = list(Event.objects.order_by("id"))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(routing, "CHUNK", len(events))
        assert routing.route_new_events() == 9

    by_mapping = Counter(Delivery.objects.values_list("mapping__name", "destination__name"))
    assert by_mapping == {
        ("Send track events", billing.name): 6,
        ("All tracks", analytics.name): 6,
        ("Pages", analytics.name): 3,
        ("Orders", hook.name): 6,
    }
    assert filtered(pages) == {"trigger": 6}
    assert filtered(only_mapping(billing)) == {"trigger": 3}
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}


def test_the_router_takes_events_a_chunk_at_a_time_until_none_are_left(
    source, billing, monkeypatch
):
    monkeypatch.setattr(routing, "CHUNK", 2)
    ingest(source, *[track(i) for i in range(5)])

    assert routing.route_new_events() == 5

    assert Delivery.objects.count() == 5
    assert not Event.objects.filter(routed_at__isnull=True).exists()


def test_routing_rings_the_dispatchers_of_the_mappings_that_got_pending_deliveries(
    source, billing, rings, django_capture_on_commit_callbacks
):
    hook = scenario.webhook(source, NOWHERE)
    ingest(source, track(1))
    rings.clear()

    with django_capture_on_commit_callbacks(execute=True):
        routing.route_new_events()

    dispatched = sorted(args[0] for task, args, _ in rings if task == "destinations.dispatch")
    assert dispatched == sorted([only_mapping(billing).pk, only_mapping(hook).pk])


def break_trigger(mapping: Mapping) -> None:
    Mapping.objects.filter(pk=mapping.pk).update(trigger='type = "track" and')


def break_action(mapping: Mapping) -> None:
    Mapping.objects.filter(pk=mapping.pk).update(action="send_event_v0")  # an action since renamed


@pytest.mark.parametrize("damage", [break_trigger, break_action])
def test_a_mapping_that_no_longer_parses_fails_its_events_visibly_and_others_route_on(
    source, billing, damage
):
    hook = scenario.webhook(source, NOWHERE)
    damage(only_mapping(billing))
    ingest(source, track(1))

    assert routing.route_new_events() == 1

    assert Delivery.objects.get(destination=hook).status == "pending"
    broken = Delivery.objects.get(destination=billing)
    assert (broken.status, broken.error_code) == ("failed", "MAPPING_INVALID")
    assert "cannot route events" in broken.error_message
