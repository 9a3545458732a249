"""The beat's hourly round as a service (docs/storage.md, "Retention"): the purge deletes what is
past retention, a chunk at a time."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from destinations.delivery import retention
from destinations.delivery.dispatch import dispatch_mapping
from destinations.models import Delivery, DeliveryAttempt
from ingest.models import Event
from tests.destinations.clock import receive_at, start_at
from tests.destinations.delivery import scenario
from tests.destinations.delivery.scenario import ingest_and_route, track

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def history(source, sinks, settings, monkeypatch):
    """Five events, each delivered with one attempt (one request per delivery)."""
    settings.EVENT_RETENTION_DAYS = 7
    settings.ATTEMPT_RETENTION_DAYS = 3
    monkeypatch.setattr(retention, "PURGE_CHUNK", 2)
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
    move = receive_at if field == "received_at" else start_at
    move(model.objects.filter(pk__in=[row.pk for row in rows]), timezone.now() - by)


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
        assert retention.purge_expired() == {"attempts": 3, "events": 3}

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

    assert retention.purge_expired() == {"attempts": 0, "events": 5}

    assert DeliveryAttempt.objects.count() == 5
    assert not Delivery.objects.exists()


def test_the_purge_stops_when_its_time_is_up(history, monkeypatch):
    events, attempts = history
    age(events, "received_at", 8 * DAY)
    age(attempts, "started_at", 8 * DAY)
    monkeypatch.setattr(retention, "PURGE_SECONDS", 0)

    assert retention.purge_expired() == {"attempts": 0, "events": 0}

    assert Event.objects.count() == 5
