"""Reading a configuration document: its vocabulary, JSON types and environment references."""

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

VERSION = 1
REQUIRED: Any = object()
KIND_DEFAULT: Any = object()  # what the destination's kind says (Kind.orders_per_user)
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENV = '{"env": "VARIABLE_NAME"}'
SOURCE_KEYS = {"name", "enabled", "rate_limit", "write_key", "transformations"}
# Columns copied as they are, with their JSON type and default, in export order: a plain
# column added to Destination or Mapping is one more line here.
DESTINATION_COLUMNS: dict[str, tuple[str, Any]] = {
    "enabled": ("true or false", True),
    "keep_order": ("true or false", KIND_DEFAULT),
    "max_concurrency": ("an integer", 4),
    "rate_limit": ("a number or null", None),
    "retry_base_seconds": ("a number", 10.0),
    "retry_cap_seconds": ("a number", 600.0),
    "retry_window_seconds": ("an integer", 4 * 3600),
    "breaker_threshold": ("an integer", 20),
    "breaker_cooldown_seconds": ("a number", 30.0),
}
DESTINATION_KEYS = {"name", "kind", *DESTINATION_COLUMNS, "sources", "settings", "secrets"}
DESTINATION_KEYS |= {"transformations", "mappings"}
MAPPING_COLUMNS: dict[str, tuple[str, Any]] = {
    "name": ("a string", REQUIRED),
    "action": ("a string", REQUIRED),
    "trigger": ("a string", REQUIRED),
    "enabled": ("true or false", True),
    "batch_size": ("an integer or null", None),
    "flush_interval": ("a number", 1.0),
    "fields": ("an object", REQUIRED),
}
# A table source's columns (tables.models.TableSource), with the model's defaults; its name,
# source and connection come first.
TABLE_SOURCE_COLUMNS: dict[str, tuple[str, Any]] = {
    "table": ("a string", ""),
    "query": ("a string", ""),
    "key_columns": ("a string", REQUIRED),
    "identity_column": ("a string", REQUIRED),
    "identity": ("a string", "userId"),
    "emit": ("a string", "track"),
    "event_name": ("a string", ""),
    "columns": ("a string", ""),
    "timestamp_column": ("a string", ""),
    "changes": ("a string", "added_changed"),
    "emit_deleted": ("true or false", False),
    "schedule_minutes": ("an integer or null", None),
    "timeout_seconds": ("an integer", 300),
    "enabled": ("true or false", True),
}
TABLE_SOURCE_KEYS = {"name", "source", "connection", *TABLE_SOURCE_COLUMNS}
TRANSFORMATION_KEYS = {"name", "description", "code"}
LIBRARY_KEYS = {"name", "description", "code"}
DOCUMENT_KEYS = {"version", "sources", "destinations", "table_sources", "transformations"}
DOCUMENT_KEYS |= {"transformation_libraries"}
JSON_TYPES: dict[str, tuple[type, ...]] = {"a string": (str,), "true or false": (bool,)}
JSON_TYPES |= {"an integer": (int,), "a number": (int, float), "an object": (dict,)}
JSON_TYPES |= {"an array": (list,), "an integer or null": (int, type(None))}
JSON_TYPES |= {"a number or null": (int, float, type(None))}


class ConfigurationError(Exception):
    """A document that cannot be exported or imported; the message says where and why."""


def env_name(*parts: str) -> str:
    """The environment variable for a secret: SWITCHYARD_ and each part as an upper-case word."""
    return "_".join(["SWITCHYARD", *map(env_word, parts)])


def claim(variable: str, owner: str, claimed: dict[str, str]) -> dict[str, str]:
    """The reference {"env": variable}, once no other secret of the export reads it."""
    if variable in claimed:
        raise ConfigurationError(
            f"{claimed[variable]} and {owner} would both read {variable}: rename one of them"
        )
    claimed[variable] = owner
    return {"env": variable}


def env_word(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    word = re.sub(r"[^A-Z0-9]+", "_", ascii_text.upper()).strip("_")
    return word or "X" + hashlib.sha256(text.encode()).hexdigest()[:8].upper()


def named_items(parent: dict, key: str, allowed: set[str], path: str) -> Iterable[tuple[str, dict]]:
    """Each object of the list at `key`, with its path, once its name is checked unique."""
    first_seen: dict[str, str] = {}
    for index, item in enumerate(take(parent, key, "an array", [], path)):
        item_path = f"{at(path, key)}[{index}]"
        name = take(
            expect_object(item, item_path, allowed), "name", "a string", REQUIRED, item_path
        )
        if name in first_seen:
            raise ConfigurationError(f"{item_path}.name: {name!r} is also {first_seen[name]}")
        first_seen[name] = item_path
        yield item_path, item


def expect_object(value: Any, path: str, allowed: set[str]) -> dict:
    if not isinstance(value, dict):
        raise ConfigurationError(f"{path}: expected an object")
    if unknown := sorted(set(value) - allowed):
        raise ConfigurationError(f"{path}: unknown key {unknown[0]!r} (known: {sorted(allowed)})")
    return value


def take(item: dict, key: str, expected: str, default: Any, path: str) -> Any:
    """item[key], checked to be of the `expected` JSON type; `path` is where item is."""
    if key not in item:
        if default is REQUIRED:
            raise ConfigurationError(f"{at(path, key)}: required")
        return default
    if not is_json(item[key], expected):
        raise ConfigurationError(f"{at(path, key)}: expected {expected}")
    return item[key]


def is_json(value: Any, expected: str) -> bool:
    types = JSON_TYPES[expected]
    # JSON true is not a number here, although Python's bool is an int.
    return isinstance(value, types) and (bool in types or not isinstance(value, bool))


def at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def env_reference(value: Any, path: str) -> str:
    variable = value.get("env") if isinstance(value, dict) and len(value) == 1 else None
    if not isinstance(variable, str) or not ENV_NAME_PATTERN.match(variable):
        raise ConfigurationError(f"{path}: expected {ENV}")
    return variable
