"""Directives that fetch and arrange data: @path, @template, @literal, @if, @arrayPath,
@merge and @transform. ``destinations.mapping`` documents what each one does.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Final

from .base import (
    Compiler,
    DirectiveCompiler,
    MappingError,
    Resolver,
    expect_choice,
    expect_object_or_directive,
    expect_string_or_directive,
    is_directive,
    node_type,
    read_options,
    resolve_undefined,
)
from .js import is_blank, js_text
from .paths import (
    UNDEFINED,
    Getter,
    PathSyntaxError,
    build_getter,
    parse_path,
)

__all__ = ["STRUCTURAL_DIRECTIVES"]


def compile_path(options: Any, where: str, compile_node: Compiler, keep_holes: bool) -> Resolver:
    if isinstance(options, str):
        return _static_getter(options, where)
    if not is_directive(options):
        raise MappingError(
            where,
            f"expected a path such as '$.properties.name' or a directive giving one, "
            f"got {node_type(options)}",
        )
    path_resolver = compile_node(options, where)

    def resolve_dynamic_path(payload: Any) -> Any:
        getter = _dynamic_getter(path_resolver(payload))
        return UNDEFINED if getter is None else getter(payload)

    return resolve_dynamic_path


@lru_cache(maxsize=4096)
def _getter(path: str) -> Getter:
    """The getter of a path string; raises ``PathSyntaxError`` (which is not cached)."""
    return build_getter(parse_path(path))


def _static_getter(path: str, where: str) -> Getter:
    try:
        return _getter(path)
    except PathSyntaxError as error:
        raise MappingError(where, str(error)) from None


def _dynamic_getter(path: Any) -> Getter | None:
    """The getter of a path computed from the event; None when it is not a valid path."""
    if not isinstance(path, str):
        return None
    try:
        return _getter(path)
    except PathSyntaxError:
        return None


_PLACEHOLDER: Final = re.compile(r"\{\{\{([^}]+)\}\}\}|\{\{([^}]+)\}\}")


@lru_cache(maxsize=1024)
def _template_renderer(template: str) -> Resolver:
    """Compile ``Hi {{traits.name}}`` into a resolver; raise ``PathSyntaxError``."""
    pieces: list[str | Getter] = []
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        pieces.append(template[last : match.start()])
        path = (match[1] or match[2]).strip()
        if not path:
            raise PathSyntaxError(f"empty placeholder {match.group()!r}")
        pieces.append(_getter(path))
        last = match.end()
    pieces.append(template[last:])
    parts = tuple(piece for piece in pieces if piece != "")
    if all(isinstance(part, str) for part in parts):
        text = "".join(part for part in parts if isinstance(part, str))
        return lambda payload: text

    def render_template(payload: Any) -> str:
        return "".join(
            [part if isinstance(part, str) else js_text(part(payload)) for part in parts]
        )

    return render_template


def compile_template(
    options: Any, where: str, compile_node: Compiler, keep_holes: bool
) -> Resolver:
    expect_string_or_directive(options, where)
    if isinstance(options, str):
        try:
            return _template_renderer(options)
        except PathSyntaxError as error:
            raise MappingError(where, str(error)) from None
    template_resolver = compile_node(options, where)

    def resolve_dynamic_template(payload: Any) -> Any:
        template = template_resolver(payload)
        if not isinstance(template, str):
            return UNDEFINED
        try:
            return _template_renderer(template)(payload)
        except PathSyntaxError:
            return UNDEFINED

    return resolve_dynamic_template


def compile_literal(options: Any, where: str, compile_node: Compiler, keep_holes: bool) -> Resolver:
    return compile_node(options, where, keep_holes=keep_holes)


def compile_if(options: Any, where: str, compile_node: Compiler, keep_holes: bool) -> Resolver:
    read_options(options, where, required=(), optional=("exists", "blank", "then", "else"))
    if ("exists" in options) == ("blank" in options):
        raise MappingError(where, "expected exactly one of the keys 'exists' and 'blank'")
    if "then" not in options and "else" not in options:
        raise MappingError(where, "expected a 'then' or an 'else' key")
    condition_key = "exists" if "exists" in options else "blank"
    condition = compile_node(options[condition_key], f"{where}.{condition_key}")
    holds = _exists if condition_key == "exists" else _not_blank
    otherwise = _branch(options, "else", where, compile_node, keep_holes)
    if _same_static_path(options[condition_key], options.get("then")):
        # "X if X exists": the condition's value is the answer, no need to look it up twice.
        return lambda payload: value if holds(value := condition(payload)) else otherwise(payload)
    then = _branch(options, "then", where, compile_node, keep_holes)
    return lambda payload: then(payload) if holds(condition(payload)) else otherwise(payload)


def _branch(
    options: dict[str, Any], key: str, where: str, compile_node: Compiler, keep_holes: bool
) -> Resolver:
    if key not in options:
        return resolve_undefined
    return compile_node(options[key], f"{where}.{key}", keep_holes=keep_holes)


def _exists(value: Any) -> bool:
    return value is not UNDEFINED and value is not None


def _not_blank(value: Any) -> bool:
    return not is_blank(value)


def _same_static_path(condition: Any, then: Any) -> bool:
    return (
        isinstance(condition, dict)
        and isinstance(then, dict)
        and condition.keys() == then.keys() == {"@path"}
        and isinstance(condition["@path"], str)
        and condition["@path"] == then["@path"]
    )


def compile_array_path(
    options: Any, where: str, compile_node: Compiler, keep_holes: bool
) -> Resolver:
    if not isinstance(options, list) or len(options) not in (1, 2):
        raise MappingError(where, "expected [path] or [path, item shape]")
    root = _array_root(options[0], f"{where}[0]", compile_node)
    shape = options[1] if len(options) == 2 else None
    if shape is None:
        return root
    expect_object_or_directive(shape, f"{where}[1]")
    if not shape:
        return root
    resolve_item = compile_node(shape, f"{where}[1]")

    def resolve_items(payload: Any) -> Any:
        found = root(payload)
        if isinstance(found, dict):
            found = [found]
        elif not isinstance(found, list):
            return found
        return [None if (item := resolve_item(entry)) is UNDEFINED else item for entry in found]

    return resolve_items


def _array_root(path: Any, where: str, compile_node: Compiler) -> Resolver:
    """A path string is looked up; a directive's value is the root itself, as in Segment."""
    expect_string_or_directive(path, where)
    if isinstance(path, str):
        return _static_getter(path, where)
    return compile_node(path, where)


def compile_merge(options: Any, where: str, compile_node: Compiler, keep_holes: bool) -> Resolver:
    read_options(options, where, required=("objects", "direction"))
    direction = expect_choice(options["direction"], f"{where}.direction", ("left", "right"))
    objects = options["objects"]
    if not isinstance(objects, list):
        raise MappingError(f"{where}.objects", "expected an array of objects or directives")
    resolvers = []
    for index, entry in enumerate(objects):
        expect_object_or_directive(entry, f"{where}.objects[{index}]")
        resolvers.append(compile_node(entry, f"{where}.objects[{index}]", keep_holes=True))
    # Segment reverses the list for "left", then lets later objects win.
    ordered = tuple(reversed(resolvers) if direction == "left" else resolvers)

    def resolve_merge(payload: Any) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for resolve in ordered:
            value = resolve(payload)
            if isinstance(value, dict):
                merged.update(value)
        if keep_holes:
            return merged
        return {key: value for key, value in merged.items() if value is not UNDEFINED}

    return resolve_merge


def compile_transform(
    options: Any, where: str, compile_node: Compiler, keep_holes: bool
) -> Resolver:
    read_options(options, where, required=("apply", "mapping"))
    expect_object_or_directive(options["apply"], f"{where}.apply")
    expect_object_or_directive(options["mapping"], f"{where}.mapping")
    apply = compile_node(options["apply"], f"{where}.apply")
    mapping = compile_node(options["mapping"], f"{where}.mapping", keep_holes=keep_holes)
    return lambda payload: mapping(apply(payload))


STRUCTURAL_DIRECTIVES: Final[dict[str, DirectiveCompiler]] = {
    "@path": compile_path,
    "@template": compile_template,
    "@literal": compile_literal,
    "@if": compile_if,
    "@arrayPath": compile_array_path,
    "@merge": compile_merge,
    "@transform": compile_transform,
}
