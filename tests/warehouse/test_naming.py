"""Segment's names for tables and columns, and PostgreSQL's limits on them."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.destinations.events import track
from warehouse import naming


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Order Completed", "order_completed"),
        ("accountType", "account_type"),
        ("HTTPServer Error", "http_server_error"),
        ("  Signed -- Up!  ", "signed_up"),
        ("already_snake", "already_snake"),
        ("Crème brûlée", "creme_brulee"),
        ("注文 完了", "注文_完了"),
    ],
)
def test_names_are_snake_cased_as_go_snakecase_writes_them(text, name):
    assert naming.identifier(text) == name


def test_a_leading_digit_gets_an_underscore_before_it():
    assert naming.identifier("3D Secure") == "_3_d_secure"


def test_a_reserved_word_gets_an_underscore_before_it_so_sql_needs_no_quotes():
    assert naming.identifier("Order") == "_order"
    assert naming.identifier("user") == "_user"
    assert naming.identifier("orders") == "orders"


def test_a_name_is_cut_to_63_bytes_between_characters():
    assert naming.identifier("a" * 80) == "a" * 63
    cut = naming.identifier("é" * 10 + "ü" * 60)
    assert len(cut.encode()) <= 63
    assert cut.encode().decode() == cut


def test_an_event_named_like_a_table_of_segments_own_gets_a_table_beside_it():
    assert naming.table_name("Tracks") == "_tracks"
    assert naming.table_name("users") == "_users"
    assert naming.table_name("Discards") == "_discards"


def test_nothing_to_name_gives_no_name():
    assert naming.identifier("!!!") == ""
    assert naming.identifier("") == ""


@given(st.text())
def test_every_name_is_a_valid_unquoted_length_identifier(text):
    name = naming.identifier(text)
    assert len(name.encode()) <= 63
    assert name == naming.identifier(name)  # naming a name again changes nothing
    if name:
        assert not name[0].isdigit()
        assert name not in naming.RESERVED_WORDS
        assert name == name.lower()


def test_two_names_that_collapse_into_one_share_the_column_and_the_second_value_is_discarded(
    warehouse,
):
    warehouse.load([track(properties={"firstName": "Ada", "first_name": "Grace"})])

    [row] = warehouse.rows("api_call")
    assert row["first_name"] == "Ada"
    [discard] = warehouse.discards()
    assert (discard["column_name"], discard["value"], discard["reason"]) == (
        "first_name",
        "Grace",
        "name_collision",
    )
    assert "firstName" in discard["detail"]


def test_a_property_named_like_a_bookkeeping_column_is_discarded_not_loaded_over_it(warehouse):
    warehouse.load([track(properties={"user_id": "someone else", "id": 7})])

    [row] = warehouse.rows("api_call")
    assert (row["id"], row["user_id"]) == ("msg-0001", "user-1")
    assert {(d["column_name"], d["reason"]) for d in warehouse.discards()} == {
        ("id", "reserved_column"),
        ("user_id", "reserved_column"),
    }


def test_a_property_whose_name_names_nothing_is_discarded_with_its_key(warehouse):
    warehouse.load([track(properties={"!!!": 1, "ok": 2})])

    assert warehouse.rows("api_call")[0]["ok"] == 2
    [discard] = warehouse.discards()
    assert (discard["column_name"], discard["reason"]) == ("!!!", "no_column_name")


def test_long_event_names_that_collide_after_the_cut_share_a_table(warehouse):
    prefix = "x" * 70
    warehouse.load([track(1, event=prefix + "a"), track(2, event=prefix + "b", messageId="m2")])

    assert warehouse.tables() == {"tracks", "x" * 63, "discards"}
    assert len(warehouse.rows("x" * 63)) == 2
