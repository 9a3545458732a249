"""Time partitions on PostgreSQL (infra/partitions.py): created ahead, strays caught by the
default partition and moved when their partition comes, an alarm when none are ahead."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from destinations.tasks import create_partitions
from infra import partitions
from ingest.models import Event
from tests.destinations.admin.factories import store_event

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no partitions"
)
DAY = timedelta(days=1)
TABLES = [
    "ingest_event",
    "destinations_delivery",
    "destinations_deliveryattempt",
    "destinations_deliveryattempt_deliveries",
]


def covering(table, moment):
    return [p.name for p in partitions.partitions(table) if p.start <= moment < p.end]


def test_after_migrate_every_table_has_partitions_from_today_to_two_days_ahead(db):
    now = timezone.now()
    for table in TABLES:
        for moment in (now, now + DAY, now + 2 * DAY - timedelta(minutes=1)):
            assert len(covering(table, moment)) == 1, (table, moment)
        assert exists(partitions.default_name(table))


def test_the_hourly_round_creates_a_partition_that_went_missing(db):
    tomorrow = timezone.now() + DAY
    partitions.drop(covering("ingest_event", tomorrow))
    assert covering("ingest_event", tomorrow) == []

    create_partitions()

    assert len(covering("ingest_event", tomorrow)) == 1


def test_an_event_no_partition_covers_waits_in_the_default_and_moves_into_its_own(db, source):
    long_ago = timezone.now() - 40 * DAY
    event = store_event(source, 1, received_at=long_ago)
    assert rows_of(partitions.default_name("ingest_event")) == 1

    created = partitions.ensure_partitions(start=long_ago, end=long_ago + timedelta(hours=1))

    [home] = covering("ingest_event", long_ago)
    assert home in created
    assert rows_of(home) == 1
    assert rows_of(partitions.default_name("ingest_event")) == 0
    assert Event.objects.get(pk=event.pk).message_id == event.message_id


def test_hourly_partitions_fill_the_hours_that_daily_ones_leave(db, settings):
    settings.PARTITION_INTERVAL = "hour"
    start = partitions.partitions("ingest_event")[-1].end  # past the last daily one

    created = partitions.ensure_partitions(start=start - DAY, end=start + 3 * timedelta(hours=1))

    assert [name for name in created if name.startswith("ingest_event_p")] == [
        f"ingest_event_p{start + n * timedelta(hours=1):%Y%m%d%H}" for n in range(3)
    ]


def test_healthz_and_metrics_raise_the_alarm_when_partitions_run_out(db, client, settings):
    settings.METRICS_TOKEN = "scrape"
    now = timezone.now()
    partitions.drop(covering("destinations_delivery", now + DAY))

    health = client.get("/healthz")
    metrics = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape").content.decode()

    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["partitions"] == "missing ahead: destinations_delivery"
    ahead = [
        line
        for line in metrics.splitlines()
        if line.startswith('switchyard_partitions_ahead_seconds{table="destinations_delivery"}')
    ]
    assert len(ahead) == 1 and float(ahead[0].split()[-1]) < DAY.total_seconds()


def rows_of(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partitions.quote(table)}")
        return cursor.fetchone()[0]


def exists(table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [table])
        return cursor.fetchone()[0] is not None
