"""A worker SIGKILLed in the middle of a load, then a rerun: every event loaded once.

The test holds the lock of the event's table, so the killed worker's load has committed
`tracks` and waits on the second table when it dies."""

from collections import Counter

import psycopg
import pytest

from destinations.models import Delivery
from destinations.services.destinations import create_destination
from tests.destinations.delivery.conftest import wait_until
from tests.destinations.delivery.scenario import ingest_and_route, track

EVENTS = 50


@pytest.fixture
def table_lock(warehouse):
    """Holds the advisory lock a load takes on test_app.order_completed until released."""
    connection = psycopg.connect(warehouse.url, autocommit=True)
    key = "test_app.order_completed"
    connection.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
    yield lambda: connection.execute("SELECT pg_advisory_unlock_all()")
    connection.close()


def test_a_worker_killed_mid_load_then_a_rerun_loads_every_event_once(
    start_worker, warehouse, table_lock, source
):
    destination = create_destination(
        "postgres_warehouse", "Warehouse", {}, {"connection_url": warehouse.url}, [source]
    )
    destination.retry_base_seconds = 0.2
    destination.save()
    mapping = destination.mappings.get()
    mapping.batch_size = EVENTS  # a full batch goes at once, whatever the load interval
    mapping.save()
    ingest_and_route(source, *[track(n) for n in range(EVENTS)])
    worker = start_worker("w1")

    wait_until(lambda: count(warehouse, "tracks") == EVENTS, timeout=30)
    worker.kill()
    table_lock()
    assert count(warehouse, "order_completed") == 0

    start_worker("w2")  # its beat's sweep takes the lapsed lease back
    wait_until(lambda: statuses(destination) == {"delivered": EVENTS}, timeout=90)

    for table in ("tracks", "order_completed"):
        ids = Counter(row["id"] for row in warehouse.rows(table, schema="test_app"))
        assert ids == Counter(f"msg-{n:05d}" for n in range(EVENTS))
    # The lapsed lease counted as an attempt: each event was loaded by the rerun.
    attempts = Delivery.objects.filter(destination=destination).values_list("attempts", flat=True)
    assert set(attempts) == {2}


def count(warehouse, table: str) -> int:
    try:
        return len(warehouse.rows(table, schema="test_app"))
    except psycopg.errors.UndefinedTable:
        return 0


def statuses(destination) -> dict[str, int]:
    return dict(
        Counter(Delivery.objects.filter(destination=destination).values_list("status", flat=True))
    )
