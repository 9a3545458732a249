"""Destination health (docs/admin.md, "Destinations and health"): outcomes of the last 24 hours and
P95 received → delivered from the hourly tallies, what waits now (capped counts), an hourly chart,
and the failing-since banner."""

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from destinations.delivery import tallies
from destinations.delivery.dispatch import dispatch_mapping
from destinations.models import Delivery, Destination, DestinationState, Mapping
from destinations.selectors import overview
from destinations.selectors.health import destination_health
from destinations.services.transformations import (
    create_transformation,
    set_destination_chain,
    set_source_chain,
)
from infra.tallies import hour_of
from tests.destinations.admin.factories import TOKEN, store_deliveries
from tests.destinations.delivery import scenario
from tests.destinations.delivery.scenario import ingest_and_route, track
from tests.destinations.delivery.sinks import always

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def mapping(billing: Destination):
    return billing.mappings.get()


def settled(
    mapping: Mapping,
    status: str,
    count: int,
    created_at: datetime | None = None,
    latency: timedelta | None = None,
    replay: bool = False,
) -> list[Delivery]:
    """Deliveries as the dispatcher leaves them, with the tallies it adds: the outcome at
    delivery (created_at + latency), and the latency of original deliveries."""
    stored = store_deliveries(mapping, status, count, created_at, latency)
    when = stored[0].delivered_at or stored[0].created_at
    tallies.count_outcomes({(mapping.destination_id, status): count}, when)
    if status == "delivered" and not replay:
        tallies.count_latencies(mapping.destination_id, [d.created_at for d in stored], when)
    return stored


def test_health_counts_outcomes_of_the_last_24_hours_and_what_waits_now(billing, mapping):
    now = timezone.now()
    settled(mapping, "delivered", 3, now - timedelta(hours=2), timedelta(seconds=1))
    settled(mapping, "failed", 2, now - timedelta(hours=5))
    store_deliveries(mapping, "retrying", 4, now - timedelta(minutes=5))
    store_deliveries(mapping, "pending", 1, now)
    store_deliveries(mapping, "in_flight", 1, now)
    settled(mapping, "delivered", 6, now - timedelta(hours=26), timedelta(seconds=1))

    health = destination_health(billing, now)

    assert (health.delivered, health.failed, health.retrying, health.waiting) == (3, 2, 4, 2)


def test_health_reads_what_the_dispatcher_recorded(billing, mapping, source, sink):
    mapping.flush_interval = 0
    mapping.save()
    ingest_and_route(source, *[track(i) for i in range(4)])
    dispatch_mapping(mapping.pk)
    sink.answer = always(401)
    ingest_and_route(source, track(9))
    dispatch_mapping(mapping.pk)
    ingest_and_route(source, track(10))  # left pending

    health = destination_health(billing)

    assert (health.delivered, health.failed, health.retrying, health.waiting) == (4, 1, 0, 1)
    delivered = Delivery.objects.filter(status="delivered")
    exact = max(d.delivered_at - d.event_received_at for d in delivered)
    upper = tallies.bucket_of(exact)
    assert health.p95_latency <= timedelta(milliseconds=upper)


def test_p95_latency_is_read_from_the_buckets_within_that_of_the_exact_value(billing, mapping):
    now = timezone.now()
    for seconds in range(1, 12):  # 1 s … 11 s: PERCENTILE_CONT would say 10.5 s
        settled(mapping, "delivered", 1, now - timedelta(hours=1), timedelta(seconds=seconds))
    settled(mapping, "delivered", 1, now - timedelta(hours=30), timedelta(hours=1))

    # Rank 10.45 of 11 sits in (10 s, 15 s], which holds one: 10 + 5 * 0.45 s.
    assert destination_health(billing, now).p95_latency == timedelta(seconds=12.25)
    assert tallies.bucket_of(timedelta(seconds=10.5)) == 15_000


def test_p95_latency_of_a_single_delivery_lies_in_its_bucket(billing, mapping):
    now = timezone.now()
    settled(mapping, "delivered", 1, now, timedelta(milliseconds=250))

    # (150 ms, 250 ms], at 95 % of the way.
    assert destination_health(billing, now).p95_latency == timedelta(milliseconds=245)


def test_replays_count_as_delivered_but_stay_out_of_the_latency(billing, mapping):
    now = timezone.now()
    settled(mapping, "delivered", 1, now, timedelta(milliseconds=250))
    # Events received three days ago, replayed and delivered now.
    settled(mapping, "delivered", 2, now - timedelta(days=3), timedelta(days=3), replay=True)

    health = destination_health(billing, now)

    assert health.delivered == 3
    assert health.p95_latency == timedelta(milliseconds=245)


def test_no_delivered_delivery_means_no_latency(billing, mapping):
    settled(mapping, "failed", 3)

    assert destination_health(billing).p95_latency is None


def test_counts_of_what_waits_stop_at_the_cap(billing, mapping, monkeypatch):
    monkeypatch.setattr(overview, "COUNT_CAP", 3)
    store_deliveries(mapping, "retrying", 5)
    store_deliveries(mapping, "pending", 2)
    store_deliveries(mapping, "in_flight", 2)

    health = destination_health(billing)

    assert (health.retrying, health.waiting, health.count_cap) == (3, 3, 3)


def test_the_health_of_a_busy_destination_takes_four_queries_and_a_set(billing, mapping):
    settled(mapping, "delivered", 5, latency=timedelta(seconds=1))
    store_deliveries(mapping, "pending", 5)

    with CaptureQueriesContext(connection) as queries:
        destination_health(billing)

    assert len(queries) == 5
    assert connection.vendor != "postgresql" or queries[0]["sql"] == "SET LOCAL jit = off"


def test_the_hourly_counts_cover_the_window_including_empty_hours(billing, mapping):
    now = timezone.now().replace(minute=30)
    settled(mapping, "delivered", 2, now - timedelta(hours=3), timedelta(seconds=1))
    settled(mapping, "failed", 1, now - timedelta(hours=3))
    settled(mapping, "delivered", 1, now - timedelta(seconds=2), timedelta(seconds=1))

    hours = destination_health(billing, now).hours

    assert len(hours) == 25  # the partial hour 24 h ago, 23 whole ones, and this one
    assert hours[0].hour == hour_of(now - timedelta(hours=24))
    assert hours[-1].hour == hour_of(now)
    by_hour = {bucket.hour: (bucket.delivered, bucket.failed) for bucket in hours}
    assert by_hour[hour_of(now - timedelta(hours=3))] == (2, 1)
    assert by_hour[hour_of(now)] == (1, 0)
    assert sum(bucket.total for bucket in hours) == 4


def test_the_change_page_shows_counts_p95_chart_and_the_failing_since_banner(
    admin_client, billing, mapping
):
    now = timezone.now()
    settled(mapping, "delivered", 4, now - timedelta(hours=1), timedelta(seconds=2))
    settled(mapping, "failed", 1, now - timedelta(hours=1))
    DestinationState.objects.create(
        destination=billing,
        failing_since=now - timedelta(minutes=20),
        last_error_code="INVALID_AUTHENTICATION",
        last_error_message="HTTP 403: token •••• is not valid",
        last_error_at=now - timedelta(minutes=1),
    )

    page = admin_client.get(
        reverse("admin:destinations_destination_change", args=[billing.pk])
    ).content.decode()

    assert 'id="failing-since"' in page and "Failing since" in page
    assert "INVALID_AUTHENTICATION" in page and "HTTP 403: token •••• is not valid" in page
    assert 'id="health-delivered"><strong>4</strong>' in page
    assert 'id="health-failed"><strong>1</strong>' in page
    # Four at 2 s, in (1.5 s, 2.5 s]: rank 3.8 of 4 → 1.5 + 1 * 3.8 / 4 s.
    assert 'id="health-p95"><strong>2.450 s</strong>' in page
    assert '<svg class="health-chart"' in page and 'class="delivered"' in page
    assert "4 delivered, 1 failed" in page  # the busiest hour's tooltip
    assert TOKEN not in page


def test_a_healthy_destination_has_no_banner(admin_client, billing):
    page = admin_client.get(
        reverse("admin:destinations_destination_change", args=[billing.pk])
    ).content.decode()

    assert 'id="failing-since"' not in page
    assert 'id="health-p95"><strong>—</strong>' in page


def test_the_change_page_names_each_transformation_with_the_events_it_failed_on(
    admin_client, source, billing
):
    throw = """function transformEvent(e) {
  if (e.properties.total === 3) throw new Error('three');
  return e;
}"""
    set_destination_chain(billing, [create_transformation("Picky", throw)])
    set_source_chain(
        source, [create_transformation("Calm", "function transformEvent(e) { return e }")]
    )
    ingest_and_route(source, track(2), track(3))

    page = admin_client.get(
        reverse("admin:destinations_destination_change", args=[billing.pk])
    ).content.decode()

    assert 'id="health-transformations"' in page
    assert "Picky v1</a>" in page and "1 event failed" in page
    assert "Picky v1: Error: three (line 2)" in page
    assert "Calm v1</a>:\n      no failures" in page
