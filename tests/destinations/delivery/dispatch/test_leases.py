"""Leases and claims (docs/delivery.md, "Claims and leases").

The dispatcher sends to local sinks; time is moved by writing the rows' due times, leases and
pauses directly, never by waiting.
"""

import uuid
from datetime import timedelta

from django.utils import timezone

from destinations.delivery.batching import claim_batch
from destinations.delivery.dispatch import deliver
from destinations.delivery.leases import reclaim_expired_leases
from destinations.models import Delivery, DeliveryAttempt, DestinationState
from tests.destinations.delivery.dispatch.helpers import (
    SECOND,
    configure,
    end_cooldown,
    open_circuit,
    pending,
    state_of,
    statuses,
)
from tests.destinations.delivery.sinks import always

# --- Leases (docs/delivery.md, "Claims and leases") ------------------------------------------


def test_claimed_deliveries_are_in_flight_under_a_lease(source, billing, mapping):
    configure(mapping, batch_size=2)
    pending(source, 3)
    before = timezone.now()

    batch = claim_batch(mapping.pk)

    held = Delivery.objects.filter(status="in_flight")
    assert {d.pk for d in held} == {d.pk for d in batch.deliveries}
    for delivery in held:
        assert delivery.claim == batch.claim
        lease = delivery.lease_expires_at
        assert before + 30 * SECOND <= lease <= timezone.now() + 30 * SECOND
    assert Delivery.objects.filter(status="pending", claim=None).count() == 1


def test_an_expired_lease_counts_as_an_attempt_and_the_delivery_is_retried_at_once(
    source, billing, mapping
):
    configure(mapping, batch_size=1)
    pending(source, 3)
    Delivery.objects.filter(pk=Delivery.objects.order_by("id")[1].pk).update(attempts=1)
    never, once, alive = (claim_batch(mapping.pk) for _ in range(3))
    lapsed = timezone.now() - SECOND
    Delivery.objects.filter(claim__in=[never.claim, once.claim]).update(lease_expires_at=lapsed)
    before = timezone.now()

    assert reclaim_expired_leases() == 2

    def row(batch):
        return Delivery.objects.get(pk=batch.deliveries[0].pk)

    assert (row(never).attempts, row(once).attempts) == (1, 2)
    for batch in (never, once):
        reclaimed = row(batch)
        assert (reclaimed.status, reclaimed.error_code) == (Delivery.Status.RETRYING, "WORKER_LOST")
        assert (reclaimed.claim, reclaimed.lease_expires_at) == (None, None)
        assert before <= reclaimed.next_attempt_at <= timezone.now()
    assert (row(alive).status, row(alive).claim) == (Delivery.Status.IN_FLIGHT, alive.claim)


def test_a_batch_that_keeps_killing_its_worker_fails_once_past_the_retry_window(
    source, billing, mapping
):
    pending(source, 1)
    batch = claim_batch(mapping.pk)
    long_ago = timezone.now() - timedelta(seconds=billing.retry_window_seconds + 1)
    Delivery.objects.update(
        attempts=2, first_attempt_at=long_ago, lease_expires_at=timezone.now() - SECOND
    )

    reclaim_expired_leases()

    delivery = Delivery.objects.get(pk=batch.deliveries[0].pk)
    assert (delivery.status, delivery.attempts, delivery.error_code) == (
        Delivery.Status.FAILED,
        3,
        "WORKER_LOST",
    )


def test_a_probe_whose_worker_died_is_released_when_its_lease_lapses(sink, fragile, mapping):
    open_circuit(fragile, mapping, sink)
    end_cooldown(fragile)
    probe = claim_batch(mapping.pk)

    reclaim_expired_leases()
    assert state_of(fragile).probing  # its lease still runs: the probe may yet come back

    Delivery.objects.filter(claim=probe.claim).update(lease_expires_at=timezone.now() - SECOND)
    assert reclaim_expired_leases() == 1

    assert not state_of(fragile).probing
    again = claim_batch(mapping.pk)
    assert again.probe and len(again.deliveries) == 1


def test_an_outcome_for_a_claim_taken_over_by_someone_else_changes_none_of_its_rows(
    source, sink, billing, mapping
):
    pending(source, 2)
    stale = claim_batch(mapping.pk)
    Delivery.objects.update(lease_expires_at=timezone.now() - SECOND)
    reclaim_expired_leases()
    current = claim_batch(mapping.pk)
    assert {d.pk for d in current.deliveries} == {d.pk for d in stale.deliveries}

    deliver(stale)  # the first worker comes back late

    for delivery in Delivery.objects.all():
        assert (delivery.status, delivery.claim) == (Delivery.Status.IN_FLIGHT, current.claim)
        assert delivery.attempts == 1  # the lapsed lease
    deliver(current)
    assert statuses(billing) == {"delivered": 2}
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {2}
    assert DeliveryAttempt.objects.count() == 2  # both requests happened: at least once


def test_an_unknown_claim_is_a_claim_nobody_holds(source, billing, mapping):
    pending(source, 1)
    batch = claim_batch(mapping.pk)
    Delivery.objects.update(claim=uuid.uuid4())

    deliver(batch)

    assert Delivery.objects.get().status == Delivery.Status.IN_FLIGHT


def test_an_older_batch_answering_while_the_probe_is_out_does_not_release_a_second_probe(
    sink, fragile, mapping
):
    older = claim_batch(mapping.pk)  # claimed while the circuit was still closed
    DestinationState.objects.filter(destination=fragile).update(consecutive_failures=2)
    end_cooldown(fragile)  # the circuit opened meanwhile, and its cool-down is over
    probe = claim_batch(mapping.pk)
    assert probe.probe
    sink.answer = always(400)

    deliver(older)

    assert claim_batch(mapping.pk) is None
