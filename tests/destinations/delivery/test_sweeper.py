"""The beat's round every second as a service (docs/delivery.md, "The doorbell and the sweeper"):
the sweep finds all due work and dead workers' batches."""

from datetime import timedelta

import pytest
from django.utils import timezone

from destinations.delivery import sweeper
from destinations.delivery.batching import claim_batch
from destinations.models import Delivery, Mapping
from destinations.services.destinations import create_destination
from tests.destinations.delivery import scenario
from tests.destinations.delivery.scenario import ingest, ingest_and_route, track

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
