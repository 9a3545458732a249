"""Strings in number, integer and boolean fields, read as Segment reads them: its actions
validate payloads with AJV and `coerceTypes` (segmentio/action-destinations,
packages/core/src/schema-validation.ts), so "14.99" in a number field is the number 14.99."""

import orjson
import pytest

from destinations.delivery.payloads import PayloadInvalid, apply_schema, coerce
from destinations.integrations.base import Field

NUMBER = Field("amount", "Amount", "number")
INTEGER = Field("count", "Count", "integer")
BOOLEAN = Field("active", "Active", "boolean")


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("14.99", 14.99),
        ("-0.5", -0.5),
        (".5", 0.5),
        ("1e3", 1000),
        ("2.5E-3", 0.0025),
        ("+7", 7),
        (" 12 ", 12),
    ],
)
def test_a_numeric_string_becomes_a_number(text, number):
    assert coerce(NUMBER, text) == number


def test_an_integral_numeric_string_is_sent_as_an_integer_as_javascript_prints_it():
    assert orjson.dumps([coerce(NUMBER, "42"), coerce(NUMBER, "42.0")]) == b"[42,42]"


@pytest.mark.parametrize(("text", "number"), [("42", 42), ("-3", -3), ("42.0", 42), ("1e3", 1000)])
def test_an_integral_string_becomes_an_integer(text, number):
    value = coerce(INTEGER, text)

    assert value == number and type(value) is int


def test_a_fractional_string_is_not_an_integer():
    with pytest.raises(PayloadInvalid, match="'count' must be an integer, got string"):
        coerce(INTEGER, "42.5")


@pytest.mark.parametrize(
    "text", ["", " ", "abc", "12abc", "NaN", "nan", "Infinity", "-inf", "1e400", "0x1F", "1_000"]
)
def test_a_string_that_is_no_finite_decimal_number_is_still_refused(text):
    with pytest.raises(PayloadInvalid, match="'amount' must be a number, got string"):
        coerce(NUMBER, text)
    with pytest.raises(PayloadInvalid, match="'count' must be an integer, got string"):
        coerce(INTEGER, text)


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False)])
def test_true_and_false_strings_become_booleans(text, value):
    assert coerce(BOOLEAN, text) is value


@pytest.mark.parametrize("text", ["", "True", "yes", "1", "0"])
def test_other_strings_are_not_booleans(text):
    with pytest.raises(PayloadInvalid, match="'active' must be a boolean, got string"):
        coerce(BOOLEAN, text)


def test_a_boolean_is_not_taken_as_a_number():
    with pytest.raises(PayloadInvalid, match="'amount' must be a number, got boolean"):
        coerce(NUMBER, True)


def test_each_coerced_field_leaves_a_note_and_others_leave_none():
    notes: list[str] = []
    fields = (NUMBER, INTEGER, BOOLEAN, Field("name", "Name", "string"))
    rendered = {"amount": "14.99", "count": 3, "active": "true", "name": "42"}

    payload = apply_schema(fields, rendered, notes)

    assert payload == {"amount": 14.99, "count": 3, "active": True, "name": "42"}
    assert notes == [
        "field 'amount': the string \"14.99\" became 14.99",
        "field 'active': the string \"true\" became true",
    ]
