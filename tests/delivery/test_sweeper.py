"""The beat's rounds as services (SPEC §1): the sweep finds all due work and dead workers'
batches; the purge deletes what is past retention, a chunk at a time."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from destinations import sweeper
from destinations.claims import claim_batch
from destinations.dispatch import dispatch_mapping
from destinations.models import Delivery, DeliveryAttempt, Mapping
from destinations.services import create_destination
from ingest.models import Event
from tests.delivery import scenario
from tests.delivery.scenario import ingest, ingest_and_route, track

NOWHERE = "http://127.0.0.1:9"
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


def dispatch_rings(rings) -> set[int]:
    return {args[0] for task, args, _ in rings if task == "destinations.dispatch"}


def router_rings(rings) -> int:
    return sum(task == "destinations.route" for task, _, _ in rings)


def test_the_sweep_takes_back_expired_leases_and_rings_for_the_work_it_finds(source, rings):
    billing = scenario.metronome(source, NOWHERE)
    mapping = billing.mappings.get()
    mapping.flush_interval = 0
    mapping.save()
    ingest_and_route(source, track(1))
    batch = claim_batch(mapping.pk)
    Delivery.objects.update(lease_expires_at=timezone.now() - SECOND)
    rings.clear()

    sweeper.sweep()

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.claim) == (Delivery.Status.RETRYING, None)
    assert batch.claim is not None
    assert dispatch_rings(rings) == {mapping.pk}
    assert router_rings(rings) == 0


def test_the_sweep_rings_the_router_while_events_wait_to_be_routed(source, rings):
    ingest(source, track(1))
    rings.clear()

    sweeper.sweep()

    assert router_rings(rings) == 1
    assert dispatch_rings(rings) == set()


def test_the_sweep_leaves_live_leases_alone(source):
    billing = scenario.metronome(source, NOWHERE)
    mapping = billing.mappings.get()
    mapping.flush_interval = 0
    mapping.save()
    ingest_and_route(source, track(1))
    batch = claim_batch(mapping.pk)

    sweeper.sweep()

    assert Delivery.objects.get().claim == batch.claim


def test_mappings_with_due_work_are_exactly_the_enabled_mappings_with_due_deliveries(source):
    names = [
        "pending",
        "retrying, due",
        "retrying, later",
        "pending, later",
        "finished or in flight",
        "mapping disabled",
        "destination disabled",
        "nothing",
    ]
    mappings: dict[str, Mapping] = {}
    for name in names:
        destination = create_destination(
            "metronome", name, {"base_url": NOWHERE}, {"api_token": "t"}, [source]
        )
        mappings[name] = destination.mappings.get()
    ingest_and_route(source, track(1), track(2), track(3))
    now = timezone.now()

    def rows(name: str):
        return Delivery.objects.filter(mapping=mappings[name])

    rows("retrying, due").update(status="retrying", next_attempt_at=now - SECOND)
    rows("retrying, later").update(status="retrying", next_attempt_at=now + 60 * SECOND)
    rows("pending, later").update(next_attempt_at=now + 60 * SECOND)
    done = rows("finished or in flight").order_by("id")
    done.filter(pk=done[0].pk).update(status="delivered")
    done.filter(pk=done[1].pk).update(status="failed")
    done.filter(pk=done[2].pk).update(status="in_flight", lease_expires_at=now + 60 * SECOND)
    Mapping.objects.filter(pk=mappings["mapping disabled"].pk).update(enabled=False)
    mappings["destination disabled"].destination.enabled = False
    mappings["destination disabled"].destination.save()
    rows("nothing").delete()

    due = sweeper.mappings_with_due_work()

    assert sorted(due) == sorted([mappings["pending"].pk, mappings["retrying, due"].pk])


@pytest.fixture
def history(source, sinks, settings, monkeypatch):
    """Five events, each delivered with one attempt (one request per delivery)."""
    settings.EVENT_RETENTION_DAYS = 7
    settings.ATTEMPT_RETENTION_DAYS = 3
    monkeypatch.setattr(sweeper, "PURGE_CHUNK", 2)
    billing = scenario.metronome(source, sinks().url)
    mapping = billing.mappings.get()
    mapping.batch_size, mapping.flush_interval = 1, 0
    mapping.save()
    ingest_and_route(source, *[track(i) for i in range(5)])
    dispatch_mapping(mapping.pk)
    assert DeliveryAttempt.objects.count() == 5
    events = list(Event.objects.order_by("message_id"))
    attempts = [Delivery.objects.get(event=event).attempt_log.get() for event in events]
    return events, attempts


def age(rows, field: str, by: timedelta) -> None:
    model = type(rows[0])
    model.objects.filter(pk__in=[row.pk for row in rows]).update(**{field: timezone.now() - by})


def deletes_from(queries, model) -> int:
    return sum(
        query["sql"].startswith(f'DELETE FROM "{model._meta.db_table}"') for query in queries
    )


def test_purging_deletes_only_what_is_past_retention_a_chunk_at_a_time(history):
    events, attempts = history
    age(events[:3], "received_at", 7 * DAY + SECOND)
    age(events[3:4], "received_at", 7 * DAY - 60 * SECOND)
    age(attempts[:3], "started_at", 3 * DAY + SECOND)
    age(attempts[3:4], "started_at", 3 * DAY - 60 * SECOND)

    with CaptureQueriesContext(connection) as queries:
        assert sweeper.purge_expired() == {"attempts": 3, "events": 3}

    assert set(Event.objects.all()) == set(events[3:])
    assert set(Delivery.objects.values_list("event", flat=True)) == {e.pk for e in events[3:]}
    assert set(DeliveryAttempt.objects.all()) == set(attempts[3:])
    assert deletes_from(queries, Event) == 2  # chunks of 2: 2 + 1
    assert deletes_from(queries, DeliveryAttempt) == 2


def test_an_attempt_outlives_the_deliveries_it_carried_when_its_retention_is_longer(
    history, settings
):
    events, attempts = history
    settings.ATTEMPT_RETENTION_DAYS = 30
    age(events, "received_at", 8 * DAY)
    age(attempts, "started_at", 8 * DAY)

    assert sweeper.purge_expired() == {"attempts": 0, "events": 5}

    assert DeliveryAttempt.objects.count() == 5
    assert not Delivery.objects.exists()


def test_the_purge_stops_when_its_time_is_up(history, monkeypatch):
    events, attempts = history
    age(events, "received_at", 8 * DAY)
    age(attempts, "started_at", 8 * DAY)
    monkeypatch.setattr(sweeper, "PURGE_SECONDS", 0)

    assert sweeper.purge_expired() == {"attempts": 0, "events": 0}

    assert Event.objects.count() == 5
