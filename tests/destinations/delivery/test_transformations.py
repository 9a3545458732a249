"""Transformations in the router and in replays: the event a destination's triggers and
mappings see is the one its transformations made (RudderStack's contract: none, one or several
events out), and a transformation that fails fails that event for that destination alone."""

from collections import Counter
from datetime import timedelta

import pytest

from destinations.delivery import routing, transforming
from destinations.delivery.transforming import Breaker, Scripts, Step
from destinations.models import Delivery, FilteredCount, TransformationVersion
from destinations.services.replays import replay_deliveries, reroute_source
from destinations.services.transformations import (
    create_transformation,
    save_code,
    set_destination_chain,
    set_source_chain,
)
from ingest.models import Event, Source
from tests.destinations.delivery import scenario
from tests.destinations.delivery.scenario import ingest_and_route, track

NOWHERE = "http://127.0.0.1:9"

REDACT_PII = """export function transformEvent(event, metadata) {
  delete event.properties.email;
  if (event.context) delete event.context.ip;
  return event;
}"""
FAN_OUT = """export function transformEvent(event) {
  return [event, {...event, event: "Order Shipped", messageId: event.messageId + "-shipped"}];
}"""
DROP_SMALL = """export function transformEvent(event) {
  return event.properties.total < 10 ? null : event;
}"""
THROW_ON_3 = """export function transformEvent(event) {
  if (event.properties.total === 3) {
    throw new Error("no threes");
  }
  return event;
}"""


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def hook(source):
    return scenario.webhook(source, NOWHERE)


def transformation(name: str, code: str):
    return create_transformation(name, code, author="test")


def sent(destination) -> list[dict]:
    """The events the destination's deliveries carry, in (event, part) order."""
    rows = Delivery.objects.filter(destination=destination, status="pending")
    return [d.payload["data"] for d in rows.order_by("event_id", "part")]


def test_a_destination_transformation_redacts_pii_before_the_mapping(source, hook):
    set_destination_chain(hook, [transformation("Redact PII", REDACT_PII)])

    ingest_and_route(source, track(1, properties={"total": 1, "email": "ada@example.com"}))

    (event,) = sent(hook)
    assert event["properties"] == {"total": 1}
    assert "ip" not in event["context"]


def test_the_version_that_ran_is_recorded_on_the_delivery(source, hook):
    redact = transformation("Redact PII", REDACT_PII)
    set_destination_chain(hook, [redact])

    ingest_and_route(source, track(1))

    assert Delivery.objects.get().transformed_by == [redact.current_version.pk]


def test_an_event_fanned_out_becomes_one_delivery_per_part(source, hook):
    set_destination_chain(hook, [transformation("Ship too", FAN_OUT)])

    ingest_and_route(source, track(1))

    deliveries = Delivery.objects.order_by("part")
    assert [d.part for d in deliveries] == [0, 1]
    assert [d.payload["data"]["event"] for d in deliveries] == ["Order Completed", "Order Shipped"]
    assert len({d.event_id for d in deliveries}) == 1


def test_routing_a_fanned_out_event_twice_adds_nothing(source, hook):
    set_destination_chain(hook, [transformation("Ship too", FAN_OUT)])
    ingest_and_route(source, track(1))

    Event.objects.update(routed_at=None)  # as if the router died before marking it routed
    routing.route_new_events()

    assert Delivery.objects.count() == 2


def test_triggers_see_the_transformed_event(source, hook):
    rename = transformation(
        "Rename", "function transformEvent(e) { e.event = 'Purchase'; return e }"
    )
    hook.mappings.update(trigger='event = "Purchase"')
    set_destination_chain(hook, [rename])

    ingest_and_route(source, track(1))

    assert [e["event"] for e in sent(hook)] == ["Purchase"]


def test_a_dropped_event_makes_no_delivery_and_is_counted_as_filtered(source, hook):
    set_destination_chain(hook, [transformation("Drop small", DROP_SMALL)])

    ingest_and_route(source, track(1, properties={"total": 5}), track(2, properties={"total": 50}))

    assert [e["properties"]["total"] for e in sent(hook)] == [50]
    counts = FilteredCount.objects.filter(mapping__destination=hook)
    assert dict(counts.values_list("reason", "count")) == {"transformation": 1}


def test_a_thrown_error_fails_that_event_alone_with_the_message_and_line(source, hook):
    throw = transformation("Throw", THROW_ON_3)
    set_destination_chain(hook, [throw])

    ingest_and_route(source, *(track(n) for n in range(1, 6)))

    failed = Delivery.objects.get(status="failed")
    assert failed.event.payload["properties"]["total"] == 3
    assert failed.error_code == "TRANSFORMATION_ERROR"
    assert failed.error_message == "Throw v1: Error: no threes (line 3)"
    assert failed.transformed_by == [throw.current_version.pk]
    assert [e["properties"]["total"] for e in sent(hook)] == [1, 2, 4, 5]
    throw.current_version.refresh_from_db()
    assert throw.current_version.failures == 1
    assert throw.current_version.last_failure == failed.error_message


def test_an_endless_loop_fails_its_event_and_the_next_events_go_on(source, hook, settings):
    settings.TRANSFORMATION_CPU_MS = 20
    spin = "function transformEvent(e) { if (e.properties.total === 2) while (true) {} return e }"
    set_destination_chain(hook, [transformation("Spin", spin)])

    ingest_and_route(source, *(track(n) for n in range(1, 4)))

    failed = Delivery.objects.get(status="failed")
    assert failed.error_code == "TRANSFORMATION_TIMEOUT"
    assert "time limit (20 ms of CPU per event)" in failed.error_message
    assert [e["properties"]["total"] for e in sent(hook)] == [1, 3]


def test_code_that_no_longer_loads_fails_the_events_with_the_reason(source, hook):
    broken = transformation("Broken", "function transformEvent(e) { return e }")
    broken.current_version.code = "function transformEvent(e) {"  # saved around validation
    broken.current_version.save()
    set_destination_chain(hook, [broken])

    ingest_and_route(source, track(1))

    failed = Delivery.objects.get()
    assert failed.error_code == "TRANSFORMATION_SCRIPT"
    assert failed.error_message.startswith("Broken v1: SyntaxError")


def test_a_failed_transformation_fails_the_event_for_each_mapping(source, hook):
    hook.mappings.create(
        name="Identifies",
        action="send",
        trigger='type = "identify"',
        fields=hook.mappings.get().fields,
    )
    set_destination_chain(hook, [transformation("Throw", THROW_ON_3)])

    ingest_and_route(source, track(3))

    assert Counter(Delivery.objects.values_list("mapping__name", "status")) == {
        ("Orders", "failed"): 1,
        ("Identifies", "failed"): 1,
    }


def test_a_source_transformation_runs_before_routing_for_every_destination(source, hook):
    other = scenario.webhook(source, NOWHERE, name="Other hook")
    set_source_chain(source, [transformation("Redact PII", REDACT_PII)])

    ingest_and_route(source, track(1, properties={"total": 1, "email": "ada@example.com"}))

    for destination in (hook, other):
        assert [e["properties"] for e in sent(destination)] == [{"total": 1}]


def test_source_transformations_run_before_the_destinations_and_each_chain_in_order(source, hook):
    def tag(name):
        code = f"""function transformEvent(e) {{
          e.properties.path = (e.properties.path || "") + "{name}";
          return e;
        }}"""
        return transformation(name, code)

    set_source_chain(source, [tag("S1"), tag("S2")])
    set_destination_chain(hook, [tag("D2"), tag("D1")])

    ingest_and_route(source, track(1))

    (event,) = sent(hook)
    assert event["properties"]["path"] == "S1S2D2D1"
    assert len(Delivery.objects.get().transformed_by) == 4


def test_a_source_transformation_that_fails_fails_the_event_for_every_destination(source, hook):
    other = scenario.webhook(source, NOWHERE, name="Other hook")
    set_source_chain(source, [transformation("Throw", THROW_ON_3)])

    ingest_and_route(source, track(3))

    for destination in (hook, other):
        assert Delivery.objects.get(destination=destination).error_code == "TRANSFORMATION_ERROR"
    assert TransformationVersion.objects.get().failures == 1  # one event, however many legs


def test_metadata_names_the_source_and_the_destination(source, hook):
    code = """function transformEvent(event, metadata) {
      const m = metadata(event);
      event.properties.meta =
        [m.sourceId, m.sourceName, m.destinationId, m.destinationType, m.messageId];
      return event;
    }"""
    set_destination_chain(hook, [transformation("Meta", code)])

    ingest_and_route(source, track(1))

    (event,) = sent(hook)
    assert event["properties"]["meta"] == [
        str(source.pk),
        source.name,
        str(hook.pk),
        "webhook",
        "msg-00001",
    ]


def test_a_transformation_changed_between_runs_applies_to_the_next_router_run(source, hook):
    redact = transformation("Redact PII", REDACT_PII)
    set_destination_chain(hook, [redact])
    ingest_and_route(source, track(1, properties={"total": 1, "email": "a@x"}))

    save_code(redact, REDACT_PII.replace("delete event.properties.email;", ""), "test")
    ingest_and_route(source, track(2, properties={"total": 2, "email": "b@x"}))

    assert [e["properties"].get("email") for e in sent(hook)] == [None, "b@x"]


def test_a_replay_runs_the_transformation_as_it_is_now_and_records_that_version(source, hook):
    throw = transformation("Throw", THROW_ON_3)
    set_destination_chain(hook, [throw])
    ingest_and_route(source, track(3))
    failed = Delivery.objects.get()

    save_code(throw, THROW_ON_3.replace("=== 3", "=== 4"), "test")
    assert replay_deliveries([failed.pk]) == 1

    replay = Delivery.objects.get(replay=True)
    assert replay.status == "pending"
    assert replay.replay_of == failed
    assert replay.transformed_by == [throw.current_version.pk]
    assert replay.payload["data"]["properties"]["total"] == 3


def test_a_replay_that_fails_again_is_counted_on_its_version(source, hook):
    throw = transformation("Throw", THROW_ON_3)
    set_destination_chain(hook, [throw])
    ingest_and_route(source, track(3))

    replay_deliveries([Delivery.objects.get().pk])

    assert Delivery.objects.get(replay=True).error_code == "TRANSFORMATION_ERROR"
    throw.current_version.refresh_from_db()
    assert throw.current_version.failures == 2


def test_replaying_the_parts_of_a_fanned_out_event_replays_each_part_once(source, hook):
    set_destination_chain(hook, [transformation("Ship too", FAN_OUT)])
    ingest_and_route(source, track(1))
    parts = list(Delivery.objects.values_list("pk", flat=True))
    Delivery.objects.update(status="delivered")

    assert replay_deliveries(parts) == 2

    replays = Delivery.objects.filter(replay=True).order_by("part")
    assert [d.payload["data"]["event"] for d in replays] == ["Order Completed", "Order Shipped"]


def test_rerouting_a_source_goes_through_its_transformations(source, hook):
    ingest_and_route(source, track(1, properties={"total": 1, "email": "a@x"}))
    set_source_chain(source, [transformation("Redact PII", REDACT_PII)])
    received = Delivery.objects.get().event_received_at

    queued = reroute_source(
        source, hook, received - timedelta(minutes=1), received + timedelta(minutes=1)
    )

    assert queued == 1
    replay = Delivery.objects.get(replay=True)
    assert replay.payload["data"]["properties"] == {"total": 1}


def test_events_of_a_source_without_transformations_are_untouched(source, hook):
    other_source = Source.objects.create(name="Other")
    set_source_chain(other_source, [transformation("Redact PII", REDACT_PII)])

    ingest_and_route(source, track(1, properties={"total": 1, "email": "a@x"}))

    (delivery,) = Delivery.objects.all()
    assert delivery.transformed_by is None
    assert delivery.payload["data"]["properties"]["email"] == "a@x"


def test_a_version_id_that_comes_back_with_other_code_runs_the_new_code():
    """SQLite hands a deleted row's id out again; a script loaded for the old row must not
    answer for the new one."""
    scripts = Scripts()
    old = Step(1, "Old", 1, "function transformEvent(e) { e.by = 'old'; return e }")
    new = Step(1, "New", 1, "function transformEvent(e) { e.by = 'new'; return e }")

    assert scripts.get(old).transform({}, {}).events == [{"by": "old"}]
    assert scripts.get(new).transform({}, {}).events == [{"by": "new"}]


def test_a_script_that_keeps_overrunning_is_paused_and_its_events_fail_at_once(
    source, hook, settings, monkeypatch
):
    settings.TRANSFORMATION_CPU_MS = 5
    now = [1000.0]
    monkeypatch.setattr(transforming, "BREAKER", Breaker(overruns=3, clock=lambda: now[0]))
    spin = transformation("Spin", "function transformEvent(e) { while (true) {} }")
    set_destination_chain(hook, [spin])

    def codes() -> list[str]:
        return list(Delivery.objects.order_by("event_id").values_list("error_code", flat=True))

    ingest_and_route(source, *(track(n) for n in range(1, 7)))
    assert codes() == ["TRANSFORMATION_TIMEOUT"] * 3 + ["TRANSFORMATION_PAUSED"] * 3
    paused = Delivery.objects.filter(error_code="TRANSFORMATION_PAUSED").first()
    assert "overran its limits on 3 events in a row; it runs again in 30 s" in (
        paused.error_message
    )

    now[0] += 31  # the pause is over: it runs again, and one more overrun pauses it again
    ingest_and_route(source, track(7), track(8))
    assert codes()[6:] == ["TRANSFORMATION_TIMEOUT", "TRANSFORMATION_PAUSED"]


def test_a_script_that_overruns_now_and_then_is_never_paused(source, hook, settings, monkeypatch):
    settings.TRANSFORMATION_CPU_MS = 5
    monkeypatch.setattr(transforming, "BREAKER", Breaker(overruns=3))
    code = "function transformEvent(e) { if (e.properties.total % 2) while (true) {} return e }"
    set_destination_chain(hook, [transformation("Odd", code)])

    ingest_and_route(source, *(track(n) for n in range(1, 9)))

    codes = Delivery.objects.values_list("error_code", flat=True)
    assert sorted(set(codes)) == ["", "TRANSFORMATION_TIMEOUT"]


def test_a_router_that_never_runs_out_of_events_still_takes_a_new_version(
    source, hook, monkeypatch
):
    redact = transformation("Redact PII", REDACT_PII)
    set_destination_chain(hook, [redact])
    scenario.ingest(source, *(track(n, properties={"total": n, "email": "a@x"}) for n in (1, 2)))
    monkeypatch.setattr(routing, "CHUNK", 1)
    monkeypatch.setattr(routing, "TABLE_SECONDS", 0)
    route_events = routing.route_events

    def saving_after_the_first_chunk(events, table, now):
        routed = route_events(events, table, now)
        save_code(redact, REDACT_PII.replace("delete event.properties.email;", ""), "test")
        return routed

    monkeypatch.setattr(routing, "route_events", saving_after_the_first_chunk)
    routing.route_new_events()

    assert [e["properties"].get("email") for e in sent(hook)] == [None, "a@x"]
