"""The harness of the preset tests (docs/destinations.md, "Wire formats"): the registry's
triggers and default mappings, read the way the catalog reads them, and the check that a
mapping makes exactly the payload docs/destinations.md names.

test_presets.py checks that the tables name exactly what the registry holds; the
test_presets_<family>.py modules hold the renderings, one family of kinds each.
"""

from typing import Any

import pytest

from destinations import mapping
from destinations.delivery.payloads import prepare
from destinations.integrations import REGISTRY

# Every sample event carries this moment, which each action writes in its own format.
ISO_TIME = "2026-03-01T12:00:00.000Z"
EPOCH_MILLISECONDS = 1_772_366_400_000
EPOCH_SECONDS = 1_772_366_400


def preset_triggers() -> dict[tuple[str, str], str]:
    return {
        (key, preset.name): preset.trigger
        for key, kind in REGISTRY.items()
        for preset in kind.presets
    }


def default_triggers() -> dict[tuple[str, str], str]:
    return {
        (key, action.key): action.default_trigger
        for key, kind in REGISTRY.items()
        for action in kind.actions
    }


def default_mappings() -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(kind key, preset name) -> (action key, fields) for every preset, plus
    (kind key, action title) -> (action key, default fields) for every action no preset uses."""
    found = {}
    for key, kind in REGISTRY.items():
        for preset in kind.presets:
            action = kind.action(preset.action)
            fields = preset.fields if preset.fields is not None else action.default_fields()
            found[key, preset.name] = (action.key, fields)
        used = {preset.action for preset in kind.presets}
        for action in kind.actions:
            if action.key not in used:
                found[key, action.title] = (action.key, action.default_fields())
    return found


DEFAULT_MAPPINGS = default_mappings()


def without(event: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in keys}


def rendering(
    kind: str,
    name: str,
    event: dict[str, Any],
    expected: dict[str, Any],
    case: str = "a typical event",
    added: dict[str, Any] | None = None,
):
    """One row: the registry mapping `name` of `kind` (plus `added` fields, which a person
    must add before saving) turns `event` into exactly `expected`."""
    return pytest.param(kind, name, added or {}, event, expected, id=f"{kind}: {name}: {case}")


def assert_makes(kind: str, name: str, added: dict[str, Any], event: dict, expected: dict):
    """The registry mapping `name` of `kind` validates and turns `event` into `expected`."""
    action_key, fields = DEFAULT_MAPPINGS[kind, name]
    mapping.validate(fields)
    payload = prepare(REGISTRY[kind].action(action_key), fields | added, event)
    assert payload == expected
    # Payloads keep the action's field order, and some are sent as they are.
    assert list(payload) == list(expected)
