"""Explaining triggers: why an event did or did not match, condition by condition."""

import dataclasses
import json

import pytest

from destinations import triggers
from destinations.triggers import ConditionResult

TRIGGER = (
    'type = "track" and event != "Page Viewed" and '
    '(properties.revenue > 0 or contains(context.page.path, "/checkout"))'
)


def test_explain_lists_every_leaf_condition_in_source_order_with_its_exact_text():
    event = {"type": "track", "event": "Tap", "properties": {"revenue": None}}
    results = triggers.explain(TRIGGER, event)
    assert [result.source for result in results] == [
        'type = "track"',
        'event != "Page Viewed"',
        "properties.revenue > 0",
        'contains(context.page.path, "/checkout")',
    ]
    for result in results:
        assert TRIGGER[result.start : result.start + len(result.source)] == result.source


def test_explain_reports_the_value_found_and_whether_each_condition_held():
    event = {"type": "track", "event": "Tap", "properties": {"revenue": None}}
    assert [result.to_dict() for result in triggers.explain(TRIGGER, event)] == [
        {
            "source": 'type = "track"',
            "start": 0,
            "field": "type",
            "found": True,
            "value": "track",
            "held": True,
        },
        {
            "source": 'event != "Page Viewed"',
            "start": 19,
            "field": "event",
            "found": True,
            "value": "Tap",
            "held": True,
        },
        {
            "source": "properties.revenue > 0",
            "start": 47,
            "field": "properties.revenue",
            "found": True,
            "value": None,
            "held": False,
        },
        {
            "source": 'contains(context.page.path, "/checkout")',
            "start": 73,
            "field": "context.page.path",
            "found": False,
            "value": None,
            "held": False,
        },
    ]


def test_explain_tells_a_missing_field_from_a_null_one():
    trigger = "properties.a = null and properties.b = null"
    missing, null = triggers.explain(trigger, {"properties": {"b": None}})
    assert (missing.found, missing.value, missing.held) == (False, None, True)
    assert (null.found, null.value, null.held) == (True, None, True)


def test_explain_evaluates_every_condition_even_after_the_outcome_is_known():
    results = triggers.explain('type = "page" and event = "A"', {"type": "track", "event": "A"})
    assert [result.held for result in results] == [False, True]


def test_explain_reports_leaves_under_a_negation_as_they_are_not_negated():
    [result] = triggers.explain('not (type = "track")', {"type": "track"})
    assert result.held is True
    assert triggers.matches('not (type = "track")', {"type": "track"}) is False


def test_explain_keeps_the_original_spelling_of_escaped_fields_and_negated_functions():
    trigger = '!match(properties.product\\ name, "Sh*")'
    [result] = triggers.explain(trigger, {"properties": {"product name": "Boot"}})
    assert result.source == trigger
    assert result.field == "properties.product\\ name"
    assert (result.found, result.value, result.held) == (True, "Boot", True)


@pytest.mark.parametrize("event", [None, [], "track"])
def test_explain_of_a_non_object_event_finds_nothing_and_nothing_holds(event):
    results = triggers.explain('type = "track" or type != "track" or type = null', event)
    assert [(result.found, result.held) for result in results] == [(False, False)] * 3


def test_explain_with_an_empty_trigger_is_empty():
    assert triggers.explain("", {"type": "track"}) == []


def test_condition_results_are_frozen_and_serialise_to_json():
    [result] = triggers.explain("properties.tags != null", {"properties": {"tags": ["a", 1]}})
    assert isinstance(result, ConditionResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.held = False  # type: ignore[misc]
    assert json.loads(json.dumps(result.to_dict()))["value"] == ["a", 1]
