"""Paths into JSON values, shared by the trigger and the mapping engines.

A path is a tuple of steps. Each step names an object key and, when that key is a
non-negative integer, an array index too: like JavaScript, we make no difference between
``items.0`` and ``items[0]``. Looking a path up never raises; a step that does not lead
anywhere yields ``UNDEFINED``, which is distinct from a JSON ``null`` (``None``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

__all__ = [
    "UNDEFINED",
    "Getter",
    "PathSyntaxError",
    "Step",
    "build_getter",
    "make_step",
    "parse_path",
]

# Longer keys are never array indexes, and int() refuses very long digit strings.
_MAX_INDEX_DIGITS: Final = 18


class _Undefined:
    """The type of ``UNDEFINED``: a value that is missing, as opposed to ``null``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = _Undefined()

Step = tuple[str, int | None]
Getter = Callable[[Any], Any]


class PathSyntaxError(ValueError):
    """A path string that does not follow the path grammar."""


def make_step(key: str) -> Step:
    """Return the step for ``key``, with its array index when the key is one."""
    is_index = key.isascii() and key.isdigit() and len(key) <= _MAX_INDEX_DIGITS
    return key, int(key) if is_index else None


def _identity(value: Any) -> Any:
    return value


def build_getter(steps: tuple[Step, ...]) -> Getter:
    """Return a function that looks ``steps`` up in a value, or returns ``UNDEFINED``."""
    if not steps:
        return _identity
    if len(steps) == 1 and steps[0][1] is None:
        return _key_getter(steps[0][0])
    if len(steps) == 2 and steps[0][1] is None and steps[1][1] is None:
        return _two_key_getter(steps[0][0], steps[1][0])
    return _walking_getter(steps)


def _key_getter(key: str) -> Getter:
    def get_key(value: Any) -> Any:
        if isinstance(value, dict):
            return value.get(key, UNDEFINED)
        return UNDEFINED

    return get_key


def _two_key_getter(outer: str, inner: str) -> Getter:
    def get_two_keys(value: Any) -> Any:
        if isinstance(value, dict):
            parent = value.get(outer)
            if isinstance(parent, dict):
                return parent.get(inner, UNDEFINED)
        return UNDEFINED

    return get_two_keys


def _walking_getter(steps: tuple[Step, ...]) -> Getter:
    def walk(value: Any) -> Any:
        for key, index in steps:
            if isinstance(value, dict):
                value = value.get(key, UNDEFINED)
            elif isinstance(value, list) and index is not None and index < len(value):
                value = value[index]
            else:
                return UNDEFINED
        return value

    return walk


_ROOTS: Final = frozenset({"", "$", "$.", "."})
_SEGMENT: Final = re.compile(r"(?P<key>[^.\[\]]+)(?P<indexes>(?:\[[0-9]+\])*)")
_INDEX: Final = re.compile(r"\[([0-9]+)\]")


def parse_path(text: str) -> tuple[Step, ...]:
    """Parse ``$.a.b[0]`` (the ``$.`` is optional; ``$.`` alone is the root).

    Keys may hold any character but ``.``, ``[`` and ``]`` (spaces included, as in
    ``$.integrations.Actions Amplitude``). Raises ``PathSyntaxError`` naming the problem.
    """
    if text in _ROOTS:
        return ()
    body = text[2:] if text.startswith("$.") else text
    steps: list[Step] = []
    offset = len(text) - len(body)
    for segment in body.split("."):
        steps.extend(_parse_segment(text, segment, offset))
        offset += len(segment) + 1
    return tuple(steps)


def _parse_segment(text: str, segment: str, offset: int) -> list[Step]:
    match = _SEGMENT.fullmatch(segment)
    if match is None:
        raise PathSyntaxError(f"invalid path {text!r}: {_segment_problem(segment)} at {offset}")
    steps = [make_step(match["key"])]
    for index in _INDEX.findall(match["indexes"]):
        if len(index) > _MAX_INDEX_DIGITS:
            raise PathSyntaxError(f"invalid path {text!r}: index {index} is too large")
        steps.append((index, int(index)))
    return steps


def _segment_problem(segment: str) -> str:
    if not segment:
        return "empty key"
    if segment.startswith("["):
        return "an [index] must follow a key"
    return "brackets must hold an array index like [0]"
