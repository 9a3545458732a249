"""Replay as a service (docs/delivery.md, "Replay"): new deliveries, marked as replays, mapped as
the mapping is now; the originals stay as they were."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from destinations.delivery.dispatch import dispatch_mapping
from destinations.models import Delivery, Destination, Mapping
from destinations.services.destinations import create_destination
from destinations.services.replays import replay_deliveries, replay_destination, reroute_source
from ingest.models import Event, Source
from tests.destinations.clock import receive_at
from tests.destinations.delivery import scenario
from tests.destinations.delivery.scenario import ingest, ingest_and_route, track

NOWHERE = "http://127.0.0.1:9"
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def billing(source) -> Destination:
    return scenario.metronome(source, NOWHERE)


@pytest.fixture
def mapping(billing) -> Mapping:
    return billing.mappings.get()


def settle(delivery: Delivery, status: str, **values) -> Delivery:
    """Put a delivery where a dispatcher would have left it."""
    now = timezone.now()
    if status in ("delivered", "failed", "retrying"):
        values = {"attempts": 1, "first_attempt_at": now, "last_attempt_at": now} | values
    if status == "delivered":
        values = {"delivered_at": now, "last_status_code": 200} | values
    if status == "failed":
        values = {"error_code": "BAD_REQUEST", "error_message": "HTTP 400", **values}
    Delivery.objects.filter(pk=delivery.pk).update(status=status, **values)
    return Delivery.objects.get(pk=delivery.pk)


def deliveries(source, count: int, start: int = 0) -> list[Delivery]:
    ingest_and_route(source, *[track(i) for i in range(start, start + count)])
    return list(Delivery.objects.filter(replay=False).order_by("event_id"))[-count:]


def snapshot(rows) -> list[dict]:
    return [model_to_dict(Delivery.objects.get(pk=row.pk)) for row in rows]


def test_replaying_failed_and_delivered_deliveries_makes_new_rows_mapped_as_the_mapping_is_now(
    source, billing, mapping
):
    first, second = deliveries(source, 2)
    originals = [settle(first, "delivered"), settle(second, "failed", attempts=3)]
    before = snapshot(originals)
    mapping.fields = mapping.fields | {"event_type": "Replayed order"}
    mapping.save()

    assert replay_deliveries([first.pk, second.pk]) == 2

    assert snapshot(originals) == before
    replays = Delivery.objects.filter(replay=True).order_by("replay_of")
    assert [r.replay_of_id for r in replays] == [first.pk, second.pk]
    for replay, original in zip(replays, originals, strict=True):
        assert replay.status == Delivery.Status.PENDING
        assert (replay.event_id, replay.mapping_id) == (original.event_id, original.mapping_id)
        assert replay.destination_id == billing.pk
        assert replay.payload == original.payload | {"event_type": "Replayed order"}
        assert replay.attempts == 0
        assert (replay.first_attempt_at, replay.delivered_at, replay.error_code) == (None, None, "")
        assert replay.next_attempt_at == replay.created_at
    assert {r.pk for r in Delivery.objects.get(pk=first.pk).replays.all()} == {replays[0].pk}


@pytest.mark.parametrize("status", ["pending", "in_flight", "retrying"])
def test_deliveries_still_under_way_are_not_replayed(source, billing, status):
    (delivery,) = deliveries(source, 1)
    settle(delivery, status)

    assert replay_deliveries([delivery.pk]) == 0

    assert not Delivery.objects.filter(replay=True).exists()


def test_a_replay_goes_out_like_any_delivery_and_leaves_the_original_alone(
    source, sinks, rings, django_capture_on_commit_callbacks
):
    sink = sinks()
    destination = scenario.metronome(source, sink.url)
    mapping = destination.mappings.get()
    mapping.flush_interval = 0
    mapping.save()
    (delivery,) = deliveries(source, 1)
    original = settle(delivery, "failed")
    rings.clear()

    with django_capture_on_commit_callbacks(execute=True):
        replay_deliveries([delivery.pk])
    assert ("destinations.dispatch", [mapping.pk], 0.0) in rings
    dispatch_mapping(mapping.pk)

    assert [item["transaction_id"] for item in sink.items()] == ["msg-00000"]
    replay = Delivery.objects.get(replay=True)
    assert (replay.status, replay.attempts) == (Delivery.Status.DELIVERED, 1)
    assert snapshot([original]) == [model_to_dict(original)]


def test_a_replay_the_current_mapping_cannot_render_is_failed_at_once(source, billing, mapping):
    (delivery,) = deliveries(source, 1)
    settle(delivery, "delivered")
    mapping.fields = mapping.fields | {"customer_id": {"@path": "$.context.accountId"}}
    mapping.save()

    assert replay_deliveries([delivery.pk]) == 1

    replay = Delivery.objects.get(replay=True)
    assert (replay.status, replay.error_code) == ("failed", "PAYLOAD_VALIDATION_FAILED")
    assert replay.replay_of_id == delivery.pk


def test_replaying_a_destination_takes_its_finished_deliveries_created_in_the_range(source):
    billing = scenario.metronome(source, NOWHERE)
    other = create_destination(
        "metronome", "Other billing", {"base_url": NOWHERE}, {"api_token": "t"}, [source]
    )
    ingest_and_route(source, *[track(i) for i in range(6)])
    now = timezone.now()
    start, end = now - 2 * HOUR, now - HOUR
    rows = list(Delivery.objects.filter(destination=billing).order_by("event_id"))
    created = {
        "before": (rows[0], start - timedelta(microseconds=1), "delivered"),
        "at start": (rows[1], start, "delivered"),
        "inside": (rows[2], start + HOUR / 2, "failed"),
        "inside, still pending": (rows[3], start + HOUR / 2, "pending"),
        "at end": (rows[4], end, "delivered"),
        "after": (rows[5], now, "failed"),
    }
    for row, moment, status in created.values():
        settle(row, status, created_at=moment)
    for row in Delivery.objects.filter(destination=other):
        settle(row, "delivered", created_at=start + HOUR / 2)

    assert replay_destination(billing, start, end) == 2

    replayed = set(Delivery.objects.filter(replay=True).values_list("replay_of", flat=True))
    assert replayed == {created["at start"][0].pk, created["inside"][0].pk}
    assert not Delivery.objects.filter(replay=True, destination=other).exists()


@pytest.fixture
def events_in_range(source, billing):
    """Events of the source received before, inside and after [start, end), routed as usual;
    returns (start, end, the events inside by name)."""
    lost = {"integrations": {"Billing": False}}
    messages = {
        "before": track(0),
        "track": track(1),
        "identify": {"type": "identify", "userId": "u1", "messageId": "idf-1", "traits": {}},
        "switched off": track(2, **lost),
        "after": track(3),
    }
    ingest_and_route(source, *messages.values())
    now = timezone.now()
    start, end = now - 2 * HOUR, now - HOUR
    received = {"before": start - HOUR, "after": end}
    for name, message in messages.items():
        when = received.get(name, start + HOUR / 2)
        receive_at(Event.objects.filter(message_id=message["messageId"]), when)
    by_name = {name: Event.objects.get(message_id=m["messageId"]) for name, m in messages.items()}
    return start, end, by_name


def test_rerouting_a_source_applies_triggers_and_integrations_to_its_events_in_the_range(
    source, billing, mapping, events_in_range
):
    start, end, events = events_in_range
    other_source = Source.objects.create(name="Other app")
    billing.sources.add(other_source)
    ingest(other_source, track(1))
    receive_at(Event.objects.filter(source=other_source), start)

    assert reroute_source(source, billing, start, end) == 1

    replay = Delivery.objects.get(replay=True)
    assert (replay.event, replay.mapping, replay.replay_of) == (events["track"], mapping, None)
    assert replay.status == Delivery.Status.PENDING


def test_rerouted_deliveries_coexist_with_the_originals(source, billing, mapping, events_in_range):
    start, end, events = events_in_range
    original = Delivery.objects.get(event=events["track"])

    assert reroute_source(source, billing, start, end) == 1
    assert reroute_source(source, billing, start, end) == 1

    rows = Delivery.objects.filter(event=events["track"], mapping=mapping)
    assert sorted(rows.values_list("replay", flat=True)) == [False, True, True]
    assert Delivery.objects.get(pk=original.pk).replay is False
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(
            event=events["track"],
            event_received_at=events["track"].received_at,
            mapping=mapping,
            destination=billing,
            created_at=timezone.now(),
            next_attempt_at=timezone.now(),
        )


def test_rerouting_uses_only_the_enabled_mappings_of_the_destination(
    source, billing, mapping, events_in_range
):
    start, end, _ = events_in_range
    mapping.enabled = False
    mapping.save()

    assert reroute_source(source, billing, start, end) == 0
