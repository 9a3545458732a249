"""The hourly tallies the pipeline keeps: events received (by the router), deliveries born
failed, the latency histogram's percentile, and their retention."""

import math
import random
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from destinations.delivery import retention, routing
from destinations.delivery.tallies import (
    LATENCY_BOUNDS_MS,
    OVERFLOW_MS,
    bucket_of,
    quantile,
)
from destinations.models import (
    Delivery,
    FilteredCount,
    LatencyCount,
    Mapping,
    OutcomeCount,
    ReceivedCount,
)
from infra.tallies import hour_of
from ingest.models import Event, Rejection, Source
from tests.destinations.clock import receive_at
from tests.destinations.delivery import scenario
from tests.destinations.delivery.scenario import ingest, track

NOWHERE = "http://127.0.0.1:9"
MS = timedelta(milliseconds=1)


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def billing(source):
    return scenario.metronome(source, NOWHERE)


def received_tally() -> Counter:
    rows = ReceivedCount.objects.values_list("source_id", "hour", "count")
    return Counter({(source_id, hour): count for source_id, hour, count in rows})


def received_events() -> Counter:
    return Counter((e.source_id, hour_of(e.received_at)) for e in Event.objects.all())


# --- The router ------------------------------------------------------------------------------


def test_the_router_tallies_the_events_it_routes_per_source_and_hour_received(source, billing):
    other = Source.objects.create(name="No destination")  # routed all the same
    ingest(source, *[track(i) for i in range(5)])
    ingest(other, *[track(i) for i in range(3)])
    two_hours_ago = timezone.now() - timedelta(hours=2)
    receive_at(Event.objects.filter(message_id__in=["msg-00000", "msg-00001"]), two_hours_ago)

    routing.route_new_events()

    assert received_tally() == received_events()
    assert sum(received_tally().values()) == 8
    assert received_tally()[(source.pk, hour_of(two_hours_ago))] == 2


def test_each_chunk_adds_to_the_tally_and_nothing_is_counted_twice(source, billing, monkeypatch):
    monkeypatch.setattr(routing, "CHUNK", 2)
    ingest(source, *[track(i) for i in range(5)])

    assert routing.route_new_events() == 5
    assert routing.route_new_events() == 0

    assert (
        received_tally() == received_events() == Counter({(source.pk, hour_of(timezone.now())): 5})
    )


def test_deliveries_born_failed_are_counted_as_failed_outcomes(source, billing):
    # A trigger saved around validation: the mapping cannot route, its deliveries fail.
    Mapping.objects.filter(destination=billing).update(trigger='type = "')
    ingest(source, *[track(i) for i in range(3)])

    routing.route_new_events()

    assert Delivery.objects.filter(status="failed").count() == 3
    row = OutcomeCount.objects.get()
    assert (row.destination_id, row.outcome, row.count) == (billing.pk, "failed", 3)
    assert row.hour == hour_of(Delivery.objects.first().created_at)


# --- The latency histogram -------------------------------------------------------------------


def test_latencies_fall_in_the_bucket_whose_bound_they_do_not_exceed():
    assert bucket_of(timedelta(0)) == 50
    assert bucket_of(50 * MS) == 50
    assert bucket_of(timedelta(milliseconds=50.5)) == 100
    assert bucket_of(timedelta(hours=1)) == 3_600_000
    assert bucket_of(timedelta(hours=2)) == OVERFLOW_MS
    assert 18 <= len(LATENCY_BOUNDS_MS) <= 24


def test_a_quantile_is_interpolated_within_its_bucket():
    # Four in (150 ms, 250 ms]: the median sits halfway through the bucket.
    assert quantile({250: 4}, 0.5) == timedelta(milliseconds=200)
    assert quantile({50: 1, 250: 3}, 0.5) == timedelta(milliseconds=150 + 100 / 3)


def test_a_quantile_past_the_last_bound_is_the_last_bound():
    assert quantile({50: 1, OVERFLOW_MS: 99}, 0.95) == timedelta(hours=1)


def test_an_empty_histogram_has_no_quantile():
    assert quantile({}, 0.95) is None
    assert quantile({250: 0}, 0.95) is None


@pytest.mark.parametrize("seed", range(20))
def test_the_p95_from_buckets_is_within_its_bucket_of_the_exact_value(seed):
    rng = random.Random(seed)
    median = rng.choice([0.03, 0.1, 0.4, 3, 40, 900])
    latencies = [rng.lognormvariate(math.log(median), 1.2) for _ in range(rng.randint(1, 500))]
    histogram = Counter(bucket_of(timedelta(seconds=s)) for s in latencies)
    # The exact P95: the smallest latency with at least 95 % of them at or below it.
    exact = sorted(latencies)[math.ceil(0.95 * len(latencies)) - 1]

    estimate = quantile(histogram, 0.95).total_seconds()

    upper = bucket_of(timedelta(seconds=exact))
    if upper == OVERFLOW_MS:
        assert estimate == LATENCY_BOUNDS_MS[-1] / 1000
        return
    lower = max([0, *(bound for bound in LATENCY_BOUNDS_MS if bound < upper)])
    assert lower / 1000 <= exact <= upper / 1000
    assert lower / 1000 <= estimate <= upper / 1000


# --- Retention -------------------------------------------------------------------------------


def test_the_hourly_purge_deletes_tallies_past_the_events_retention(source, billing, settings):
    settings.EVENT_RETENTION_DAYS = 7
    now = timezone.now()
    mapping = billing.mappings.get()
    old, kept = hour_of(now - timedelta(days=7, hours=2)), hour_of(now - timedelta(days=6))
    for hour in (old, kept):
        ReceivedCount.objects.create(source=source, hour=hour, count=1)
        OutcomeCount.objects.create(destination=billing, hour=hour, outcome="delivered", count=1)
        LatencyCount.objects.create(destination=billing, hour=hour, bucket_ms=250, count=1)
        FilteredCount.objects.create(mapping=mapping, hour=hour, reason="trigger", count=1)
        Rejection.objects.create(source=source, hour=hour, code="id_required", count=1)

    retention.purge_expired()

    for model in (ReceivedCount, OutcomeCount, LatencyCount, FilteredCount, Rejection):
        assert list(model.objects.values_list("hour", flat=True)) == [kept], model
