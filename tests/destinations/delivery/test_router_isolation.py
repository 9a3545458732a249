"""A bad event fails alone (destinations/delivery/routing.py): whatever one event does to the
router — too deep to encode, a URL nothing can parse, a transformation's odd answer, a row the
database refuses — its deliveries fail with ROUTING_ERROR and the reason, the other events of
its chunk and of every other source are routed, and no chunk is claimed again and again."""

import pytest
from django.db import connection
from django.utils import timezone

from destinations.delivery import routing
from destinations.delivery.routing import route_new_events
from destinations.models import Delivery
from destinations.services.replays import replay_deliveries
from destinations.services.transformations import create_transformation, set_destination_chain
from infra import metrics
from ingest.models import Event, Source
from tests.destinations.delivery import scenario
from tests.destinations.delivery.scenario import ingest, track

NOWHERE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def hook(source):
    """The commonest mapping there is: the whole event to a webhook."""
    return scenario.webhook(source, NOWHERE)


@pytest.fixture
def other(db, hook) -> Source:
    """A second source feeding the same webhook: its events must not wait on the first's."""
    other = Source.objects.create(name="Other app")
    hook.sources.add(other)
    return other


def nested(depth: int) -> dict:
    value: dict = {"leaf": True}
    for _ in range(depth):
        value = {"a": value}
    return value


def stored(source: Source, number: int, **overrides) -> Event:
    """An event as the database holds it, whatever ingest would make of it today."""
    message = track(number, **overrides)
    now = timezone.now()
    return Event.objects.create(
        source=source,
        message_id=message["messageId"],
        type="track",
        name=message["event"],
        user_id=message["userId"],
        timestamp=now,
        received_at=now,
        payload=message,
    )


def test_an_event_too_deep_to_decode_fails_alone_and_the_events_behind_it_are_routed(source, hook):
    """Ingest refuses events nested past 64 levels, but an older release stored them."""
    deep = stored(source, 1)
    text = '{"type": "track", "properties": ' + '{"a": ' * 1100 + "1" + "}" * 1100 + "}"
    jsonb = "::jsonb" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE ingest_event SET payload = %s{jsonb} WHERE id = %s", [text, deep.pk]
        )
    behind = stored(source, 2)

    assert route_new_events() == 2

    assert outcome(deep) == ("failed", "ROUTING_ERROR")
    assert "cannot be read" in Delivery.objects.get(event_id=deep.pk).error_message
    assert outcome(behind) == ("pending", "")


def outcome(event: Event) -> tuple[str, str]:
    [delivery] = Delivery.objects.filter(event_id=event.pk)
    return delivery.status, delivery.error_code


def test_an_event_too_deep_to_encode_fails_alone_and_another_sources_event_is_routed(
    source, other, hook
):
    deep = stored(source, 1, properties=nested(300))
    normal = stored(other, 2)

    assert route_new_events() == 2

    assert outcome(deep) == ("failed", "ROUTING_ERROR")
    assert "ecursion" in Delivery.objects.get(event_id=deep.pk).error_message
    assert outcome(normal) == ("pending", "")
    assert not Event.objects.filter(routed_at__isnull=True).exists()


def test_a_url_nothing_can_parse_fails_its_event_alone(source, hook):
    mapping = hook.mappings.get()
    mapping.fields = mapping.fields | {"url": {"@path": "$.properties.url"}}
    mapping.save()
    bad = stored(source, 1, properties={"url": "http://[::1"})
    good = stored(source, 2, properties={"url": "https://example.com/hook"})

    route_new_events()

    assert outcome(bad)[0] == "failed"
    assert outcome(good) == ("pending", "")


def test_a_script_that_redefines_json_cannot_fool_the_runner(source, hook):
    code = """JSON.stringify = () => 42;
export function transformEvent(event) { event.seen = true; return event; }"""
    set_destination_chain(hook, [create_transformation("Saboteur", code, author="test")])
    ingest(source, track(1))

    route_new_events()

    [delivery] = Delivery.objects.all()
    assert delivery.status == "pending" and delivery.payload["data"]["seen"] is True


def test_a_script_whose_answer_is_not_events_fails_the_event_with_the_reason(source, hook):
    code = """Object.prototype.toJSON = function () { return 42; };
export function transformEvent(event) { return event; }"""
    set_destination_chain(hook, [create_transformation("Saboteur", code, author="test")])
    ingest(source, track(1), track(2))

    assert route_new_events() == 2

    failed = Delivery.objects.all()
    assert {(d.status, d.error_code) for d in failed} == {("failed", "TRANSFORMATION_RESULT")}
    assert all("not events" in d.error_message for d in failed)


def test_a_chunk_the_database_refuses_is_routed_in_halves_down_to_the_one_bad_event(
    source, hook, monkeypatch
):
    events = [stored(source, number) for number in range(8)]
    poison = events[5].pk
    insert = routing.insert_deliveries

    def refusing(deliveries, **options):
        if any(d.event_id == poison and d.status == "pending" for d in deliveries):
            raise ValueError("the database refused a row")
        insert(deliveries, **options)

    monkeypatch.setattr(routing, "insert_deliveries", refusing)
    counted = []
    monkeypatch.setattr(metrics, "count_router_errors", counted.append)

    assert route_new_events() == 8

    assert outcome(events[5]) == ("failed", "ROUTING_ERROR")
    assert "the database refused a row" in Delivery.objects.get(event_id=poison).error_message
    assert {outcome(e) for e in events if e.pk != poison} == {("pending", "")}
    assert {"chunk": 1} in counted
    assert not Event.objects.filter(routed_at__isnull=True).exists()


def test_an_event_whose_failure_cannot_be_written_either_is_marked_routed_and_counted(
    source, hook, monkeypatch
):
    bad, good = stored(source, 1), stored(source, 2)
    insert = routing.insert_deliveries

    def refusing(deliveries, **options):
        if any(d.event_id == bad.pk for d in deliveries):
            raise ValueError("the database refused a row")
        insert(deliveries, **options)

    monkeypatch.setattr(routing, "insert_deliveries", refusing)
    counted = []
    monkeypatch.setattr(metrics, "count_router_errors", counted.append)

    route_new_events()

    assert not Delivery.objects.filter(event_id=bad.pk).exists()
    assert outcome(good) == ("pending", "")
    assert {"dropped": 1} in counted
    assert not Event.objects.filter(routed_at__isnull=True).exists()


def test_replaying_an_event_that_still_cannot_be_routed_fails_that_replay_alone(
    source, other, hook
):
    deep = stored(source, 1, properties=nested(300))
    normal = stored(other, 2)
    route_new_events()
    Delivery.objects.filter(event_id=normal.pk).update(status="delivered")  # replayable
    originals = list(Delivery.objects.values_list("pk", flat=True))

    assert replay_deliveries(originals) == 2

    replays = Delivery.objects.filter(replay=True)
    assert (replays.get(event_id=deep.pk).status, replays.get(event_id=deep.pk).error_code) == (
        "failed",
        "ROUTING_ERROR",
    )
    assert replays.get(event_id=normal.pk).status == "pending"
