"""Values are written and judged as JavaScript would, as Segment's mapping-kit does."""

import math

import pytest

from destinations.mapping import js_text, json_type
from destinations.mapping.js import is_blank, js_json, js_number
from destinations.mapping.paths import UNDEFINED


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (0, "0"),
        (-0.0, "0"),
        (3.0, "3"),
        (-3.0, "-3"),
        (42, "42"),
        (0.5, "0.5"),
        (-0.5, "-0.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (123.456, "123.456"),
        (1e16, "10000000000000000"),
        (1.5e16, "15000000000000000"),
        (1.2345678901234568e20, "123456789012345680000"),
        (9007199254740994.0, "9007199254740994"),
        (1e21, "1e+21"),
        (1.5e21, "1.5e+21"),
        (-1e21, "-1e+21"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (0.0001, "0.0001"),
        (0.00001, "0.00001"),
        (0.000001, "0.000001"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (5e-324, "5e-324"),
        (10**20, "100000000000000000000"),
        (10**21, "1e+21"),
        (12345678901234567890123, "1.2345678901234568e+22"),
        (10**400, "Infinity"),
        (-(10**400), "-Infinity"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (math.nan, "NaN"),
    ],
)
def test_numbers_are_written_as_javascript_writes_them(number, expected):
    assert js_number(number) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "text"),
        (None, ""),
        (UNDEFINED, ""),
        (True, "true"),
        (False, "false"),
        (3.0, "3"),
        ({"a": [1.0, None, "x"]}, '{"a":[1,null,"x"]}'),
        ([], "[]"),
        ({}, "{}"),
    ],
)
def test_text_of_a_value_follows_javascript_and_compact_json(value, expected):
    assert js_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('say "hi"\n\t\\', '"say \\"hi\\"\\n\\t\\\\"'),
        ("\u00e9\u4e2d\U0001f600", '"\u00e9\u4e2d\U0001f600"'),
        ("\x01\x1f\x7f", '"\\u0001\\u001f\x7f"'),
        ({"a": UNDEFINED, "b": 1}, '{"b":1}'),
        ([UNDEFINED, 1], "[null,1]"),
        ([math.nan, math.inf], "[null,null]"),
        ({"k": {"n": -0.0, "t": True}}, '{"k":{"n":0,"t":true}}'),
    ],
)
def test_json_is_written_as_json_stringify_writes_it(value, expected):
    assert js_json(value) == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({1, 2}, "a set cannot be written as JSON"),
        ({1: "a"}, "object keys must be strings, not int"),
    ],
)
def test_json_refuses_values_json_cannot_hold(value, problem):
    with pytest.raises(TypeError, match=problem):
        js_json(value)


@pytest.mark.parametrize(
    ("value", "blank"),
    [
        (UNDEFINED, True),
        (None, True),
        ("", True),
        (0, True),
        (0.0, True),
        (-0.0, True),
        (False, True),
        ([], True),
        ([None], True),
        ([""], True),
        ([[]], True),
        ([[None]], True),
        (" ", False),
        ("0", False),
        (1, False),
        (math.nan, False),
        (True, False),
        ({}, False),
        ([0], False),
        ([False], False),
        (["", ""], False),
    ],
)
def test_blank_is_javascripts_loose_equality_with_the_empty_string(value, blank):
    assert is_blank(value) is blank


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "null"),
        (True, "boolean"),
        (0, "number"),
        (1.5, "number"),
        ("", "string"),
        ([], "array"),
        ({}, "object"),
        ({"@type": "Person"}, "object"),
        ({1, 2}, "set"),
    ],
)
def test_json_type_names_the_json_type_of_a_value(value, name):
    assert json_type(value) == name
