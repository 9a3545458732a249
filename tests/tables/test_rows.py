"""Rows as JSON, and the digests that decide what a run sends."""

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tables.rows import Reader, Shape, ShapeError, jsonable, message_id

SHAPE = Shape(
    table_source_id=7,
    name="Scores",
    keys=("id",),
    identity_column="email",
    identity="userId",
    emit="track",
    event_name="Sales Prediction",
    columns=(),
    timestamp_column="",
)
COLUMNS = ["id", "email", "score"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("0.9100"), 0.91),
        (Decimal("42.000"), 42),
        (Decimal("1e30"), 1e30),
        (Decimal("NaN"), None),
        (float("inf"), None),
        (datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "2026-01-02T03:04:05.678Z"),
        (datetime(2026, 1, 2, 3, 4, 5), "2026-01-02T03:04:05.000Z"),
        (
            datetime(2026, 1, 2, 4, 0, tzinfo=timezone(timedelta(hours=1))),
            "2026-01-02T03:00:00.000Z",
        ),
        (date(2026, 1, 2), "2026-01-02"),
        (timedelta(minutes=2), 120.0),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (b"\x00\xff", "AP8="),
        ({"nested": [Decimal("1.5")]}, {"nested": [1.5]}),
    ],
)
def test_a_database_value_becomes_json(value, expected):
    assert jsonable(value) == expected


def test_the_fingerprint_follows_the_content_and_the_key_digest_the_key_alone():
    reader = Reader(SHAPE, COLUMNS)
    first = reader.read((1, "ada@example.com", Decimal("0.5")))
    rescored = reader.read((1, "ada@example.com", Decimal("0.6")))

    assert first.key_digest == rescored.key_digest
    assert first.fingerprint != rescored.fingerprint
    assert first.content == {"score": 0.5}


def test_a_message_id_names_one_change_of_one_row():
    row = Reader(SHAPE, COLUMNS).read((1, "ada@example.com", 0.5))

    again = message_id(SHAPE, row.key_digest, 3, row.fingerprint)

    assert again == message_id(SHAPE, row.key_digest, 3, row.fingerprint)
    assert again != message_id(SHAPE, row.key_digest, 4, row.fingerprint)
    assert again != message_id(SHAPE, row.key_digest, 3, None)
    assert len(again) <= 100


def test_a_missing_column_is_named_with_the_columns_there_are():
    with pytest.raises(ShapeError, match="no column 'email'; it has id, score"):
        Reader(SHAPE, ["id", "score"])
