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
