"""Directives that transform a value: @case, @replace, @flatten, @json, @excludeWhenNull,
@hash and @liquid. ``destinations.mapping`` documents what each one does.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

import orjson

from .base import (
    Compiler,
    DirectiveCompiler,
    MappingError,
    Resolver,
    expect_bool,
    expect_choice,
    expect_string,
    expect_string_or_directive,
    read_options,
)
from .js import NotJsonError, js_json, js_text, json_type
from .liquid import LiquidProblem, parse_liquid, render_liquid
from .paths import UNDEFINED

__all__ = ["TRANSFORM_DIRECTIVES"]


def compile_case(options: Any, where: str, compile_node: Compiler, keep_holes: bool) -> Resolver:
    read_options(options, where, required=("operator", "value"))
    operator = expect_choice(options["operator"], f"{where}.operator", ("lower", "upper"))
    expect_string_or_directive(options["value"], f"{where}.value")
    value = compile_node(options["value"], f"{where}.value")
    change_case = str.lower if operator == "lower" else str.upper

    def resolve_case(payload: Any) -> Any:
        found = value(payload)
        return change_case(found) if isinstance(found, str) else found

    return resolve_case


_REPLACE_KEYS: Final = ("replacement", "pattern2", "replacement2", "global", "ignorecase")


def compile_replace(options: Any, where: str, compile_node: Compiler, keep_holes: bool) -> Resolver:
    read_options(options, where, required=("value", "pattern"), optional=_REPLACE_KEYS)
    expect_string_or_directive(options["value"], f"{where}.value")
    value = compile_node(options["value"], f"{where}.value")
    replace_all = expect_bool(options, "global", where, default=True)
    ignore_case = expect_bool(options, "ignorecase", where, default=False)
    replacers = [
        _literal_replacer(
            expect_string(options["pattern"], f"{where}.pattern", non_empty=True),
            _optional_string(options, "replacement", where),
            replace_all,
            ignore_case,
        )
    ]
    # Segment's editor sends an empty pattern2 when the second replacement is unused.
    if _optional_string(options, "pattern2", where):
        replacers.append(
            _literal_replacer(
                options["pattern2"],
                _optional_string(options, "replacement2", where),
                replace_all,
                ignore_case,
            )
        )

    def resolve_replace(payload: Any) -> str:
        text = _replaceable_text(value(payload))
        for replace in replacers:
            text = replace(text)
        return text

    return resolve_replace


def _optional_string(options: dict[str, Any], key: str, where: str) -> str:
    found = options.get(key)
    return "" if found is None else expect_string(found, f"{where}.{key}")


def _literal_replacer(
    pattern: str, replacement: str, replace_all: bool, ignore_case: bool
) -> Callable[[str], str]:
    count = -1 if replace_all else 1
    if not ignore_case:
        return lambda text: text.replace(pattern, replacement, count)
    regex = re.compile(re.escape(pattern), re.IGNORECASE)
    return lambda text: regex.sub(lambda _match: replacement, text, count=max(count, 0))


def _replaceable_text(value: Any) -> str:
    """Segment writes numbers and booleans out, and replaces in "" for anything else."""
    return js_text(value) if isinstance(value, str | int | float) else ""


def compile_flatten(options: Any, where: str, compile_node: Compiler, keep_holes: bool) -> Resolver:
    read_options(options, where, required=("value", "separator"), optional=("omitArrays",))
    separator = expect_string(options["separator"], f"{where}.separator", non_empty=True)
    omit_arrays = expect_bool(options, "omitArrays", where, default=False)
    value = compile_node(options["value"], f"{where}.value")
    return lambda payload: _flatten(value(payload), separator, omit_arrays)


def _flatten(value: Any, separator: str, omit_arrays: bool) -> Any:
    """Flatten depth first, iteratively so that no event is too deep to flatten."""
    if not _is_container(value, omit_arrays):
        return {} if value is UNDEFINED else {"": value}
    flat: dict[str, Any] = {}
    stack: list[tuple[str, Iterator[tuple[str, Any]]]] = [("", _members(value))]
    while stack:
        prefix, members = stack[-1]
        for key, member in members:
            name = f"{prefix}{separator}{key}" if prefix else key
            if _is_container(member, omit_arrays):
                stack.append((name, _members(member)))
                break
            flat[name] = member
        else:
            stack.pop()
    return flat


def _is_container(value: Any, omit_arrays: bool) -> bool:
    return isinstance(value, dict) or (isinstance(value, list) and not omit_arrays)


def _members(container: dict[str, Any] | list[Any]) -> Iterator[tuple[str, Any]]:
    if isinstance(container, dict):
        return iter(container.items())
    return ((str(index), item) for index, item in enumerate(container))


def compile_json(options: Any, where: str, compile_node: Compiler, keep_holes: bool) -> Resolver:
    read_options(options, where, required=("mode", "value"))
    mode = expect_choice(options["mode"], f"{where}.mode", ("encode", "decode"))
    value = compile_node(options["value"], f"{where}.value")
    if mode == "decode":
        return lambda payload: _decoded(value(payload))

    def resolve_encode(payload: Any) -> Any:
        found = value(payload)
        if found is UNDEFINED:
            return UNDEFINED
        try:
            return js_json(found)
        except NotJsonError as error:
            raise MappingError(where, f"cannot encode the value as JSON: {error}") from None

    return resolve_encode


def _decoded(value: Any) -> Any:
    """Decode a JSON string; anything else, and invalid JSON, is returned unchanged."""
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def compile_exclude_when_null(
    options: Any, where: str, compile_node: Compiler, keep_holes: bool
) -> Resolver:
    value = compile_node(options, where)

    def resolve_exclude_when_null(payload: Any) -> Any:
        found = value(payload)
        if found is None:
            return UNDEFINED
        return _without_nulls(found) if isinstance(found, dict | list) else found

    return resolve_exclude_when_null


def _without_nulls(value: Any) -> Any:
    """Copy, dropping null object members at any depth; array items keep their places."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


_SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")


def compile_hash(options: Any, where: str, compile_node: Compiler, keep_holes: bool) -> Resolver:
    read_options(options, where, required=("value",), optional=("algorithm",))
    if "algorithm" in options:
        expect_choice(options["algorithm"], f"{where}.algorithm", ("sha256",))
    value = compile_node(options["value"], f"{where}.value")

    def resolve_hash(payload: Any) -> Any:
        found = value(payload)
        if found is None or found is UNDEFINED:
            return found
        if isinstance(found, dict | list):
            raise MappingError(where, f"cannot hash {json_type(found)} values")
        return _sha256_hex(found)

    return resolve_hash


def _sha256_hex(value: str | int | float | bool) -> str:
    """Normalise (trim, lower-case) and hash; an existing digest is not hashed again."""
    text = js_text(value).strip().lower()
    if not text or _SHA256_HEX.fullmatch(text):
        return text
    return hashlib.sha256(text.encode()).hexdigest()


def compile_liquid(options: Any, where: str, compile_node: Compiler, keep_holes: bool) -> Resolver:
    expect_string(options, where)
    try:
        template = parse_liquid(options)
    except LiquidProblem as problem:
        raise MappingError(where, str(problem)) from None

    def resolve_liquid(payload: Any) -> str:
        try:
            return render_liquid(template, payload)
        except LiquidProblem as problem:
            raise MappingError(where, str(problem)) from None

    return resolve_liquid


TRANSFORM_DIRECTIVES: Final[dict[str, DirectiveCompiler]] = {
    "@case": compile_case,
    "@replace": compile_replace,
    "@flatten": compile_flatten,
    "@json": compile_json,
    "@excludeWhenNull": compile_exclude_when_null,
    "@hash": compile_hash,
    "@liquid": compile_liquid,
}
