"""The dedup window (docs/storage.md, "Dedup window"): a messageId seen again from the same source
within DEDUP_WINDOW_HOURS is ignored, across partition boundaries, and the look costs the partitions
of the window, not of the retention."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from infra import bulk, partitions
from ingest import storage
from ingest.models import Event
from ingest.normalize import Accepted
from tests.servers import settings_refusal

DAY = timedelta(days=1)
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite's unique index spans its whole table"
)


@pytest.fixture
def days(db):
    partitions.ensure_partitions(start=timezone.now() - 10 * DAY)


def accepted(message_id: str, name: str = "Signed Up") -> Accepted:
    message = {"type": "track", "messageId": message_id, "event": name, "userId": "u1"}
    return Accepted(message, message_id, "track", name, "u1", "", timezone.now())


def store(source, received_at: datetime, *events: Accepted) -> None:
    storage.insert([storage.Rows(source.pk, received_at, list(events))])


def last_midnight() -> datetime:
    return timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def test_a_duplicate_at_00_01_of_an_event_stored_at_23_59_is_ignored(source, days):
    midnight = last_midnight()
    store(source, midnight - timedelta(minutes=1), accepted("m1"))

    store(source, midnight + timedelta(minutes=1), accepted("m1", name="Retry"))

    assert list(Event.objects.values_list("name", "received_at")) == [
        ("Signed Up", midnight - timedelta(minutes=1))
    ]


@postgres_only
def test_a_message_id_seen_before_the_window_is_a_new_event(source, days, settings):
    settings.DEDUP_WINDOW_HOURS = 24
    now = timezone.now()
    store(source, now - 3 * DAY, accepted("m1"))

    store(source, now, accepted("m1", name="Much later"))

    assert sorted(Event.objects.values_list("name", flat=True)) == ["Much later", "Signed Up"]


@postgres_only
def test_the_look_for_duplicates_probes_only_the_window_s_partitions_by_their_unique_index(days):
    now = timezone.now()
    since = now - timedelta(hours=24)
    window = partitions.overlapping("ingest_event", since, now)
    names = ("message_id", "source_id", "received_at", "type", "payload")
    sql = bulk.statement(Event, names, True, "postgresql", bulk.Unseen(storage.DEDUP_KEY, window))
    with connection.cursor() as cursor:
        # As on partitions too big to read whole: which index does each look use?
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", ["[]"])
        plan = "\n".join(row[0] for row in cursor.fetchall())

    kept = {
        p.name for p in partitions.partitions("ingest_event") if p.end > since and p.start <= now
    }
    assert set(window) == kept | {"ingest_event_default"}
    assert len(kept) == 2  # yesterday's and today's, of twelve days of partitions
    for name in window:
        assert f"using {name}_message on {name}" in plan  # an index (only) scan
    # Rows that all go to today's partition leave its look to ON CONFLICT.
    [today] = [p.name for p in partitions.partitions("ingest_event") if p.start <= now < p.end]
    assert today in window
    assert set(partitions.overlapping("ingest_event", since, now, besides=(now, now))) == set(
        window
    ) - {today}


def test_a_window_under_24_hours_is_refused():
    refusal = settings_refusal(DEDUP_WINDOW_HOURS="12")

    assert "DEDUP_WINDOW_HOURS must be at least 24" in refusal
