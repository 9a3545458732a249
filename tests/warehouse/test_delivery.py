"""A load is a delivery like any other, through the real dispatcher: every event delivered
once, retried while the warehouse is down, logged as an attempt per load."""

from collections import Counter
from datetime import timedelta

import psycopg
import pytest
from django.utils import timezone
from psycopg import sql

from destinations.models import Delivery, DeliveryAttempt
from destinations.services.destinations import create_destination
from tests.destinations.delivery.dispatch.helpers import claim_batch, deliver
from tests.destinations.delivery.scenario import ingest_and_route, track
from tests.tables.conftest import admin_url
from warehouse.models import Column, Load, Table


@pytest.fixture
def loads_into(db, source):
    def make(warehouse, **settings):
        destination = create_destination(
            "postgres_warehouse",
            "Warehouse",
            settings,
            # A password, which the server's trust ignores, and the log leaves out.
            {"connection_url": warehouse.url.replace("postgres@", "postgres:pw@")},
            [source],
        )
        destination.retry_base_seconds = 0.1
        destination.save()
        return destination

    return make


def load_now(destination) -> None:
    """The deliveries waiting for the destination have waited out the load interval: the
    dispatcher takes them at once."""
    waiting = Delivery.objects.filter(destination=destination, status__in=("pending", "retrying"))
    waiting.update(next_attempt_at=timezone.now() - timedelta(hours=1))
    batch = claim_batch(destination.mappings.get().pk)
    assert batch is not None, "nothing was claimed"
    deliver(batch)


def statuses(destination) -> Counter:
    return Counter(
        Delivery.objects.filter(destination=destination).values_list("status", flat=True)
    )


def set_connections(warehouse, allowed: bool) -> None:
    with psycopg.connect(admin_url("postgres"), autocommit=True) as connection:
        connection.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(warehouse.name), sql.SQL("true" if allowed else "false")
            )
        )


def test_events_routed_to_a_warehouse_are_loaded_in_the_sources_schema_and_logged(
    loads_into, warehouse, source
):
    destination = loads_into(warehouse)
    ingest_and_route(source, *[track(n) for n in range(10)])

    load_now(destination)

    assert statuses(destination) == {"delivered": 10}
    assert len(warehouse.rows("tracks", schema="test_app")) == 10
    assert len(warehouse.rows("order_completed", schema="test_app")) == 10
    [attempt] = DeliveryAttempt.objects.filter(destination=destination)
    assert attempt.request_method == "COPY"
    assert attempt.request_url == f"postgresql://postgres@127.0.0.1:5432/{warehouse.name}"
    assert attempt.item_count == 10
    assert "test_app.order_completed: 10 rows" in attempt.response_body
    [load] = Load.objects.filter(destination=destination)
    assert (load.events, load.rows, load.error) == (10, 20, "")
    assert Table.objects.filter(destination=destination).count() == 2
    total = Column.objects.get(table__name="order_completed", name="total")
    assert (total.type, total.first_row_id) == ("bigint", "msg-00000")


def test_the_load_interval_is_the_flush_interval_of_the_destinations_mapping(loads_into, warehouse):
    destination = loads_into(warehouse, load_interval=45)

    assert destination.mappings.get().flush_interval == 45
    destination.settings["load_interval"] = 60
    destination.save()
    assert destination.mappings.get().flush_interval == 60
    assert destination.mappings.get().effective_batch_size == 5000


def test_a_warehouse_that_is_down_then_back_gets_every_event_once(loads_into, warehouse, source):
    destination = loads_into(warehouse)
    warehouse.load([])  # nothing: the database exists and answers
    set_connections(warehouse, allowed=False)
    ingest_and_route(source, *[track(n) for n in range(20)])

    load_now(destination)

    assert statuses(destination) == {"retrying": 20}
    delivery = Delivery.objects.filter(destination=destination).first()
    assert delivery.error_code == "ECONNREFUSED"
    assert "not currently accepting connections" in delivery.error_message
    [failed_load] = Load.objects.filter(destination=destination)
    assert failed_load.error_code == "ECONNREFUSED"

    set_connections(warehouse, allowed=True)
    load_now(destination)

    assert statuses(destination) == {"delivered": 20}
    ids = [row["id"] for row in warehouse.rows("tracks", schema="test_app")]
    assert sorted(ids) == [f"msg-{n:05d}" for n in range(20)]


def test_a_bad_event_fails_alone_and_a_misfit_value_is_a_discard_not_a_failure(
    loads_into, warehouse, source
):
    destination = loads_into(warehouse)
    ingest_and_route(source, track(1, properties={"total": 1}))
    load_now(destination)
    ingest_and_route(source, track(2, properties={"total": "lots"}))

    load_now(destination)

    assert statuses(destination) == {"delivered": 2}
    [discard] = warehouse.discards(schema="test_app")
    assert (discard["row_id"], discard["reason"]) == ("msg-00002", "type_mismatch")
    table = Table.objects.get(name="order_completed")
    assert [(d.column, d.reason, d.count) for d in table.discard_counts.all()] == [
        ("total", "type_mismatch", 1)
    ]
