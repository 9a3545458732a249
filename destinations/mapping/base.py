"""Types and option checks shared by the mapping compiler and its directives.

A mapping compiles into a tree of resolvers: functions from the payload (the event, or
an item of an array under ``@arrayPath``) to a value, ``UNDEFINED`` meaning "no value,
drop the key". Compiling is validating: every check happens once, at compile time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Protocol

from .js import json_type
from .paths import UNDEFINED

__all__ = [
    "Compiler",
    "DirectiveCompiler",
    "MappingError",
    "Resolver",
    "constant",
    "expect_bool",
    "expect_choice",
    "expect_object_or_directive",
    "expect_string",
    "expect_string_or_directive",
    "is_directive",
    "node_type",
    "read_options",
    "resolve_undefined",
]

Resolver = Callable[[Any], Any]


class MappingError(ValueError):
    """A mapping problem; ``path`` is the JSON path of the culprit, e.g. ``fields.a.@if``."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class Compiler(Protocol):
    """Compiles a mapping value found at ``where`` into a resolver.

    With ``keep_holes``, an object built by the mapping keeps its undefined members
    (``@merge`` needs them: in Segment, a later undefined member removes a key).
    """

    def __call__(self, node: Any, where: str, *, keep_holes: bool = False) -> Resolver: ...


DirectiveCompiler = Callable[[Any, str, Compiler, bool], Resolver]


def is_directive(node: Any) -> bool:
    """Whether a mapping value is a directive: an object with an ``@``-prefixed key."""
    return isinstance(node, dict) and any(
        isinstance(key, str) and key.startswith("@") for key in node
    )


def node_type(node: Any) -> str:
    """Name a mapping value's type for an error message: a JSON type, or "directive"."""
    return "directive" if is_directive(node) else json_type(node)


def resolve_undefined(payload: Any) -> Any:
    return UNDEFINED


def constant(value: Any) -> Resolver:
    """A resolver of an immutable JSON scalar."""
    return lambda payload: value


def read_options(
    options: Any, where: str, *, required: Collection[str], optional: Collection[str] = ()
) -> dict[str, Any]:
    """Check a directive's options object: no unknown key, no missing required key."""
    if not isinstance(options, dict) or is_directive(options):
        keys = ", ".join(repr(key) for key in (*required, *optional))
        raise MappingError(where, f"expected an object with the keys {keys}")
    for key in options:
        if key not in required and key not in optional:
            raise MappingError(where, f"unknown key {key!r}")
    for key in required:
        if key not in options:
            raise MappingError(where, f"missing key {key!r}")
    return options


def expect_string(value: Any, where: str, *, non_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise MappingError(where, f"expected a string, got {node_type(value)}")
    if non_empty and not value:
        raise MappingError(where, "must not be empty")
    return value


def expect_choice(value: Any, where: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        allowed = " or ".join(repr(choice) for choice in choices)
        raise MappingError(where, f"expected {allowed}, got {value!r}")
    return value


def expect_bool(options: dict[str, Any], key: str, where: str, *, default: bool) -> bool:
    """Read an optional boolean option; null means the default, as in Segment."""
    value = options.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise MappingError(f"{where}.{key}", f"expected true or false, got {node_type(value)}")
    return value


def expect_string_or_directive(value: Any, where: str) -> None:
    if not isinstance(value, str) and not is_directive(value):
        raise MappingError(where, f"expected a string or a directive, got {node_type(value)}")


def expect_object_or_directive(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise MappingError(where, f"expected an object or a directive, got {node_type(value)}")
