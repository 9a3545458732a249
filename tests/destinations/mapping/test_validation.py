"""Validating mappings, and the rules every rendering follows."""

import datetime

import pytest

from destinations.mapping import MappingError, render, validate


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"a": 1, "b": "x", "c": None, "d": True, "e": 1.5, "f": [1, {"g": []}], "h": {}},
        {"user_key": {"@path": "$.userId"}, "kind": {"@literal": "custom"}},
        {"a": {"@path": "$.x", "_metadata": {"label": "X"}}},
        {"a": [{"@path": "$.x"}, {"@template": "{{y}}"}]},
        {"a": {"@if": {"blank": {"@path": "$.x"}, "else": None}}},
        {"a": {"@replace": {"value": "x", "pattern": "x", "replacement": None, "global": None}}},
        {"a": {"@arrayPath": ["$.items"]}},
        {"a": {"@arrayPath": [{"@path": "$.items"}, {"@path": "$.sku"}]}},
        {"a": {"@merge": {"objects": [], "direction": "left"}}},
        {"a": {"@hash": {"value": {"@path": "$.email"}}}},
        {"a": {"@liquid": "{% for i in (1..3) %}{{ i }}{% endfor %}"}},
        {"a": {"@liquid": "x" * 1_000}},
        {"a": {"@excludeWhenNull": None}},
        {"deep": {"@literal": {"@literal": {"@literal": {"@path": "$.a"}}}}},
    ],
)
def test_valid_mappings_pass_validation(fields):
    assert validate(fields) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([], "fields: expected an object of field mappings, got array"),
        ("x", "fields: expected an object of field mappings, got string"),
        ({"@path": "$."}, "fields: expected an object of field mappings, got directive"),
        ({"a": {"@pathh": "$.x"}}, "fields.a: unknown directive '@pathh'"),
        ({"a": {"@Path": "$.x"}}, "fields.a: '@Path' is not a valid directive name"),
        ({"a": {"@p": "$.x"}}, "fields.a: '@p' is not a valid directive name"),
        (
            {"a": {"@path": "$.x", "@template": "y"}},
            "fields.a: a directive has one @-key, found @path, @template",
        ),
        (
            {"a": {"@path": "$.x", "label": "X"}},
            "fields.a: unexpected key 'label' beside @path (only _metadata may be there)",
        ),
        ({"a": {"b": [0, {"@nope": 1}]}}, "fields.a.b[1]: unknown directive '@nope'"),
        ({"a": {1: "x"}}, "fields.a: object keys must be strings, found 1"),
        ({"a": float("nan")}, "fields.a: nan is not a JSON number"),
        ({"a": float("inf")}, "fields.a: inf is not a JSON number"),
        ({"a": (1, 2)}, "fields.a: a tuple is not a JSON value"),
        ({"a": datetime.date(2024, 1, 1)}, "fields.a: a date is not a JSON value"),
        (
            {"a": {"@path": 5}},
            "fields.a.@path: expected a path such as '$.properties.name' or a directive "
            "giving one, got number",
        ),
        ({"a": {"@path": "$.a..b"}}, "fields.a.@path: invalid path '$.a..b': empty key at 4"),
        (
            {"a": {"@path": "a[x]"}},
            "fields.a.@path: invalid path 'a[x]': brackets must hold an array index like [0] at 0",
        ),
        (
            {"a": {"@path": "a.[0]"}},
            "fields.a.@path: invalid path 'a.[0]': an [index] must follow a key at 2",
        ),
        ({"a": {"@path": "a."}}, "fields.a.@path: invalid path 'a.': empty key at 2"),
        (
            {"a": {"@template": 5}},
            "fields.a.@template: expected a string or a directive, got number",
        ),
        ({"a": {"@template": "{{ }}"}}, "fields.a.@template: empty placeholder '{{ }}'"),
        (
            {"a": {"@template": "{{a..b}}"}},
            "fields.a.@template: invalid path 'a..b': empty key at 2",
        ),
        (
            {"user_key": {"@if": {"exist": {"@path": "$.userId"}}}},
            "fields.user_key.@if: unknown key 'exist'",
        ),
        (
            {"a": {"@if": {"then": 1}}},
            "fields.a.@if: expected exactly one of the keys 'exists' and 'blank'",
        ),
        (
            {"a": {"@if": {"exists": 1, "blank": 1, "then": 1}}},
            "fields.a.@if: expected exactly one of the keys 'exists' and 'blank'",
        ),
        ({"a": {"@if": {"exists": 1}}}, "fields.a.@if: expected a 'then' or an 'else' key"),
        (
            {"a": {"@if": "x"}},
            "fields.a.@if: expected an object with the keys 'exists', 'blank', 'then', 'else'",
        ),
        (
            {"a": {"@if": {"exists": {"@oops": 1}, "then": 1}}},
            "fields.a.@if.exists: unknown directive '@oops'",
        ),
        (
            {"a": {"@if": {"exists": 1, "then": {"@oops": 1}}}},
            "fields.a.@if.then: unknown directive '@oops'",
        ),
        (
            {"a": {"@case": {"operator": "title", "value": "x"}}},
            "fields.a.@case.operator: expected 'lower' or 'upper', got 'title'",
        ),
        ({"a": {"@case": {"value": "x"}}}, "fields.a.@case: missing key 'operator'"),
        (
            {"a": {"@case": {"operator": "lower", "value": 5}}},
            "fields.a.@case.value: expected a string or a directive, got number",
        ),
        ({"a": {"@replace": {"value": "x"}}}, "fields.a.@replace: missing key 'pattern'"),
        ({"a": {"@replace": {"pattern": "x"}}}, "fields.a.@replace: missing key 'value'"),
        (
            {"a": {"@replace": {"value": "x", "pattern": ""}}},
            "fields.a.@replace.pattern: must not be empty",
        ),
        (
            {"a": {"@replace": {"value": "x", "pattern": 1}}},
            "fields.a.@replace.pattern: expected a string, got number",
        ),
        (
            {"a": {"@replace": {"value": "x", "pattern": "x", "replacement": 1}}},
            "fields.a.@replace.replacement: expected a string, got number",
        ),
        (
            {"a": {"@replace": {"value": "x", "pattern": "x", "global": "yes"}}},
            "fields.a.@replace.global: expected true or false, got string",
        ),
        (
            {"a": {"@replace": {"value": "x", "pattern": "x", "ignorecase": 1}}},
            "fields.a.@replace.ignorecase: expected true or false, got number",
        ),
        (
            {"a": {"@replace": {"value": "x", "pattern": "x", "pattern2": ["y"]}}},
            "fields.a.@replace.pattern2: expected a string, got array",
        ),
        (
            {"a": {"@replace": {"value": "x", "pattern": "x", "pattern3": "y"}}},
            "fields.a.@replace: unknown key 'pattern3'",
        ),
        (
            {"a": {"@replace": {"value": 3, "pattern": "x"}}},
            "fields.a.@replace.value: expected a string or a directive, got number",
        ),
        (
            {"a": {"@arrayPath": "$.items"}},
            "fields.a.@arrayPath: expected [path] or [path, item shape]",
        ),
        ({"a": {"@arrayPath": []}}, "fields.a.@arrayPath: expected [path] or [path, item shape]"),
        (
            {"a": {"@arrayPath": ["$.a", {}, {}]}},
            "fields.a.@arrayPath: expected [path] or [path, item shape]",
        ),
        (
            {"a": {"@arrayPath": [5]}},
            "fields.a.@arrayPath[0]: expected a string or a directive, got number",
        ),
        (
            {"a": {"@arrayPath": ["$.a", "sku"]}},
            "fields.a.@arrayPath[1]: expected an object or a directive, got string",
        ),
        (
            {"a": {"@arrayPath": ["$.a", {"x": {"@bad": 1}}]}},
            "fields.a.@arrayPath[1].x: unknown directive '@bad'",
        ),
        ({"a": {"@merge": {"objects": [{}]}}}, "fields.a.@merge: missing key 'direction'"),
        (
            {"a": {"@merge": {"objects": [{}], "direction": "up"}}},
            "fields.a.@merge.direction: expected 'left' or 'right', got 'up'",
        ),
        (
            {"a": {"@merge": {"objects": {"a": 1}, "direction": "left"}}},
            "fields.a.@merge.objects: expected an array of objects or directives",
        ),
        (
            {"a": {"@merge": {"objects": [{}, 123], "direction": "left"}}},
            "fields.a.@merge.objects[1]: expected an object or a directive, got number",
        ),
        ({"a": {"@transform": {"apply": {}}}}, "fields.a.@transform: missing key 'mapping'"),
        (
            {"a": {"@transform": {"apply": "x", "mapping": {}}}},
            "fields.a.@transform.apply: expected an object or a directive, got string",
        ),
        (
            {"a": {"@transform": {"apply": {}, "mapping": [1]}}},
            "fields.a.@transform.mapping: expected an object or a directive, got array",
        ),
        ({"a": {"@flatten": {"value": 1}}}, "fields.a.@flatten: missing key 'separator'"),
        (
            {"a": {"@flatten": {"value": 1, "separator": ""}}},
            "fields.a.@flatten.separator: must not be empty",
        ),
        (
            {"a": {"@flatten": {"value": 1, "separator": ".", "omitArrays": "no"}}},
            "fields.a.@flatten.omitArrays: expected true or false, got string",
        ),
        (
            {"a": {"@json": {"mode": "parse", "value": "x"}}},
            "fields.a.@json.mode: expected 'encode' or 'decode', got 'parse'",
        ),
        ({"a": {"@json": {"mode": "encode"}}}, "fields.a.@json: missing key 'value'"),
        (
            {"a": {"@hash": {"value": "x", "algorithm": "md5"}}},
            "fields.a.@hash.algorithm: expected 'sha256', got 'md5'",
        ),
        (
            {"a": {"@hash": "x"}},
            "fields.a.@hash: expected an object with the keys 'value', 'algorithm'",
        ),
        ({"a": {"@liquid": 5}}, "fields.a.@liquid: expected a string, got number"),
        (
            {"a": {"@liquid": "x" * 1_001}},
            "fields.a.@liquid: templates are limited to 1000 characters, this one has 1001",
        ),
        ({"a": {"@liquid": "{% if %}"}}, "fields.a.@liquid: missing expression at 3"),
        ({"a": {"@liquid": "{{ a | nosuch }}"}}, "fields.a.@liquid: unknown filter 'nosuch'"),
        (
            {"a": {"@excludeWhenNull": {"@x1": 1}}},
            "fields.a.@excludeWhenNull: unknown directive '@x1'",
        ),
        (
            {
                "a": {
                    "@transform": {
                        "apply": {
                            "@merge": {
                                "objects": [{"k": {"@if": {"exists": 1}}}],
                                "direction": "right",
                            }
                        },
                        "mapping": {},
                    }
                }
            },
            "fields.a.@transform.apply.@merge.objects[0].k.@if: expected a 'then' or an 'else' key",
        ),
    ],
)
def test_invalid_mappings_raise_an_error_naming_the_json_path(fields, message):
    with pytest.raises(MappingError) as caught:
        validate(fields)
    assert str(caught.value) == message
    assert caught.value.path == message.split(": ", 1)[0]


def test_render_validates_too():
    with pytest.raises(MappingError, match="unknown directive"):
        render({"a": {"@nope": 1}}, {})


def test_a_mapping_error_is_a_value_error():
    assert issubclass(MappingError, ValueError)


def test_undefined_members_are_removed_and_null_is_kept():
    fields = {
        "gone": {"@path": "$.nope"},
        "null": {"@path": "$.a"},
        "raw_null": None,
        "nested": {"gone": {"@path": "$.nope"}, "kept": 1, "deeper": {"gone": {"@path": "$.x.y"}}},
    }
    assert render(fields, {"a": None}) == {
        "null": None,
        "raw_null": None,
        "nested": {"kept": 1, "deeper": {}},
    }


def test_undefined_array_items_become_null_and_keep_their_places():
    fields = {"items": [{"@path": "$.nope"}, {"@path": "$.a"}, {"@path": "$.nope"}]}
    assert render(fields, {"a": 1}) == {"items": [None, 1, None]}


def test_metadata_beside_a_directive_is_ignored():
    fields = {"a": {"@path": "$.a", "_metadata": {"label": "A", "@weird": 1}}}
    assert render(fields, {"a": 1}) == {"a": 1}


def test_raw_values_are_copied_so_renders_never_share_containers():
    fields = {"static": {"list": [1, 2], "object": {"k": "v"}}}
    first = render(fields, {})
    first["static"]["list"].append(3)
    first["static"]["object"]["k"] = "changed"
    assert render(fields, {}) == {"static": {"list": [1, 2], "object": {"k": "v"}}}


def test_rendered_values_share_the_events_objects_instead_of_copying_them():
    event = {"properties": {"a": 1}}
    assert render({"p": {"@path": "$.properties"}}, event)["p"] is event["properties"]


def test_a_mapping_edited_in_place_renders_its_new_content():
    fields = {"a": {"@path": "$.x"}}
    assert render(fields, {"x": 1, "y": 2}) == {"a": 1}
    fields["a"]["@path"] = "$.y"
    assert render(fields, {"x": 1, "y": 2}) == {"a": 2}


def test_rendered_keys_keep_the_order_of_the_mapping():
    assert list(render({"b": 1, "a": 2}, {})) == ["b", "a"]
    assert list(render({"a": 2, "b": 1}, {})) == ["a", "b"]


@pytest.mark.parametrize("event", [{}, {"properties": None}, {"properties": "x"}, [], None, "x", 5])
def test_rendering_never_raises_for_missing_paths_whatever_the_event(event):
    fields = {
        "a": {"@path": "$.properties.a[0].b"},
        "b": {"@template": "{{properties.a}}"},
        "c": {"@arrayPath": ["$.properties.items", {"x": {"@path": "$.x"}}]},
    }
    assert render(fields, event) == {"b": ""}


def test_an_event_nested_beyond_the_recursion_limit_is_a_mapping_error():
    deep = {}
    for _ in range(5_000):
        deep = {"k": deep}
    with pytest.raises(MappingError, match=r"^fields: the event is nested too deeply"):
        render({"a": {"@json": {"mode": "encode", "value": {"@path": "$."}}}}, deep)


@pytest.mark.parametrize(
    "fields",
    [
        {"a": {"@template": "{{when}}"}},
        {"a": {"@hash": {"value": {"@path": "$.when"}}}},
        {"a": {"@replace": {"value": {"@template": "{{when}}"}, "pattern": "x"}}},
    ],
)
def test_an_event_value_that_is_not_json_is_a_mapping_error(fields):
    with pytest.raises(MappingError) as caught:
        render(fields, {"when": datetime.date(2024, 1, 1)})
    assert str(caught.value) == (
        "fields: the event holds a value that is not JSON: a date cannot be written as JSON"
    )
