"""The dedup window (SPEC §2.7): a messageId seen again from the same source within
DEDUP_WINDOW_HOURS is ignored, across partition boundaries, and the look costs the partitions
of the window, not of the retention."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from infra import bulk, partitions
from ingest import storage
from ingest.models import Event
from ingest.normalize import Accepted

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
def test_the_look_for_duplicates_reads_only_the_partitions_of_the_window(days):
    now = timezone.now()
    names = ("message_id", "source_id", "received_at", "type", "payload")
    shape = (storage.DEDUP_KEY, "received_at")
    sql = bulk.statement(Event, names, True, "postgresql", shape)
    since = now - timedelta(hours=24)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", ["[]", since, now])
        plan = "\n".join(row[0] for row in cursor.fetchall())

    read = {p.name for p in partitions.partitions("ingest_event") if p.name in plan}
    window = {
        p.name for p in partitions.partitions("ingest_event") if p.end > since and p.start <= now
    }
    assert read - window == set()
    assert window <= read


def test_a_window_under_24_hours_is_refused():
    environment = os.environ | {
        "DEDUP_WINDOW_HOURS": "12",
        "DJANGO_SETTINGS_MODULE": "project.settings",
    }
    checked = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=environment,
        capture_output=True,
        text=True,
    )

    assert checked.returncode != 0
    assert "DEDUP_WINDOW_HOURS must be at least 24" in checked.stderr
