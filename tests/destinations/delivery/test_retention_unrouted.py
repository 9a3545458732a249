"""Retention never drops an event the router has not reached (destinations/delivery/retention.py,
docs/storage.md, "Unrouted events"): a router outage, or an event that crashes the router, leaves
events with no deliveries yet; their partition stays, the admin says why, and the row purge spares
them."""

import pytest
from django.db import connection
from django.utils import timezone

from destinations.delivery import retention
from destinations.delivery.dispatch import dispatch_mapping
from destinations.models import Delivery
from destinations.selectors.retention import held_partitions
from ingest.models import Event
from tests.destinations.clock import receive_at
from tests.destinations.delivery import scenario
from tests.destinations.delivery.dispatch.helpers import configure, mapping_of
from tests.destinations.delivery.scenario import ingest, ingest_and_route, track
from tests.destinations.delivery.test_retention_partitions import home
from tests.destinations.delivery.test_retention_rules import DAY, days_ago

partitioned = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has no partitions"
)


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture
def old_events(source, sinks, settings) -> Event:
    """Three events delivered and one the router never reached, all received `when` (set by
    the test); returns the unrouted one. Events are kept 7 days."""
    settings.EVENT_RETENTION_DAYS = 7
    billing = scenario.metronome(source, sinks().url)
    configure(mapping_of(billing), flush_interval=0)
    ingest_and_route(source, *[track(i) for i in range(3)])
    dispatch_mapping(mapping_of(billing).pk)
    assert scenario.statuses(billing) == {"delivered": 3}
    ingest(source, track(3))
    return Event.objects.get(routed_at=None)


@partitioned
def test_an_expired_partition_holding_an_unrouted_event_is_kept_and_the_admin_says_so(
    old_events, admin_client
):
    receive_at(Event.objects.all(), days_ago(9))
    kept = home("ingest_event", 9)

    assert retention.purge_expired()["events"] == 0

    assert Event.objects.count() == 4
    assert held_partitions() == [retention.Hold(kept, 0, 1)]
    log = admin_client.get("/admin/destinations/delivery/").content.decode()
    assert f"Retention keeps {kept} past its time: 1 event not routed yet" in log

    Event.objects.update(routed_at=timezone.now())
    assert retention.purge_expired()["events"] == 4
    assert held_partitions() == []


def test_the_row_purge_spares_unrouted_events(old_events):
    # In no partition (the default partition on PostgreSQL; the table on SQLite).
    receive_at(Event.objects.all(), timezone.now() - 30 * DAY)

    assert retention.purge_expired()["events"] == 3

    assert list(Event.objects.all()) == [old_events]
    assert not Delivery.objects.exists()


@partitioned
def test_unrouted_events_are_counted_through_the_partial_index_alone(old_events):
    receive_at(Event.objects.all(), days_ago(9))
    count = retention.UNROUTED_SQL.format(partition=home("ingest_event", 9))

    with connection.cursor() as cursor:
        # As on a partition too big to read whole: only the index of unrouted events may serve.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {count}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s "
            "AND indexdef LIKE '%%WHERE (routed_at IS NULL)'",
            [home("ingest_event", 9)],
        )
        [unrouted_index] = [row[0] for row in cursor.fetchall()]

    assert "Seq Scan" not in plan, plan
    assert f"using {unrouted_index}" in plan or f"on {unrouted_index}" in plan, plan
