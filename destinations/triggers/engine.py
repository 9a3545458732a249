"""Triggers: which events a mapping receives (docs/trigger-language.md).

A trigger is a one-line condition over a Segment event, written in Segment's
subscription syntax (FQL), so triggers can be pasted from Segment::

    type = "track" and event != "Page Viewed" and (properties.revenue > 0 or
        contains(context.page.path, "/checkout"))

Fields
    ``type``, ``event``, ``name``, ``userId``, ``anonymousId`` and paths into
    ``properties``, ``traits`` and ``context`` such as ``properties.items[0].sku``. Any
    other top-level field of the event works the same way (``messageId``, ``groupId``,
    ``previousId``, ``channel``, ``integrations.Librato.source``...). Paths use dots and
    ``[n]`` array indexes; ``items.0`` is the same as ``items[0]``. A key holding other
    characters than letters, digits, ``_``, ``-`` and ``$`` escapes each of them with a
    backslash, as Segment writes them: ``properties.product\\ name``. Each path is read
    from the event as it is: ``properties.x`` reads ``properties``, ``traits.x`` reads
    ``traits``, whatever the event type.

Values
    Strings in double quotes, with ``\\"`` and ``\\\\`` as the only escapes; JSON numbers
    (``-1``, ``2.5``, ``1e3``); ``true``, ``false`` and ``null``.

Conditions (comparisons are strict: the number 100 is not the string "100", and
booleans are not numbers)
    ``f = "x"``        f is the string x
    ``f = 5``          f is a number equal to 5
    ``f = true``       f is the boolean true (likewise ``false``)
    ``f = null``       f is missing or null
    ``f != v``         exactly ``not (f = v)``: true when f is missing, null or another
                       type; ``f != null`` therefore means "f exists and is not null"
    ``f < 5``          f is a number less than 5 (also ``<=``, ``>``, ``>=``); a string
                       never matches an ordering, even "3"
    ``contains(f, "x")``   f is a string containing x; ``!contains`` is a string that
                           does not contain x (so it is false when f is missing)
    ``match(f, "x*")``     f is a string matching the pattern, where ``*`` is any run
                           of characters and the match spans the whole string:
                           ``"x*"`` starts with, ``"*x"`` ends with, ``"*x*"`` contains,
                           ``"a*b"`` both; ``!match`` is a string that does not match.
                           A ``*`` is always a wildcard.

Combinators
    ``and`` binds tighter than ``or``; parentheses group, up to 100 levels deep;
    ``not ( ... )`` negates a group. Whitespace between tokens is optional.

API
    ``parse(text)`` returns a ``Trigger``. An empty or blank trigger matches nothing;
    any other malformed one raises ``TriggerSyntaxError``, whose ``offset`` is the
    0-based position of the problem: ``expected a quoted string after '=' at 14``.
    ``matches(trigger, event)`` takes the text or a ``Trigger`` (text is parsed, and may
    raise the same error); an event that is not an object matches nothing.
    ``explain(trigger, event)`` lists, for each leaf condition in source order, a
    ``ConditionResult``: its exact source text and offset, the field, whether the field
    was found (a missing field is not a null one), the value found, and whether the
    condition held; ``to_dict()`` makes it JSON for the admin.

Parsed triggers are cached by text, and are compiled into nested closures, so one
evaluation costs a few microseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from destinations.mapping import UNDEFINED

from .lexer import TriggerSyntaxError
from .parser import AllOf, Condition, Negation, Node, parse_tree

__all__ = ["ConditionResult", "Trigger", "TriggerSyntaxError", "explain", "matches", "parse"]

_EventTest = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class ConditionResult:
    """How one leaf condition of a trigger fared against one event.

    ``found`` is False when the field is missing from the event; ``value`` is then None,
    as it is when the field holds null.
    """

    source: str
    start: int
    field: str
    found: bool
    value: Any
    held: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "start": self.start,
            "field": self.field,
            "found": self.found,
            "value": self.value,
            "held": self.held,
        }


class Trigger:
    """A parsed trigger; build one with ``parse``."""

    __slots__ = ("_conditions", "_test", "source")

    def __init__(self, source: str, tree: Node | None) -> None:
        self.source = source
        self._conditions = tuple(_leaves(tree)) if tree is not None else ()
        self._test = _compile(tree) if tree is not None else _never

    def __repr__(self) -> str:
        return f"Trigger({self.source!r})"

    def matches(self, event: dict[str, Any]) -> bool:
        """Whether the event satisfies the trigger (never, when it is not an object)."""
        return isinstance(event, dict) and self._test(event)

    def explain(self, event: dict[str, Any]) -> list[ConditionResult]:
        """Evaluate every leaf condition, in source order, without short-circuiting.

        As nothing matches an event that is not an object, no condition holds on one.
        """
        return [_explain_condition(condition, event) for condition in self._conditions]


@lru_cache(maxsize=4096)
def parse(text: str) -> Trigger:
    """Parse a trigger; raise ``TriggerSyntaxError`` when it is malformed.

    A blank trigger parses into one that matches nothing.
    """
    if not text.strip():
        return Trigger(text, None)
    return Trigger(text, parse_tree(text))


def matches(trigger: str | Trigger, event: dict[str, Any]) -> bool:
    """Whether ``event`` satisfies ``trigger`` (its text or a parsed ``Trigger``)."""
    return _as_trigger(trigger).matches(event)


def explain(trigger: str | Trigger, event: dict[str, Any]) -> list[ConditionResult]:
    """Say, for each leaf condition in source order, what it found and whether it held."""
    return _as_trigger(trigger).explain(event)


def _as_trigger(trigger: str | Trigger) -> Trigger:
    return parse(trigger) if isinstance(trigger, str) else trigger


def _never(event: dict[str, Any]) -> bool:
    return False


def _leaves(node: Node) -> Iterator[Condition]:
    if isinstance(node, Condition):
        yield node
    elif isinstance(node, Negation):
        yield from _leaves(node.part)
    else:
        for part in node.parts:
            yield from _leaves(part)


def _explain_condition(condition: Condition, event: dict[str, Any]) -> ConditionResult:
    value = condition.lookup(event)
    found = value is not UNDEFINED
    return ConditionResult(
        source=condition.source,
        start=condition.start,
        field=condition.field,
        found=found,
        value=value if found else None,
        held=isinstance(event, dict) and condition.test(value),
    )


def _compile(node: Node) -> _EventTest:
    """Turn the syntax tree into nested closures, which evaluate faster than a tree walk."""
    if isinstance(node, Condition):
        lookup, test = node.lookup, node.test
        return lambda event: test(lookup(event))
    if isinstance(node, Negation):
        negated = _compile(node.part)
        return lambda event: not negated(event)
    parts = tuple(_compile(part) for part in node.parts)
    if isinstance(node, AllOf):
        return _all_hold(parts)
    return _any_holds(parts)


def _all_hold(parts: tuple[_EventTest, ...]) -> _EventTest:
    if len(parts) == 2:
        first, second = parts
        return lambda event: first(event) and second(event)

    # A plain loop: all() over a generator would build a generator per evaluation.
    def all_hold(event: dict[str, Any]) -> bool:
        for part in parts:  # noqa: SIM110
            if not part(event):
                return False
        return True

    return all_hold


def _any_holds(parts: tuple[_EventTest, ...]) -> _EventTest:
    if len(parts) == 2:
        first, second = parts
        return lambda event: first(event) or second(event)

    def any_holds(event: dict[str, Any]) -> bool:
        for part in parts:  # noqa: SIM110
            if part(event):
                return True
        return False

    return any_holds
