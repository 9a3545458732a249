"""A table source's runs: each emits what changed since the previous one, and only that."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ingest.models import Event
from tables.models import Run
from tables.services import execute_run, request_run

WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ROWS = [
    (1, "ada@example.com", Decimal("0.9100"), "high", WHEN),
    (2, "grace@example.com", Decimal("0.2500"), "low", WHEN),
    (3, "linus@example.com", Decimal("0.5000"), "mid", WHEN),
    (4, "barbara@example.com", Decimal("0.7300"), "high", WHEN),
    (5, "ken@example.com", Decimal("0.0500"), "low", WHEN),
]


def run_once(table) -> Run:
    run = request_run(table)
    execute_run(run.pk)
    run.refresh_from_db()
    return run


def events_of(run_table) -> list[dict]:
    return [event.payload for event in Event.objects.filter(source=run_table.source).order_by("id")]


@pytest.mark.django_db
def test_the_first_run_emits_every_row_as_a_track_event(warehouse, table_source):
    warehouse.scores(ROWS)
    table = table_source()

    run = run_once(table)

    assert (run.status, run.error) == ("succeeded", "")
    assert (run.rows_read, run.added, run.changed, run.events) == (5, 5, 0, 5)
    first = events_of(table)[0]
    assert first["type"] == "track"
    assert first["event"] == "Sales Prediction"
    assert first["userId"] == "ada@example.com"
    assert first["properties"] == {
        "churn_score": 0.91,
        "segment": "high",
        "scored_at": "2026-12-01T09:30:00.000Z",
    }
    assert first["context"]["tableSource"] == {"name": "Sales predictions", "change": "added"}
    assert first["messageId"].startswith("table-")


def change_table(warehouse) -> None:
    """Two rows change, one is added, one is deleted."""
    warehouse.execute("UPDATE customer_scores SET churn_score = 0.95 WHERE customer_id = 1")
    warehouse.execute("UPDATE customer_scores SET segment = 'mid' WHERE customer_id = 2")
    warehouse.execute(
        "INSERT INTO customer_scores VALUES (6, 'margaret@example.com', 0.4, 'mid', %s)", [WHEN]
    )
    warehouse.execute("DELETE FROM customer_scores WHERE customer_id = 5")


def emitted_since(table, last_id: int) -> list[dict]:
    events = Event.objects.filter(source=table.source, id__gt=last_id).order_by("id")
    return [event.payload for event in events]


def last_event_id(table) -> int:
    return Event.objects.filter(source=table.source).order_by("-id").values_list("id", flat=True)[0]


@pytest.mark.django_db
def test_the_second_run_emits_the_changed_and_added_rows_and_nothing_else(warehouse, table_source):
    warehouse.scores(ROWS)
    table = table_source()
    run_once(table)
    before = last_event_id(table)
    change_table(warehouse)

    run = run_once(table)

    emitted = emitted_since(table, before)
    changes = {(e["userId"], e["context"]["tableSource"]["change"]) for e in emitted}
    assert changes == {
        ("ada@example.com", "changed"),
        ("grace@example.com", "changed"),
        ("margaret@example.com", "added"),
    }
    assert len(emitted) == 3
    assert (run.rows_read, run.added, run.changed, run.unchanged) == (5, 1, 2, 2)
    assert (run.deleted, run.events) == (1, 3)


@pytest.mark.django_db
def test_a_deleted_row_becomes_an_event_when_the_source_asks_for_it(warehouse, table_source):
    warehouse.scores(ROWS)
    table = table_source(emit_deleted=True)
    run_once(table)
    before = last_event_id(table)
    change_table(warehouse)

    run = run_once(table)

    emitted = emitted_since(table, before)
    assert len(emitted) == 4
    deleted = [e for e in emitted if e["context"]["tableSource"]["change"] == "deleted"]
    assert len(deleted) == 1
    assert deleted[0]["userId"] == "ken@example.com"
    assert deleted[0]["event"] == "Sales Prediction"
    assert deleted[0]["context"]["tableSource"]["key"] == [5]
    assert "properties" not in deleted[0] or deleted[0]["properties"] == {}
    assert (run.deleted, run.events) == (1, 4)


@pytest.mark.django_db
def test_a_source_of_added_rows_only_sends_no_event_for_a_changed_row(warehouse, table_source):
    warehouse.scores(ROWS)
    table = table_source(changes="added")
    run_once(table)
    before = last_event_id(table)
    change_table(warehouse)

    run = run_once(table)

    assert [e["userId"] for e in emitted_since(table, before)] == ["margaret@example.com"]
    assert (run.added, run.changed, run.events) == (1, 2, 1)


@pytest.mark.django_db
def test_a_run_over_an_unchanged_table_emits_nothing(warehouse, table_source):
    warehouse.scores(ROWS)
    table = table_source()
    run_once(table)

    run = run_once(table)

    assert (run.status, run.unchanged, run.events) == ("succeeded", 5, 0)
    assert Event.objects.filter(source=table.source).count() == 5


@pytest.mark.django_db
def test_a_row_changed_back_to_an_earlier_content_is_sent_again(warehouse, table_source):
    """The dedup window would drop a repeated messageId: each change of a row has its own."""
    warehouse.scores(ROWS[:1])
    table = table_source()
    run_once(table)
    warehouse.execute("UPDATE customer_scores SET segment = 'low'")
    run_once(table)
    warehouse.execute("UPDATE customer_scores SET segment = 'high'")

    run = run_once(table)

    assert run.changed == 1
    ids = [e["messageId"] for e in events_of(table)]
    assert len(ids) == len(set(ids)) == 3


@pytest.mark.django_db
def test_an_identify_source_sends_the_columns_as_traits(warehouse, table_source):
    warehouse.scores(ROWS[:1])
    table = table_source(
        emit="identify", event_name="", columns="segment, churn_score", identity="anonymousId"
    )

    run_once(table)

    (event,) = events_of(table)
    assert event["type"] == "identify"
    assert event["anonymousId"] == "ada@example.com"
    assert event["traits"] == {"segment": "high", "churn_score": 0.91}
    assert "event" not in event


@pytest.mark.django_db
def test_the_timestamp_column_becomes_the_event_timestamp(warehouse, table_source):
    warehouse.scores(ROWS[:1])
    table = table_source(timestamp_column="scored_at")

    run_once(table)

    (event,) = events_of(table)
    assert event["timestamp"] == "2026-12-01T09:30:00.000Z"
    assert "scored_at" not in event["properties"]


@pytest.mark.django_db
def test_a_query_with_a_key_of_two_columns(warehouse, table_source):
    warehouse.scores(ROWS)
    table = table_source(
        table="",
        query="SELECT customer_id, segment, email, churn_score FROM customer_scores",
        key_columns="customer_id, segment",
    )
    run_once(table)
    warehouse.execute("UPDATE customer_scores SET segment = 'new' WHERE customer_id = 1")

    run = run_once(table)

    assert (run.added, run.changed, run.unchanged, run.deleted) == (1, 0, 4, 1)


@pytest.mark.django_db
def test_a_row_without_identity_is_rejected_alone_and_counted(warehouse, table_source):
    warehouse.scores([*ROWS[:2], (9, None, Decimal("0.1"), "low", WHEN)])
    table = table_source()

    run = run_once(table)

    assert (run.status, run.rows_read, run.events, run.rejected) == ("succeeded", 3, 2, 1)
    rejection = table.source.rejections.get()
    assert (rejection.code, rejection.count) == ("id_required", 1)


@pytest.mark.django_db
def test_a_key_seen_twice_in_one_run_counts_the_second_row_as_rejected(warehouse, table_source):
    warehouse.scores(ROWS[:2])
    table = table_source(
        table="",
        query="SELECT * FROM customer_scores UNION ALL "
        "SELECT customer_id, 'x@example.com', 0, 'x', scored_at FROM customer_scores",
    )

    run = run_once(table)

    assert (run.rows_read, run.added, run.rejected, run.events) == (4, 2, 2, 2)
