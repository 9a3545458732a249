"""Rendering with the directives that transform values: @case, @replace, @flatten, @json,
@excludeWhenNull and @hash."""

import hashlib

import pytest

from destinations.mapping import MappingError

from .samples import ABSENT, EVENT, mapped


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("lower", "MAKE Me Lower 190WDB", "make me lower 190wdb"),
        ("upper", "make me upper", "MAKE ME UPPER"),
        ("upper", "stra\u00dfe", "STRASSE"),
        ("lower", "", ""),
        ("lower", {"@path": "$.properties.count"}, 3),
        ("lower", {"@path": "$.properties.coupon"}, None),
        ("upper", {"@path": "$.properties.flag"}, False),
        ("upper", {"@path": "$.properties.address"}, EVENT["properties"]["address"]),
        ("upper", {"@path": "$.nope"}, ABSENT),
        ("upper", {"@path": "$.event"}, "ORDER COMPLETED"),
    ],
)
def test_case_maps_strings_and_passes_other_values_through(operator, value, expected):
    assert mapped({"@case": {"operator": operator, "value": value}}) == expected


def replace(value, **options):
    return {"@replace": {"value": value, **options}}


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (replace("nomore_underscore", pattern="_"), "nomoreunderscore"),
        (replace("nomore_underscore", pattern="_", replacement="weird"), "nomoreweirdunderscore"),
        (replace("many+different+things", pattern="+", replacement="_"), "many_different_things"),
        (
            replace("many+different+things", pattern="+", replacement="_", **{"global": False}),
            "many_different+things",
        ),
        (replace("cWWl-story-ww", pattern="WW", replacement="oo"), "cool-story-ww"),
        (
            replace("aab-----AaB---aab", pattern="AaB", replacement="nice", ignorecase=True),
            "nice-----nice---nice",
        ),
        (
            replace(
                "aab-AaB", pattern="AAB", replacement="x", ignorecase=True, **{"global": False}
            ),
            "x-AaB",
        ),
        (replace("a.b.c", pattern=".", replacement="$&"), "a$&b$&c"),
        (replace("a.b", pattern=".", replacement="\\1\\g<0>"), "a\\1\\g<0>b"),
        (replace("a.b", pattern=".", replacement="\\", ignorecase=True), "a\\b"),
        (replace("(a)", pattern="(a)", replacement="[b]"), "[b]"),
        (replace("a long enough pattern", pattern="long enough pattern", replacement="x"), "a x"),
        (replace("aaabbbcccd", pattern="aaabbbcccd"), ""),
        (
            replace(
                "something-great!",
                pattern="-",
                replacement=" ",
                pattern2="great",
                replacement2="awesome",
            ),
            "something awesome!",
        ),
        (replace("a-b", pattern="-", replacement="+", pattern2="+", replacement2="="), "a=b"),
        (replace("a-b", pattern="-", pattern2="", replacement2="x"), "ab"),
        (replace("a-b", pattern="-", replacement=None, pattern2=None), "ab"),
        (replace({"@path": "$.properties.ok"}, pattern="true", replacement="granted"), "granted"),
        (
            replace(
                {"@path": "$.properties.flag"},
                pattern="true",
                replacement="granted",
                pattern2="false",
                replacement2="denied",
            ),
            "denied",
        ),
        (replace({"@path": "$.properties.count"}, pattern="3", replacement="three"), "three"),
        (replace({"@path": "$.properties.revenue"}, pattern=".0", replacement="!"), "25"),
        (replace({"@path": "$.properties.big"}, pattern="+", replacement=""), "1e21"),
        (replace({"@path": "$.properties.empty"}, pattern="_", replacement="r"), ""),
        (replace({"@path": "$.properties.coupon"}, pattern="_", replacement="r"), ""),
        (replace({"@path": "$.nope"}, pattern="_", replacement="r"), ""),
        (replace({"@path": "$.properties.address"}, pattern="_", replacement="r"), ""),
    ],
)
def test_replace_is_literal_with_global_and_ignorecase_flags_and_a_second_pattern(
    mapping, expected
):
    assert mapped(mapping) == expected


@pytest.mark.parametrize(
    ("value", "separator", "omit_arrays", "expected"),
    [
        (
            {"bar": "baz", "aces": {"a": 1, "b": 2}},
            ".",
            None,
            {"bar": "baz", "aces.a": 1, "aces.b": 2},
        ),
        ({"a": {"b": {"c": 1}, "d": 2}}, "/", None, {"a/b/c": 1, "a/d": 2}),
        ({"a": [{"b": 1}, {"c": 2}]}, ".", None, {"a.0.b": 1, "a.1.c": 2}),
        ([{"fazz": "bar", "fizz": "baz"}], ".", None, {"0.fazz": "bar", "0.fizz": "baz"}),
        ({"bar": "baz", "aces": [1, 2]}, ".", True, {"bar": "baz", "aces": [1, 2]}),
        ({"a": {"b": [{"c": 1}]}}, "__", True, {"a__b": [{"c": 1}]}),
        ({"a": {}, "b": [], "c": None}, ".", False, {"c": None}),
        ({"a": {"b": None}}, ".", False, {"a.b": None}),
        ({}, ".", False, {}),
        ("scalar", ".", False, {"": "scalar"}),
        (None, ".", False, {"": None}),
        ([1, 2], ".", True, {"": [1, 2]}),
    ],
)
def test_flatten_joins_nested_keys_with_the_separator(value, separator, omit_arrays, expected):
    options = {"value": {"@literal": value}, "separator": separator}
    if omit_arrays is not None:
        options["omitArrays"] = omit_arrays
    assert mapped({"@flatten": options}) == expected


def test_flatten_of_a_missing_value_is_empty():
    assert mapped({"@flatten": {"value": {"@path": "$.nope"}, "separator": "."}}) == {}


def test_flatten_handles_objects_nested_deeper_than_the_recursion_limit():
    deep = leaf = {}
    for _ in range(3_000):
        leaf["k"] = {}
        leaf = leaf["k"]
    leaf["v"] = 1
    flat = mapped({"@flatten": {"value": {"@path": "$.deep"}, "separator": "."}}, {"deep": deep})
    assert flat == {".".join(["k"] * 3_000 + ["v"]): 1}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"@path": "$.event"}, '"Order Completed"'),
        (
            {"@path": "$.properties.address"},
            '{"city":"Paris","zip":null,"geo":{"lat":48.8,"lon":null}}',
        ),
        ({"@path": "$.properties.scores"}, "[1,2]"),
        ({"@path": "$.properties.revenue"}, "25"),
        ({"@path": "$.properties.big"}, "1e+21"),
        ({"@path": "$.properties.ok"}, "true"),
        ({"@path": "$.properties.coupon"}, "null"),
        ({"@path": "$.nope"}, ABSENT),
        ('caf\u00e9 "quoted"\n', '"caf\u00e9 \\"quoted\\"\\n"'),
        ({"@literal": {"a": [1, {"@path": "$.nope"}]}}, '{"a":[1,null]}'),
    ],
)
def test_json_encode_writes_compact_javascript_json(value, expected):
    assert mapped({"@json": {"mode": "encode", "value": value}}) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"@path": "$.properties.json"}, {"a": [1, 2.5], "b": None}),
        ('"bar"', "bar"),
        ("[1, 2]", [1, 2]),
        ("null", None),
        ({"@path": "$.properties.bad_json"}, "{oops"),
        ("", ""),
        ({"@path": "$.properties.count"}, 3),
        ({"@path": "$.properties.address"}, EVENT["properties"]["address"]),
        ({"@path": "$.nope"}, ABSENT),
    ],
)
def test_json_decode_parses_strings_and_returns_anything_else_unchanged(value, expected):
    assert mapped({"@json": {"mode": "decode", "value": value}}) == expected


@pytest.mark.parametrize(
    "value",
    ["text", 0, -1.5, True, None, [1, "a", None], {"a": {"b": [1.25, False]}}, {"": ""}],
)
def test_json_encode_then_decode_gives_the_value_back(value):
    encoded = {"@json": {"mode": "encode", "value": {"@literal": value}}}
    assert mapped({"@json": {"mode": "decode", "value": encoded}}) == value


def test_json_encode_of_a_value_json_cannot_hold_is_a_mapping_error():
    with pytest.raises(MappingError) as caught:
        mapped({"@json": {"mode": "encode", "value": {"@path": "$.tags"}}}, {"tags": {"a", "b"}})
    assert caught.value.path == "fields.out.@json"
    assert (
        str(caught.value)
        == "fields.out.@json: cannot encode the value as JSON: a set cannot be written as JSON"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"@path": "$.properties.coupon"}, ABSENT),
        ({"@path": "$.nope"}, ABSENT),
        ({"@path": "$.properties.empty"}, ""),
        ({"@path": "$.properties.value"}, 0),
        ({"@path": "$.properties.address"}, {"city": "Paris", "geo": {"lat": 48.8}}),
        (
            {"@path": "$.properties.products"},
            [{"product_id": "p1", "price": 10.0, "tags": ["a"]}, {"product_id": "p2", "price": 15}],
        ),
        ({"@literal": {"a": None, "b": {"c": None}}}, {"b": {}}),
        ({"@literal": {"list": [None, {"x": None, "y": 1}]}}, {"list": [None, {"y": 1}]}),
        ({"@template": "{{properties.coupon}}"}, ""),
    ],
)
def test_exclude_when_null_drops_nulls_and_null_members_at_any_depth(value, expected):
    assert mapped({"@excludeWhenNull": value}) == expected


def test_exclude_when_null_does_not_modify_the_event():
    mapped({"@excludeWhenNull": {"@path": "$.properties.address"}})
    assert EVENT["properties"]["address"]["zip"] is None


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


DIGEST = sha256("jane@example.com")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"@path": "$.traits.email"}, DIGEST),
        ("jane@example.com", DIGEST),
        ("JANE@EXAMPLE.COM\n", DIGEST),
        (DIGEST, DIGEST),
        (f"  {DIGEST.upper()} ", DIGEST),
        (DIGEST[:-1], sha256(DIGEST[:-1])),
        ("g" * 64, sha256("g" * 64)),
        ({"@path": "$.properties.revenue"}, sha256("25")),
        ({"@path": "$.properties.ok"}, sha256("true")),
        ({"@path": "$.properties.coupon"}, None),
        ({"@path": "$.nope"}, ABSENT),
        ("", ""),
        ("   ", ""),
    ],
)
def test_hash_normalises_then_hashes_and_never_hashes_a_digest_twice(value, expected):
    assert mapped({"@hash": {"value": value, "algorithm": "sha256"}}) == expected


def test_hash_algorithm_defaults_to_sha256():
    assert mapped({"@hash": {"value": "jane@example.com"}}) == DIGEST


@pytest.mark.parametrize("path", ["$.properties.address", "$.properties.scores"])
def test_hash_of_an_object_or_array_is_a_mapping_error_rather_than_unhashed_data(path):
    with pytest.raises(
        MappingError, match=r"^fields\.out\.@hash: cannot hash (object|array) values$"
    ):
        mapped({"@hash": {"value": {"@path": path}}})
