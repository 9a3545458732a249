"""Destination health (SPEC §6): 24-hour counts by status, P95 received → delivered, an hourly
chart, and the failing-since banner; aggregated in the database on both engines."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from destinations.admin.health import destination_health
from destinations.models import Delivery, Destination, DestinationState
from infra.tallies import hour_of
from ingest.models import Event
from tests.destinations.admin.factories import TOKEN, store_deliveries
from tests.destinations.clock import receive_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def mapping(billing: Destination):
    return billing.mappings.get()


def test_health_counts_the_deliveries_of_the_last_24_hours_by_status(billing, mapping):
    now = timezone.now()
    store_deliveries(mapping, "delivered", 3, now - timedelta(hours=2), timedelta(seconds=1))
    store_deliveries(mapping, "failed", 2, now - timedelta(hours=5))
    store_deliveries(mapping, "retrying", 4, now - timedelta(minutes=5))
    store_deliveries(mapping, "pending", 1, now)
    store_deliveries(mapping, "in_flight", 1, now)
    store_deliveries(mapping, "delivered", 6, now - timedelta(hours=25), timedelta(seconds=1))

    health = destination_health(billing, now)

    assert (health.delivered, health.failed, health.retrying, health.waiting) == (3, 2, 4, 2)


def test_p95_latency_interpolates_between_ranks_as_percentile_cont_does(billing, mapping):
    now = timezone.now()
    for seconds in range(1, 12):  # 1 s … 11 s: the 95th percentile sits at rank 9.5 → 10.5 s
        store_deliveries(
            mapping, "delivered", 1, now - timedelta(hours=1), timedelta(seconds=seconds)
        )
    store_deliveries(mapping, "delivered", 1, now - timedelta(hours=30), timedelta(hours=1))

    assert destination_health(billing, now).p95_latency == timedelta(seconds=10.5)


def test_p95_latency_of_a_single_delivery_is_its_latency(billing, mapping):
    now = timezone.now()
    store_deliveries(mapping, "delivered", 1, now, timedelta(milliseconds=250))

    assert destination_health(billing, now).p95_latency == timedelta(milliseconds=250)


def test_replays_count_by_status_but_stay_out_of_the_latency(billing, mapping):
    now = timezone.now()
    store_deliveries(mapping, "delivered", 1, now, timedelta(milliseconds=250))
    replays = store_deliveries(mapping, "delivered", 2, now, timedelta(milliseconds=250))
    # Their events came in three days before someone replayed them.
    receive_at(Event.objects.filter(deliveries__in=replays), now - timedelta(days=3))
    Delivery.objects.filter(pk__in=[d.pk for d in replays]).update(replay=True)

    health = destination_health(billing, now)

    assert health.delivered == 3
    assert health.p95_latency == timedelta(milliseconds=250)


def test_no_delivered_delivery_means_no_latency(billing, mapping):
    store_deliveries(mapping, "failed", 3)

    assert destination_health(billing).p95_latency is None


def test_the_hourly_counts_cover_the_window_including_empty_hours(billing, mapping):
    now = timezone.now().replace(minute=30)
    store_deliveries(mapping, "delivered", 2, now - timedelta(hours=3), timedelta(seconds=1))
    store_deliveries(mapping, "failed", 1, now - timedelta(hours=3))
    store_deliveries(mapping, "delivered", 1, now, timedelta(seconds=1))

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
    store_deliveries(mapping, "delivered", 4, now - timedelta(hours=1), timedelta(seconds=2))
    store_deliveries(mapping, "failed", 1, now - timedelta(hours=1))
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
    assert 'id="health-p95"><strong>2.000 s</strong>' in page
    assert '<svg class="health-chart"' in page and 'class="delivered"' in page
    assert "4 delivered, 1 failed" in page  # the busiest hour's tooltip
    assert TOKEN not in page


def test_a_healthy_destination_has_no_banner(admin_client, billing):
    page = admin_client.get(
        reverse("admin:destinations_destination_change", args=[billing.pk])
    ).content.decode()

    assert 'id="failing-since"' not in page
    assert 'id="health-p95"><strong>—</strong>' in page
