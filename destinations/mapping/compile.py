"""Compile a mapping (raw JSON values and directives) into a resolver, validating it."""

from __future__ import annotations

import math
import re
from typing import Any, Final

from .base import (
    DirectiveCompiler,
    MappingError,
    Resolver,
    constant,
    is_directive,
    node_type,
)
from .directives import STRUCTURAL_DIRECTIVES
from .paths import UNDEFINED
from .transforms import TRANSFORM_DIRECTIVES

__all__ = ["compile_fields"]

DIRECTIVES: Final[dict[str, DirectiveCompiler]] = {
    **STRUCTURAL_DIRECTIVES,
    **TRANSFORM_DIRECTIVES,
}
_DIRECTIVE_NAME: Final = re.compile(r"@[a-z][a-zA-Z0-9]+")
_SCALARS: Final = (str, bool, int, float)


def compile_fields(fields: Any) -> Resolver:
    """Compile an action's field mapping, which must be an object of field mappings."""
    if not isinstance(fields, dict) or is_directive(fields):
        raise MappingError(
            "fields", f"expected an object of field mappings, got {node_type(fields)}"
        )
    return compile_node(fields, "fields")


def compile_node(node: Any, where: str, *, keep_holes: bool = False) -> Resolver:
    """Compile any mapping value; ``where`` is its JSON path, for error messages."""
    if isinstance(node, dict):
        if is_directive(node):
            return _compile_directive(node, where, keep_holes)
        return _compile_object(node, where, keep_holes)
    if isinstance(node, list):
        return _compile_array(node, where)
    if node is not None and not isinstance(node, _SCALARS):
        raise MappingError(where, f"a {type(node).__name__} is not a JSON value")
    if isinstance(node, float) and not math.isfinite(node):
        raise MappingError(where, f"{node} is not a JSON number")
    return constant(node)


def _compile_directive(node: dict[str, Any], where: str, keep_holes: bool) -> Resolver:
    names = [key for key in node if isinstance(key, str) and key.startswith("@")]
    if len(names) > 1:
        raise MappingError(where, f"a directive has one @-key, found {', '.join(names)}")
    name = names[0]
    siblings = [key for key in node if key not in (name, "_metadata")]
    if siblings:
        raise MappingError(
            where, f"unexpected key {siblings[0]!r} beside {name} (only _metadata may be there)"
        )
    if not _DIRECTIVE_NAME.fullmatch(name):
        raise MappingError(where, f"{name!r} is not a valid directive name")
    directive = DIRECTIVES.get(name)
    if directive is None:
        raise MappingError(where, f"unknown directive {name!r}")
    return directive(node[name], f"{where}.{name}", compile_node, keep_holes)


def _compile_object(node: dict[Any, Any], where: str, keep_holes: bool) -> Resolver:
    members: list[tuple[str, Resolver]] = []
    for key, value in node.items():
        if not isinstance(key, str):
            raise MappingError(where, f"object keys must be strings, found {key!r}")
        members.append((key, compile_node(value, f"{where}.{key}")))
    items = tuple(members)
    if keep_holes:
        return lambda payload: {key: resolve(payload) for key, resolve in items}

    def resolve_object(payload: Any) -> dict[str, Any]:
        resolved = {}
        for key, resolve in items:
            value = resolve(payload)
            if value is not UNDEFINED:
                resolved[key] = value
        return resolved

    return resolve_object


def _compile_array(node: list[Any], where: str) -> Resolver:
    items = tuple(compile_node(item, f"{where}[{index}]") for index, item in enumerate(node))
    # Like JSON.stringify, an undefined item becomes null rather than vanishing.
    return lambda payload: [
        None if (value := resolve(payload)) is UNDEFINED else value for resolve in items
    ]
