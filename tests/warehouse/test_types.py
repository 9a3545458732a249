"""Types decided once per column, new columns, discards with their reasons, the column cap."""

from hypothesis import given
from hypothesis import strategies as st

from tests.destinations.events import track
from warehouse import columns, types


def test_a_new_column_takes_the_type_of_its_values(warehouse):
    properties = {
        "flag": True,
        "count": 3,
        "ratio": 0.5,
        "name": "x",
        "at": "2026-03-01T12:00:00Z",
        "day": "2026-03-01",
        "list": [1],
    }
    warehouse.load([track(properties=properties)])

    columns = warehouse.columns("api_call")
    assert {name: columns[name] for name in properties} == {
        "flag": "boolean",
        "count": "bigint",
        "ratio": "double precision",
        "name": "text",
        "at": "timestamp with time zone",
        "day": "text",
        "list": "jsonb",
    }


def test_a_new_column_in_a_batch_of_mixed_values_takes_their_join(warehouse):
    warehouse.load(
        [
            track(1, properties={"amount": 3, "code": 7}),
            track(2, messageId="m2", properties={"amount": 2.5, "code": "A7"}),
        ]
    )

    columns = warehouse.columns("api_call")
    assert (columns["amount"], columns["code"]) == ("double precision", "text")
    assert warehouse.discards() == []


def test_a_new_property_becomes_a_new_column_and_older_rows_hold_null(warehouse):
    warehouse.load([track(1, properties={"a": 1})])
    warehouse.load([track(2, messageId="m2", properties={"a": 2, "b": "new"})])

    rows = warehouse.rows("api_call")
    assert [(row["a"], row["b"]) for row in rows] == [(2, "new"), (1, None)]


def test_a_value_that_does_not_fit_its_column_is_discarded_with_its_reason_and_the_row_loads(
    warehouse,
):
    warehouse.load([track(1, properties={"amount": 3})])

    report = warehouse.load([track(2, messageId="m2", properties={"amount": "lots", "ok": 1})])

    row = next(row for row in warehouse.rows("api_call") if row["id"] == "m2")
    assert (row["amount"], row["ok"]) == (None, 1)
    [discard] = warehouse.discards()
    assert discard["table_name"] == "api_call"
    assert discard["column_name"] == "amount"
    assert discard["row_id"] == "m2"
    assert discard["value"] == "lots"
    assert discard["reason"] == "type_mismatch"
    assert discard["detail"] == "a text in a bigint column"
    assert discard["received_at"] is not None
    [table] = [t for t in report.tables if t.table == "api_call"]
    assert table.discarded == {("amount", "type_mismatch"): 1}
    assert table.discard_totals == {("amount", "type_mismatch"): 1}


def test_an_integer_fits_a_double_column_and_an_integral_float_a_bigint_one(warehouse):
    warehouse.load([track(1, properties={"d": 1.5, "i": 1})])
    warehouse.load([track(2, messageId="m2", properties={"d": 2, "i": 2.0})])

    row = next(row for row in warehouse.rows("api_call") if row["id"] == "m2")
    assert (row["d"], row["i"]) == (2.0, 2)
    assert warehouse.discards() == []


def test_an_integer_beyond_bigint_is_discarded_as_out_of_range(warehouse):
    warehouse.load([track(1, properties={"n": 1})])
    warehouse.load([track(2, messageId="m2", properties={"n": 2**64 - 1})])

    assert [d["reason"] for d in warehouse.discards()] == ["out_of_range"]


def test_a_nul_character_is_discarded_as_unstorable_and_the_row_loads(warehouse):
    warehouse.load([track(properties={"t": "a\x00b", "j": ["\x00"], "ok": "yes"})])

    assert warehouse.rows("api_call")[0]["ok"] == "yes"
    assert {(d["column_name"], d["reason"]) for d in warehouse.discards()} == {
        ("t", "unstorable"),
        ("j", "unstorable"),
    }


def test_text_columns_take_anything_as_text(warehouse):
    warehouse.load([track(1, properties={"v": "x"})])
    warehouse.load(
        [
            track(2, messageId="m2", properties={"v": 5}),
            track(3, messageId="m3", properties={"v": [1, 2]}),
        ]
    )

    values = {row["id"]: row["v"] for row in warehouse.rows("api_call")}
    assert values == {"msg-0001": "x", "m2": "5", "m3": "[1,2]"}


def test_past_the_column_cap_new_properties_go_to_the_overflow_column(warehouse):
    warehouse.load([track(properties={})])
    cap = len(warehouse.columns("api_call")) + 2

    report = warehouse.load(
        [track(2, messageId="m2", properties={"a": 1, "b": 2, "c": 3, "d": {"e": "x"}})],
        column_cap=cap,
    )

    columns = warehouse.columns("api_call")
    assert len(columns) == cap + 1
    assert columns["_overflow"] == "jsonb"
    row = next(row for row in warehouse.rows("api_call") if row["id"] == "m2")
    assert (row["a"], row["b"]) == (1, 2)
    assert row["_overflow"] == {"c": 3, "d_e": "x"}
    [table] = [t for t in report.tables if t.table == "api_call"]
    assert table.overflowed == ["c", "d_e"]


def test_the_lattice_joins_as_documented():
    assert types.join(types.BIGINT, types.DOUBLE) == types.DOUBLE
    assert types.join(types.BOOLEAN, types.BIGINT) == types.TEXT
    assert types.join(types.TIMESTAMP, types.TEXT) == types.TEXT
    assert types.join(types.JSONB, types.TEXT) == types.JSONB
    assert types.WIDER[types.BIGINT] == (types.DOUBLE, types.TEXT)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text()
    | st.sampled_from(["2026-03-01T12:00:00.000Z", "2026-03-01 12:00", "2026-13-01T12:00"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=5,
)


@given(JSON_VALUES, st.sampled_from(types.TYPES))
def test_the_loaders_shortcut_writes_what_the_full_rules_write_or_defers_to_them(value, kind):
    shortcut = columns.fast_text(value, kind)
    assert shortcut is None or shortcut == types.copy_text(value, kind)
