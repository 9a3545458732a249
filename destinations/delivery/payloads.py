"""From an event to the payload an action sends: render the mapping, then apply the field
schema (docs/mapping-language.md, "The action's field schema"): required fields present, types
checked, datetimes in the destination's format, undeclared keys dropped.

A string that reads as the declared number, integer or boolean is taken as one, as Segment
takes it: its action-destinations validate payloads with AJV's `coerceTypes` (packages/core,
src/schema-validation.ts), so "14.99" in a number field is sent as 14.99."""

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson

from .. import mapping
from ..integrations.base import Action, Field
from ..mapping import js_text, json_type

# Epoch numbers above this are milliseconds: as seconds they would be past the year 5000.
EPOCH_MILLISECONDS_FROM = 100_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Decimal notation only: Python's float() would also take "nan", "inf" and "1_000".
NUMERIC = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Past this a float no longer holds every integer, so an integral value stays a float.
EXACT_INTEGERS_BELOW = 2**53


class PayloadInvalid(Exception):
    """The event cannot become this action's payload; retrying will not change that."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def prepare(
    action: Action,
    fields: dict[str, Any],
    event: dict[str, Any],
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """The payload for `event`; `notes`, when given, receives a line per coerced field."""
    try:
        rendered = mapping.render(fields, event)
    except mapping.MappingError as error:
        raise PayloadInvalid("MAPPING_FAILED", str(error)) from None
    return apply_schema(action.fields, rendered, notes)


def apply_schema(
    fields: tuple[Field, ...], rendered: dict[str, Any], notes: list[str] | None = None
) -> dict[str, Any]:
    payload = {}
    for field in fields:
        value = rendered.get(field.key)
        if value is None:
            if field.required:
                state = "null" if field.key in rendered else "missing"
                raise invalid(field, f"is required but {state}")
            continue
        payload[field.key] = coerce(field, value)
        if notes is not None and is_coerced(field, value):
            notes.append(coercion_note(field, value, payload[field.key]))
        if field.choices and payload[field.key] not in field.choices:
            raise invalid(field, f"must be one of {list(field.choices)}, got {value!r}")
    return payload


def coerce(field: Field, value: Any) -> Any:
    kind = field.type
    if kind == "any":
        return value
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return js_text(value)
    elif kind == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        number = parse_number(value)
        if number is not None:
            return number
    elif kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        number = parse_number(value)
        if number is not None and float(number).is_integer():
            return int(number)
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
    elif kind == "object":
        if isinstance(value, dict):
            return value
    elif kind == "array":
        if isinstance(value, list):
            return value
    elif kind == "url":
        if isinstance(value, str) and is_web_url(value):
            return value
        raise invalid(field, f"must be an http(s) URL, got {value!r}")
    elif kind == "datetime":
        moment = parse_datetime(value)
        if moment is not None:
            return format_datetime(moment, field.datetime_format)
        raise invalid(field, f"must be an ISO-8601 date-time or an epoch number, got {value!r}")
    raise invalid(field, f"must be {article(kind)} {kind}, got {json_type(value)}")


def parse_number(value: Any) -> int | float | None:
    """A string in decimal notation as the number JavaScript's Number() reads in it, integral
    values as ints so that they are sent as "42", as Segment sends them; None otherwise."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not NUMERIC.fullmatch(text):
        return None
    number = float(text)
    if not math.isfinite(number):  # "1e400": JSON has no infinity to send
        return None
    if number.is_integer() and abs(number) < EXACT_INTEGERS_BELOW:
        return int(number)
    return number


def is_coerced(field: Field, value: Any) -> bool:
    return isinstance(value, str) and field.type in ("number", "integer", "boolean")


def coercion_note(field: Field, value: Any, result: Any) -> str:
    shown = orjson.dumps(result).decode()
    return f"field '{field.key}': the string {orjson.dumps(value).decode()} became {shown}"


def parse_datetime(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            seconds = value / 1000 if abs(value) >= EPOCH_MILLISECONDS_FROM else value
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value)
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def format_datetime(moment: datetime, style: str) -> str | int:
    if style == "epoch_ms":
        return (moment - EPOCH) // timedelta(milliseconds=1)
    if style == "epoch_s":
        return (moment - EPOCH) // timedelta(seconds=1)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_web_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def invalid(field: Field, problem: str) -> PayloadInvalid:
    return PayloadInvalid("PAYLOAD_VALIDATION_FAILED", f"field '{field.key}' {problem}")


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
