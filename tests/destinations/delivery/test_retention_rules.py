"""Retention's rules where a slip loses data or hides it (destinations/delivery/retention.py,
docs/storage.md, "Retention"): what holds a partition, what the row purge spares, the tallies'
cutoff hour, the warning for deliveries never sent."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from destinations.delivery import retention
from destinations.delivery.batching import claim_batch
from destinations.delivery.dispatch import dispatch_mapping
from destinations.models import (
    Delivery,
    Destination,
    FilteredCount,
    LatencyCount,
    OutcomeCount,
    ReceivedCount,
)
from destinations.selectors.retention import held_partitions
from destinations.services.replays import replay_deliveries
from infra import partitions
from infra.tallies import hour_of
from ingest.models import Event, Rejection
from tests.destinations.clock import receive_at
from tests.destinations.delivery import scenario
from tests.destinations.delivery.dispatch.helpers import configure, mapping_of
from tests.destinations.delivery.scenario import ingest_and_route, track
from tests.destinations.delivery.test_retention_partitions import home

SECOND, HOUR, DAY = timedelta(seconds=1), timedelta(hours=1), timedelta(days=1)
partitioned = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no partitions"
)


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def billing(source, sinks) -> Destination:
    """Metronome on a sink, sending partial batches at once."""
    destination = scenario.metronome(source, sinks().url)
    configure(mapping_of(destination), flush_interval=0)
    return destination


@pytest.fixture
def delivered(source, billing, settings) -> list[Event]:
    """Six events delivered in one request, oldest message first; events are kept 7 days and
    attempts 30 (two settings not to be taken for one another)."""
    settings.EVENT_RETENTION_DAYS = 7
    settings.ATTEMPT_RETENTION_DAYS = 30
    ingest_and_route(source, *[track(i) for i in range(6)])
    dispatch_mapping(mapping_of(billing).pk)
    assert scenario.statuses(billing) == {"delivered": 6}
    return list(Event.objects.order_by("message_id"))


@pytest.fixture
def sent(delivered) -> list[Event]:
    """The six, in partitions of their own: three received 9 days ago, three 10 days ago."""
    receive_at(Event.objects.filter(pk__in=ids(delivered[:3])), days_ago(9))
    receive_at(Event.objects.filter(pk__in=ids(delivered[3:])), days_ago(10))
    return delivered


def days_ago(days: int) -> datetime:
    """That moment, with the partitions that hold it (only those: creating is slow)."""
    moment = timezone.now() - days * DAY
    partitions.ensure_partitions(start=moment, end=moment + SECOND)
    return moment


def ids(rows) -> list[int]:
    return [row.pk for row in rows]


def replay(events: list[Event]) -> list[int]:
    """Replay the events' deliveries today (new pending deliveries, never tried yet)."""
    originals = Delivery.objects.filter(event__in=events)
    assert replay_deliveries(ids(originals)) == len(events)
    return list(Delivery.objects.filter(replay=True).values_list("pk", flat=True))


def remaining(events: list[Event]) -> set[int]:
    return set(Event.objects.filter(pk__in=ids(events)).values_list("pk", flat=True))


@partitioned
def test_a_partition_holding_in_flight_deliveries_is_kept_until_their_outcome_is_recorded(
    sent, billing
):
    replays = replay(sent[:3])
    batch = claim_batch(mapping_of(billing).pk)
    assert sorted(ids(batch.deliveries)) == sorted(replays)
    kept = home("destinations_delivery", 9)

    assert retention.purge_expired()["events"] == 3

    assert remaining(sent) == set(ids(sent[:3]))
    assert held_partitions() == [retention.Hold(kept, 3)]
    Delivery.objects.filter(pk__in=replays).update(status="delivered", claim=None)
    assert retention.purge_expired()["events"] == 3
    assert not Event.objects.exists()


@partitioned
def test_a_replay_of_an_old_event_not_yet_tried_holds_its_partition(sent):
    replay(sent[:3])
    assert set(Delivery.objects.filter(replay=True).values_list("status", flat=True)) == {"pending"}
    assert not Delivery.objects.filter(replay=True, first_attempt_at__isnull=False).exists()
    kept = home("destinations_delivery", 9)

    assert retention.purge_expired()["events"] == 3

    assert remaining(sent) == set(ids(sent[:3]))
    assert Delivery.objects.filter(event__in=sent[:3]).count() == 6
    assert held_partitions() == [retention.Hold(kept, 3)]


@partitioned
@pytest.mark.parametrize("attempt_days", [3, 30])
def test_the_admin_reports_held_partitions_past_the_events_retention_not_the_attempts(
    sent, source, settings, attempt_days
):
    settings.ATTEMPT_RETENTION_DAYS = attempt_days
    replay(sent[:3])
    # Two fresh events received 5 days ago and not sent yet: inside the events' retention.
    ingest_and_route(source, track(6), track(7))
    receive_at(Event.objects.filter(message_id__in=["msg-00006", "msg-00007"]), days_ago(5))

    assert held_partitions() == [retention.Hold(home("destinations_delivery", 9), 3)]


def test_an_event_past_retention_whose_delivery_is_in_flight_is_spared_by_the_row_purge(
    delivered, billing
):
    # In no partition (the default partition on PostgreSQL; the table on SQLite).
    receive_at(Event.objects.all(), timezone.now() - 30 * DAY)
    replays = replay(delivered[:2])
    assert sorted(ids(claim_batch(mapping_of(billing).pk).deliveries)) == sorted(replays)

    assert retention.purge_expired()["events"] == 4

    assert remaining(delivered) == set(ids(delivered[:2]))
    assert set(Delivery.objects.values_list("event_id", flat=True)) == set(ids(delivered[:2]))


def test_tallies_of_the_hour_the_cutoff_falls_in_are_kept_and_those_before_it_go(source, billing):
    before = datetime(2026, 3, 4, 10, 30, tzinfo=UTC)
    cutoff = hour_of(before)
    mapping = mapping_of(billing)
    for hour in (cutoff - HOUR, cutoff):
        FilteredCount.objects.create(mapping=mapping, hour=hour, reason="no_match", count=2)
        ReceivedCount.objects.create(source=source, hour=hour, count=3)
        OutcomeCount.objects.create(destination=billing, hour=hour, outcome="delivered", count=4)
        LatencyCount.objects.create(destination=billing, hour=hour, bucket_ms=100, count=5)
        Rejection.objects.create(source=source, hour=hour, code="too_large", count=6)
    tallies = (FilteredCount, ReceivedCount, OutcomeCount, LatencyCount, Rejection)

    assert retention.purge_tallies(before) == 5

    for model in tallies:
        assert list(model.objects.values_list("hour", flat=True)) == [cutoff], model.__name__


@partitioned
def test_dropping_a_partition_with_deliveries_never_sent_warns_with_its_name_and_count(
    sent, caplog
):
    nine = home("destinations_delivery", 9)
    # A destination switched off for longer than retention: one delivery never tried, one
    # retrying since, both long past their retry window.
    long_ago = timezone.now() - 9 * DAY
    Delivery.objects.filter(event=sent[0]).update(
        status="pending", created_at=long_ago, first_attempt_at=None
    )
    Delivery.objects.filter(event=sent[1]).update(
        status="retrying", created_at=long_ago, first_attempt_at=long_ago
    )

    with caplog.at_level(logging.WARNING, logger=retention.__name__):
        assert retention.purge_expired()["events"] == 6

    warnings = [
        r for r in caplog.records if r.name == retention.__name__ and r.levelno == logging.WARNING
    ]
    assert [r.getMessage() for r in warnings] == [
        f"retention: {nine} goes with 2 deliveries never sent"
    ]


@partitioned
def test_a_held_partition_does_not_keep_the_newer_expired_ones_behind_it(sent, caplog):
    replay(sent[3:])  # the older partition (10 days) is held; the newer one (9 days) is not
    held = home("ingest_event", 10)

    with caplog.at_level(logging.INFO, logger=retention.log.name):
        assert retention.purge_expired()["events"] == 3

    assert remaining(sent) == set(ids(sent[3:]))
    assert f"keeping {held} for now" in caplog.text


@partitioned
def test_a_partition_ending_exactly_at_the_cutoff_is_past_retention(sent):
    partition = next(
        p for p in partitions.partitions("ingest_event") if p.name == home("ingest_event", 9)
    )

    assert partition in retention.expired_partitions("ingest_event", partition.end)
    assert partition not in retention.expired_partitions("ingest_event", partition.end - SECOND)
