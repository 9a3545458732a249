"""Loading is idempotent: the same batch twice, a reload after widening, a bad event alone."""

import pytest

from tests.destinations.events import identify, page, track
from warehouse import loader, merge, types


def without_load_time(rows):
    return [{k: v for k, v in row.items() if k != "uuid_ts"} for row in rows]


def test_the_same_batch_loaded_twice_leaves_the_same_rows(warehouse):
    batch = [
        track(1, properties={"amount": "x"}),
        track(2, messageId="m2", properties={"amount": 2}),
        identify(),
        page(),
    ]
    warehouse.load(batch[1:])  # amount becomes bigint: the first event's value is discarded
    warehouse.load(batch)
    before = {t: without_load_time(warehouse.rows(t)) for t in warehouse.tables() - {"discards"}}
    discards = without_load_time(warehouse.discards())

    warehouse.load(batch)

    after = {t: without_load_time(warehouse.rows(t)) for t in warehouse.tables() - {"discards"}}
    assert after == before
    assert without_load_time(warehouse.discards()) == discards
    assert len(discards) == 1


def test_widening_a_column_then_reloading_fills_the_discarded_values(warehouse):
    warehouse.load([track(1, properties={"amount": 3})])
    late = track(2, messageId="m2", properties={"amount": 2.75})
    warehouse.load([late])
    assert [d["reason"] for d in warehouse.discards()] == ["type_mismatch"]

    with warehouse.connect() as connection:
        merge.widen(connection, "app", "api_call", "amount", types.DOUBLE)
    report = warehouse.load([late])

    amounts = {row["id"]: row["amount"] for row in warehouse.rows("api_call")}
    assert amounts == {"msg-0001": 3.0, "m2": 2.75}
    assert warehouse.discards() == []
    [table] = [t for t in report.tables if t.table == "api_call"]
    assert table.discard_totals == {}


def test_an_event_that_cannot_be_laid_out_fails_alone_and_the_rest_loads(warehouse):
    batch = [track(1), "not an event", track(2, messageId=None), track(3, messageId="m3")]

    report = warehouse.load(batch)

    assert {index: bad.code for index, bad in report.bad.items()} == {
        1: "NOT_AN_EVENT",
        2: "NO_MESSAGE_ID",
    }
    assert [row["id"] for row in warehouse.rows("tracks")] == ["m3", "msg-0001"]


def test_a_warehouse_that_cannot_be_reached_raises_for_the_caller_to_retry(warehouse):
    keywords = {"host": "127.0.0.1", "port": 1, "dbname": warehouse.name, "user": "postgres"}

    with pytest.raises(Exception):  # noqa: B017 (psycopg's OperationalError)
        loader.connect(keywords)


def test_the_report_summarizes_rows_per_table(warehouse):
    report = warehouse.load([track(1), track(2, messageId="m2", event="Signed Up")])

    assert report.summary().splitlines() == [
        "app.tracks: 2 rows (4 new columns)",
        "app.api_call: 1 rows (7 new columns)",
        "app.signed_up: 1 rows (7 new columns)",
    ]
