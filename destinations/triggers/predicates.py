"""The tests a trigger condition applies to the value it finds in an event.

Every test takes the value found (``UNDEFINED`` when the field is missing) and returns a
bool. Comparisons are strict: a string never equals a number, booleans are not numbers,
and ordering operators only ever hold for numbers.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Final

from destinations.mapping import UNDEFINED

__all__ = ["Operand", "Predicate", "comparison_test", "function_test"]

Predicate = Callable[[Any], bool]
Operand = str | int | float | bool | None

_NUMBER_TYPES: Final = (int, float)
_ORDERINGS: Final = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def comparison_test(operator_text: str, operand: Operand) -> Predicate:
    """Return the test of ``field <operator_text> <operand>``."""
    if operator_text in _ORDERINGS:
        return _ordering_test(_ORDERINGS[operator_text], operand)
    equals = _equality_test(operand)
    if operator_text == "=":
        return equals
    # "!=" is the exact negation of "=", so it holds when the field is missing.
    return lambda value: not equals(value)


def _equality_test(operand: Operand) -> Predicate:
    if operand is None:
        return lambda value: value is None or value is UNDEFINED
    if isinstance(operand, bool):
        return lambda value: value is operand
    if isinstance(operand, str):
        # Only a str can equal a str in Python, so no type check is needed.
        return lambda value: value == operand
    return lambda value: type(value) in _NUMBER_TYPES and value == operand


def _ordering_test(compare: Callable[[Any, Any], bool], operand: Operand) -> Predicate:
    return lambda value: type(value) in _NUMBER_TYPES and compare(value, operand)


def function_test(name: str, negated: bool, argument: str) -> Predicate:
    """Return the test of ``contains(field, argument)`` or ``match(field, argument)``.

    Both only hold for string values, negated or not: ``!contains`` means "is a string
    that does not contain".
    """
    holds = _substring_matcher(argument) if name == "contains" else wildcard_matcher(argument)
    if negated:
        return lambda value: isinstance(value, str) and not holds(value)
    return lambda value: isinstance(value, str) and holds(value)


def wildcard_matcher(pattern: str) -> Callable[[str], bool]:
    """Return a matcher of ``pattern`` where ``*`` is any run of characters.

    The match is anchored at both ends. Middle parts are placed leftmost and greedily,
    which is exact for a ``*``-only pattern and linear in the string, so no pattern can
    make matching slow (a regular expression could backtrack badly).
    """
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern.__eq__
    head, *middle, tail = parts
    if not middle:
        return _prefix_suffix_matcher(head, tail)
    if not head and not tail and len(middle) == 1:
        return _substring_matcher(middle[0])
    minimum_length = len(head) + len(tail) + sum(len(part) for part in middle)

    def matches(text: str) -> bool:
        if len(text) < minimum_length or not text.startswith(head) or not text.endswith(tail):
            return False
        position, end = len(head), len(text) - len(tail)
        for part in middle:
            found = text.find(part, position, end)
            if found < 0:
                return False
            position = found + len(part)
        return True

    return matches


def _prefix_suffix_matcher(head: str, tail: str) -> Callable[[str], bool]:
    if not tail:
        return lambda text: text.startswith(head)
    if not head:
        return lambda text: text.endswith(tail)
    minimum_length = len(head) + len(tail)
    return lambda text: (
        len(text) >= minimum_length and text.startswith(head) and text.endswith(tail)
    )


def _substring_matcher(needle: str) -> Callable[[str], bool]:
    return lambda text: needle in text
