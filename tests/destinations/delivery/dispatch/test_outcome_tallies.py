"""The dispatcher's hourly tallies: outcomes as it records them, and the end-to-end latency of
original deliveries, matching the rows it wrote."""

from collections import Counter

from django.utils import timezone

from destinations.delivery.batching import claim_batch
from destinations.delivery.dispatch import deliver
from destinations.delivery.leases import reclaim_expired_leases
from destinations.delivery.tallies import bucket_of
from destinations.models import Delivery, LatencyCount, OutcomeCount
from destinations.services.replays import replay_deliveries
from infra.tallies import hour_of
from tests.destinations.delivery.dispatch.helpers import (
    SECOND,
    dispatch_once,
    make_due,
    pending,
)
from tests.destinations.delivery.sinks import always


def outcomes(destination) -> dict[str, int]:
    rows = OutcomeCount.objects.filter(destination=destination)
    counts: Counter[str] = Counter()
    for outcome, count in rows.values_list("outcome", "count"):
        counts[outcome] += count
    return dict(counts)


def latency_histogram(destination) -> Counter:
    rows = LatencyCount.objects.filter(destination=destination)
    return Counter(dict(rows.values_list("bucket_ms", "count")))


def exact_histogram(destination, **filters) -> Counter:
    delivered = Delivery.objects.filter(destination=destination, status="delivered", **filters)
    return Counter(
        bucket_of(delivered_at - received_at)
        for delivered_at, received_at in delivered.values_list("delivered_at", "event_received_at")
    )


def test_a_delivered_batch_adds_its_deliveries_and_their_latencies(source, billing, mapping):
    pending(source, 3)

    dispatch_once(mapping)

    assert outcomes(billing) == {"delivered": 3}
    row = OutcomeCount.objects.get()
    assert row.hour == hour_of(Delivery.objects.first().delivered_at)
    assert latency_histogram(billing) == exact_histogram(billing)
    assert sum(latency_histogram(billing).values()) == 3


def test_every_retry_is_counted_then_the_delivery_that_follows(source, sink, billing, mapping):
    pending(source, 3)
    sink.answer = always(503)
    dispatch_once(mapping)
    make_due()
    dispatch_once(mapping)
    assert outcomes(billing) == {"retrying": 6}

    sink.answer = always(200)
    make_due()
    dispatch_once(mapping)

    assert outcomes(billing) == {"retrying": 6, "delivered": 3}
    attempts = sum(Delivery.objects.values_list("attempts", flat=True))
    assert attempts == 9 == sum(outcomes(billing).values())
    assert latency_histogram(billing) == exact_histogram(billing)


def test_deliveries_refused_for_good_are_counted_failed_without_a_latency(
    source, sink, billing, mapping
):
    pending(source, 2)
    sink.answer = always(401)

    dispatch_once(mapping)

    assert outcomes(billing) == {"failed": 2}
    assert not LatencyCount.objects.exists()


def test_replays_count_as_delivered_but_stay_out_of_the_latency(source, billing, mapping):
    pending(source, 2)
    dispatch_once(mapping)
    originals = list(Delivery.objects.values_list("pk", flat=True))

    assert replay_deliveries(originals) == 2
    dispatch_once(mapping)

    assert outcomes(billing) == {"delivered": 4}
    assert latency_histogram(billing) == exact_histogram(billing, replay=False)
    assert sum(latency_histogram(billing).values()) == 2


def test_an_outcome_for_a_lapsed_claim_counts_nothing(source, billing, mapping):
    pending(source, 2)
    stale = claim_batch(mapping.pk)
    Delivery.objects.update(lease_expires_at=timezone.now() - SECOND)
    reclaim_expired_leases()
    assert outcomes(billing) == {"retrying": 2}  # a lapsed lease is an attempt, retried

    deliver(stale)  # its rows belong to the sweeper now: no row changes, nothing is counted

    assert outcomes(billing) == {"retrying": 2}
    assert not LatencyCount.objects.exists()
