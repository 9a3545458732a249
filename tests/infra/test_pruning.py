"""Reads bounded in time look only in the partitions of their range (checked with EXPLAIN on
twelve days of partitions)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from infra import partitions
from ingest.models import Event

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no partitions"
)
DAY = timedelta(days=1)


@pytest.fixture
def days(db):
    partitions.ensure_partitions(start=timezone.now() - 12 * DAY)


def event_partitions_in(plan: str) -> set[str]:
    return {p.name for p in partitions.partitions("ingest_event") if p.name in plan}


def partitions_since(moment) -> set[str]:
    return {p.name for p in partitions.partitions("ingest_event") if p.end > moment}


def test_a_source_s_24_hour_activity_reads_only_the_last_day_s_partitions(days, source):
    since = timezone.now() - DAY

    plan = Event.objects.filter(source=source, received_at__gte=since).explain()

    assert event_partitions_in(plan) == partitions_since(since)
    assert len(event_partitions_in(plan)) <= 4  # yesterday, today, the two ahead


def test_marking_a_routed_chunk_looks_only_where_its_events_are(days, source):
    now = timezone.now()
    chunk = Event.objects.filter(received_at__range=(now - timedelta(minutes=1), now))

    plan = chunk.filter(pk__in=[1, 2, 3]).explain()

    assert 1 <= len(event_partitions_in(plan)) <= 2
