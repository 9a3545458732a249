"""Retention by partition on PostgreSQL (docs/storage.md, "Retention"): whole partitions go, in one
statement, unless a delivery in them is still being tried."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from destinations.delivery import retention
from destinations.delivery.dispatch import dispatch_mapping
from destinations.models import AttemptLink, Delivery, DeliveryAttempt
from destinations.selectors.retention import held_partitions
from infra import partitions
from ingest.models import Event
from tests.destinations.clock import receive_at, start_at
from tests.destinations.delivery import scenario
from tests.destinations.delivery.scenario import ingest_and_route, track

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no partitions"
)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def old_days(settings):
    """Partitions for the last twelve days, and a 7-day retention for events and attempts."""
    settings.EVENT_RETENTION_DAYS = settings.ATTEMPT_RETENTION_DAYS = 7
    partitions.ensure_partitions(start=timezone.now() - 12 * DAY)


@pytest.fixture
def delivered(source, sinks, old_days):
    """Four events delivered, one request each; returns the events, oldest message first."""
    billing = scenario.metronome(source, sinks().url)
    mapping = billing.mappings.get()
    mapping.batch_size, mapping.flush_interval = 1, 0
    mapping.save()
    ingest_and_route(source, *[track(i) for i in range(4)])
    dispatch_mapping(mapping.pk)
    return list(Event.objects.order_by("message_id"))


def move_to(events, days_ago: float) -> None:
    when = timezone.now() - timedelta(days=days_ago)
    receive_at(Event.objects.filter(pk__in=[e.pk for e in events]), when)
    start_at(DeliveryAttempt.objects.filter(deliveries__event__in=events), when)


def home(table: str, days_ago: float) -> str:
    moment = timezone.now() - timedelta(days=days_ago)
    [name] = [p.name for p in partitions.partitions(table) if p.start <= moment < p.end]
    return name


def test_a_partition_past_retention_goes_whole_with_its_deliveries_and_attempts(delivered):
    move_to(delivered[:2], 9)
    move_to(delivered[2:3], 6)
    cutoff = timezone.now() - 7 * DAY
    kept = {p.name for p in partitions.partitions("ingest_event") if p.end > cutoff}
    gone = home("ingest_event", 9)

    assert retention.purge_expired() == {"events": 2, "attempts": 2}

    assert {p.name for p in partitions.partitions("ingest_event")} == kept
    assert gone not in kept
    assert set(Event.objects.all()) == set(delivered[2:])
    assert set(Delivery.objects.values_list("event", flat=True)) == {e.pk for e in delivered[2:]}
    assert DeliveryAttempt.objects.count() == AttemptLink.objects.count() == 2
    assert home("destinations_delivery", 6) and home("destinations_deliveryattempt", 6)


def test_a_partition_holding_a_delivery_still_retrying_is_kept_and_the_admin_says_so(
    delivered, admin_client
):
    move_to(delivered[:2], 9)
    retrying = Delivery.objects.get(event=delivered[0])
    # Replayed yesterday and failing since: inside its destination's retry window.
    Delivery.objects.filter(pk=retrying.pk).update(
        status="retrying", first_attempt_at=timezone.now() - timedelta(hours=1)
    )
    kept = home("destinations_delivery", 9)

    assert retention.purge_expired()["events"] == 0

    assert Event.objects.filter(pk__in=[e.pk for e in delivered[:2]]).count() == 2
    assert held_partitions() == [retention.Hold(kept, 1)]
    log = admin_client.get("/admin/destinations/delivery/").content.decode()
    assert f"Retention keeps {kept} past its time: 1 delivery still being tried" in log

    Delivery.objects.filter(pk=retrying.pk).update(status="delivered")
    assert retention.purge_expired()["events"] == 2
    assert held_partitions() == []


def test_a_delivery_pending_past_its_retry_window_does_not_hold_its_partition(delivered):
    move_to(delivered[:1], 9)
    # A destination switched off for longer than retention: its backlog goes with the data.
    Delivery.objects.filter(event=delivered[0]).update(status="pending")
    Delivery.objects.filter(event=delivered[0]).update(
        created_at=timezone.now() - 9 * DAY, first_attempt_at=None
    )

    assert retention.purge_expired()["events"] == 1

    assert not Delivery.objects.filter(event_id=delivered[0].pk).exists()


def test_attempts_go_on_their_own_retention(delivered, settings):
    settings.ATTEMPT_RETENTION_DAYS = 3
    move_to(delivered[:1], 4)

    assert retention.purge_expired() == {"events": 0, "attempts": 1}

    assert Event.objects.count() == 4
    assert Delivery.objects.get(event=delivered[0]).attempt_log.count() == 0
    assert AttemptLink.objects.count() == 3
