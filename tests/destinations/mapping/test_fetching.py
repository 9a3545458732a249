"""Rendering with the directives that fetch and arrange data: @path, @template, @literal,
@if, @arrayPath, @merge and @transform."""

import pytest

from .samples import ABSENT, EVENT, mapped


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.event", "Order Completed"),
        ("event", "Order Completed"),
        ("$.properties.products[1].price", 15),
        ("properties.products.0.product_id", "p1"),
        ("$.properties.coupon", None),
        ("$.nope", ABSENT),
        ("$.properties.name.first", ABSENT),
        ("$.properties.products[5]", ABSENT),
        ("$.properties.address.geo.lat", 48.8),
        ("$.integrations.Actions Amplitude.session_id", 42),
    ],
)
def test_path_fetches_the_value_at_a_path_or_nothing(path, expected):
    assert mapped({"@path": path}) == expected


@pytest.mark.parametrize("root", ["$.", "", "$"])
def test_path_to_the_root_is_the_whole_event(root):
    assert mapped({"@path": root}) is EVENT


@pytest.mark.parametrize(
    ("path_source", "expected"),
    [
        ({"@path": "$.properties.which"}, "Running Shoe"),
        ({"@template": "$.properties.{{properties.currency}}"}, ABSENT),
        ({"@literal": "$.properties.count"}, 3),
        ({"@path": "$.properties.count"}, ABSENT),
        ({"@path": "$.nope"}, ABSENT),
        ({"@literal": "a..b"}, ABSENT),
    ],
)
def test_path_may_come_from_a_directive_and_is_undefined_when_that_is_no_path(
    path_source, expected
):
    assert mapped({"@path": path_source}) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hi {{traits.first_name}}!", "Hi Jane!"),
        ("{{ traits.first_name }}", "Jane"),
        ("{{{properties.name}}}", "Running Shoe"),
        ("{{$.event}}", "Order Completed"),
        ("{{properties.html}} {{{properties.html}}}", "<b>&</b> <b>&</b>"),
        ("{{properties.revenue}}", "25"),
        ("{{properties.ratio}}", "0.5"),
        ("{{properties.big}}", "1e+21"),
        ("{{properties.tiny}}", "1e-7"),
        ("{{properties.ok}}/{{properties.flag}}", "true/false"),
        ("[{{properties.coupon}}]", "[]"),
        ("[{{properties.nope}}]", "[]"),
        ("{{properties.address.geo}}", '{"lat":48.8,"lon":null}'),
        ("{{properties.products[0].tags}}", '["a"]'),
        ("{{properties.products.1.price}}", "15"),
        ("no placeholders", "no placeholders"),
        ("", ""),
        ("{{ unclosed", "{{ unclosed"),
        ("{{a}{{event}}", "{{a}Order Completed"),
    ],
)
def test_template_replaces_placeholders_with_javascript_formatted_values(template, expected):
    assert mapped({"@template": template}) == expected


def test_template_may_come_from_a_directive():
    assert mapped({"@template": {"@literal": "{{event}}!"}}) == "Order Completed!"
    assert mapped({"@template": {"@path": "$.properties.count"}}) is ABSENT
    assert mapped({"@template": {"@literal": "{{a..b}}"}}) is ABSENT


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (True, True),
        (0, 0),
        (None, None),
        ("", ""),
        ({"a": {"@path": "$.event"}, "b": {"@path": "$.nope"}}, {"a": "Order Completed"}),
        ([1, {"@path": "$.nope"}], [1, None]),
    ],
)
def test_literal_resolves_its_value_like_any_raw_value(literal, expected):
    assert mapped({"@literal": literal}) == expected


PRESENT = {"@literal": "present"}


def if_exists(condition, **branches):
    return {"@if": {"exists": condition, **branches}}


def if_not_blank(condition, **branches):
    return {"@if": {"blank": condition, **branches}}


@pytest.mark.parametrize(
    ("value", "exists", "not_blank"),
    [
        ({"@path": "$.nope"}, False, False),
        (None, False, False),
        ("", True, False),
        (0, True, False),
        (0.0, True, False),
        (False, True, False),
        ([], True, False),
        ([None], True, False),
        ([""], True, False),
        ([[]], True, False),
        ("0", True, True),
        (" ", True, True),
        ("false", True, True),
        (1, True, True),
        (-0.5, True, True),
        (True, True, True),
        ({}, True, True),
        ([0], True, True),
        (["", ""], True, True),
    ],
)
def test_if_exists_and_if_blank_choose_their_branch(value, exists, not_blank):
    condition = value if isinstance(value, dict) else {"@literal": value}
    branches = {"then": "then", "else": "else"}
    assert mapped(if_exists(condition, **branches)) == ("then" if exists else "else")
    assert mapped(if_not_blank(condition, **branches)) == ("then" if not_blank else "else")


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (if_exists(PRESENT, then="yes"), "yes"),
        (if_exists(PRESENT, **{"else": "no"}), ABSENT),
        (if_exists({"@path": "$.nope"}, then="yes"), ABSENT),
        (if_exists({"@path": "$.nope"}, **{"else": None}), None),
        (if_exists({"@path": "$.nope"}, **{"else": 0}), 0),
        (if_exists({"@path": "$.nope"}, **{"else": {"@path": "$.nope"}}), ABSENT),
        (if_not_blank({"@path": "$.properties.empty"}, **{"else": "blank"}), "blank"),
        (if_exists(PRESENT, then={"@path": "$.event"}), "Order Completed"),
    ],
)
def test_if_without_the_chosen_branch_is_undefined(mapping, expected):
    assert mapped(mapping) == expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"userId": "u-1", "anonymousId": "a-1"}, "u-1"),
        ({"userId": None, "anonymousId": "a-1"}, "a-1"),
        ({"anonymousId": "a-1"}, "a-1"),
        ({"userId": "", "anonymousId": "a-1"}, ""),
        ({}, ABSENT),
    ],
)
def test_if_exists_falls_back_from_user_id_to_anonymous_id(event, expected):
    user_key = if_exists(
        {"@path": "$.userId"}, then={"@path": "$.userId"}, **{"else": {"@path": "$.anonymousId"}}
    )
    assert mapped(user_key, event) == expected


def test_array_path_without_a_shape_is_the_array_itself():
    assert mapped({"@arrayPath": ["$.properties.products"]}) is EVENT["properties"]["products"]
    assert mapped({"@arrayPath": ["$.properties.products", {}]}) == EVENT["properties"]["products"]
    assert (
        mapped({"@arrayPath": ["$.properties.products", None]}) is EVENT["properties"]["products"]
    )


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (
            ["$.properties.products", {"id": {"@path": "$.product_id"}, "p": {"@path": "price"}}],
            [{"id": "p1", "p": 10.0}, {"id": "p2", "p": 15}],
        ),
        (
            ["$.properties.products", {"id": {"@path": "$.product_id"}, "x": {"@path": "$.extra"}}],
            [{"id": "p1"}, {"id": "p2", "x": None}],
        ),
        (["$.properties.products", {"@path": "$.product_id"}], ["p1", "p2"]),
        (["$.properties.products", {"@path": "$.extra"}], [None, None]),
        (
            ["$.properties.products", {"first_tag": {"@path": "$.tags[0]"}, "event": "X"}],
            [{"first_tag": "a", "event": "X"}, {"event": "X"}],
        ),
        (["$.properties.address", {"town": {"@path": "$.city"}}], [{"town": "Paris"}]),
        (["$.properties.scores", {"v": {"@path": "$."}}], [{"v": 1}, {"v": 2}]),
        (["$.properties.name", {"v": {"@path": "$."}}], "Running Shoe"),
        (["$.properties.coupon", {"v": {"@path": "$."}}], None),
        (["$.nope", {"v": {"@path": "$."}}], ABSENT),
        (
            [
                {
                    "@if": {
                        "exists": {"@path": "$.nope"},
                        "then": [],
                        "else": {"@path": "$.properties.scores"},
                    }
                },
                {"double": {"@path": "$."}},
            ],
            [{"double": 1}, {"double": 2}],
        ),
        (
            ["$.properties.products", {"tags": {"@arrayPath": ["$.tags", {"t": {"@path": "$."}}]}}],
            [{"tags": [{"t": "a"}]}, {}],
        ),
    ],
)
def test_array_path_resolves_each_item_against_the_shape_with_relative_paths(mapping, expected):
    assert mapped({"@arrayPath": mapping}) == expected


MERGE_OBJECTS = [{"cool": True, "hey": "there"}, {"@path": "$.properties.address"}]


@pytest.mark.parametrize(
    ("direction", "objects", "expected"),
    [
        ("right", [], {}),
        ("left", [{"cool": True}], {"cool": True}),
        ("right", [{"cool": True}, {"cool": "you bet"}], {"cool": "you bet"}),
        ("left", [{"cool": True}, {"cool": "you bet"}], {"cool": True}),
        (
            "right",
            MERGE_OBJECTS,
            {
                "cool": True,
                "hey": "there",
                "city": "Paris",
                "zip": None,
                "geo": {"lat": 48.8, "lon": None},
            },
        ),
        (
            "right",
            [{"city": "Lyon"}, {"@path": "$.properties.address"}],
            EVENT["properties"]["address"],
        ),
        (
            "left",
            [{"city": "Lyon"}, {"@path": "$.properties.address"}],
            {**EVENT["properties"]["address"], "city": "Lyon"},
        ),
        ("right", [{"a": 1, "b": 2}, {"a": {"@path": "$.nope"}}], {"b": 2}),
        ("left", [{"a": {"@path": "$.nope"}}, {"a": 1, "b": 2}], {"b": 2}),
        ("left", [{"a": 1, "b": 2}, {"a": {"@path": "$.nope"}}], {"a": 1, "b": 2}),
        ("right", [{"a": 1}, {"@path": "$.nope"}, {"@path": "$.properties.coupon"}], {"a": 1}),
        ("right", [{"a": 1}, {"@path": "$.properties.scores"}], {"a": 1}),
        (
            "right",
            [{"a": 1, "b": 2}, {"@if": {"exists": True, "then": {"a": {"@path": "$.nope"}}}}],
            {"b": 2},
        ),
        (
            "right",
            [
                {"a": 1, "b": 2},
                {"@merge": {"direction": "right", "objects": [{"b": {"@path": "$.nope"}}]}},
            ],
            {"a": 1},
        ),
        ("right", [{"a": {"x": 1}}, {"a": {"y": {"@path": "$.nope"}}}], {"a": {}}),
    ],
)
def test_merge_is_shallow_and_its_direction_decides_which_object_wins(direction, objects, expected):
    assert mapped({"@merge": {"direction": direction, "objects": objects}}) == expected


def test_merge_left_orders_keys_as_segment_does():
    merged = mapped({"@merge": {"direction": "left", "objects": [{"a": 1}, {"b": 2}]}})
    assert list(merged) == ["b", "a"]


def test_merge_does_not_modify_the_event():
    mapped(
        {
            "@merge": {
                "direction": "right",
                "objects": [{"@path": "$.properties.address"}, {"city": "X"}],
            }
        }
    )
    assert EVENT["properties"]["address"]["city"] == "Paris"


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        (
            {"apply": {"foo": {"@path": "$.event"}}, "mapping": {"cool": {"@path": "$.foo"}}},
            {"cool": "Order Completed"},
        ),
        ({"apply": {"foo": {"@path": "$.nope"}}, "mapping": {"cool": {"@path": "$.foo"}}}, {}),
        (
            {
                "apply": {
                    "properties": {
                        "@flatten": {"value": {"@path": "$.properties.address"}, "separator": "_"}
                    }
                },
                "mapping": {
                    "city": {"@path": "$.properties.city"},
                    "lat": {"@path": "$.properties.geo_lat"},
                },
            },
            {"city": "Paris", "lat": 48.8},
        ),
        (
            {
                "apply": {
                    "@merge": {
                        "direction": "right",
                        "objects": [{"@path": "$.properties.address"}, {"zip": "75001"}],
                    }
                },
                "mapping": {"@path": "$.zip"},
            },
            "75001",
        ),
        ({"apply": {"@path": "$.nope"}, "mapping": {"all": {"@path": "$."}}}, {}),
    ],
)
def test_transform_resolves_the_mapping_against_the_applied_result(transform, expected):
    assert mapped({"@transform": transform}) == expected
