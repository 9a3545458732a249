"""Column types: what a value is, which column type holds it, and how it is written for COPY
(docs/warehouse.md, "Types").

Pure functions, no Django. A column's type is decided once, when the column is made, from the
values of the batch that makes it (their join in the lattice below); from then on a value that
does not fit is discarded with its reason, never converted by guess, until an editor widens
the column.

    boolean ──────────────────┐
    bigint → double precision ┼→ text
    timestamptz ──────────────┘
    jsonb (arrays; takes any JSON value)
"""

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

BOOLEAN = "boolean"
BIGINT = "bigint"
DOUBLE = "double precision"
TIMESTAMP = "timestamp with time zone"
TEXT = "text"
JSONB = "jsonb"
TYPES = (BOOLEAN, BIGINT, DOUBLE, TIMESTAMP, TEXT, JSONB)
# What each type may be widened to, nearest first (an editor's choice in the registry).
WIDER = {BOOLEAN: (TEXT,), BIGINT: (DOUBLE, TEXT), DOUBLE: (TEXT,), TIMESTAMP: (TEXT,)}
BIGINT_RANGE = range(-(2**63), 2**63)
# An ISO 8601 date and time, with a zone or without (read as UTC); a date alone stays text.
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
TYPE_MISMATCH = "type_mismatch"
OUT_OF_RANGE = "out_of_range"
UNSTORABLE = "unstorable"
DESCRIPTIONS = {
    BOOLEAN: "a boolean",
    BIGINT: "an integer",
    DOUBLE: "a decimal number",
    TIMESTAMP: "a timestamp",
    TEXT: "a text",
    JSONB: "an array",
}
# A \u0000 escape in JSON text, not an escaped backslash followed by "u0000".
JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


@dataclass(frozen=True)
class Misfit:
    """Why a value cannot go in its column: a reason code and what the registry shows."""

    reason: str
    detail: str


def infer(value: Any) -> str:
    """The type a new column would take for this value alone."""
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return BIGINT if value in BIGINT_RANGE else DOUBLE
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, str):
        return TIMESTAMP if is_timestamp(value) else TEXT
    return JSONB


def join(first: str, second: str) -> str:
    """The narrowest type that holds both: the lattice's least upper bound."""
    if first == second:
        return first
    if JSONB in (first, second):
        return JSONB
    if {first, second} == {BIGINT, DOUBLE}:
        return DOUBLE
    return TEXT


def is_timestamp(text: str) -> bool:
    if not ISO_DATETIME.match(text):
        return False
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return False
    return 1 <= moment.year <= 9999


def copy_text(value: Any, column_type: str) -> str | Misfit:
    """`value` as COPY's text for a column of `column_type`, or why it does not fit."""
    if column_type == TEXT:
        written = value if isinstance(value, str) else json_text(value)
        return unstorable(written) or written
    if column_type == JSONB:
        written = json_text(value)
        return unstorable(written, escaped=True) or written
    kind = infer(value)
    if kind == column_type:
        return scalar_text(value)
    if column_type == DOUBLE and kind == BIGINT:
        return str(value)
    if column_type == BIGINT and isinstance(value, float) and value.is_integer():
        return str(int(value)) if int(value) in BIGINT_RANGE else out_of_range(value)
    if column_type == BIGINT and isinstance(value, int) and not isinstance(value, bool):
        return out_of_range(value)
    return Misfit(TYPE_MISMATCH, f"{described(kind)} in a {column_type} column")


def scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "NaN"
    return str(value)


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def unstorable(text: str, escaped: bool = False) -> Misfit | None:
    """PostgreSQL's text cannot hold a NUL character, nor jsonb a \\u0000 escape."""
    if "\x00" in text or (escaped and JSON_NUL.search(text)):
        return Misfit(UNSTORABLE, "holds a NUL character, which PostgreSQL cannot store")
    return None


def out_of_range(value: Any) -> Misfit:
    return Misfit(OUT_OF_RANGE, f"{value} is outside bigint's range")


def described(kind: str) -> str:
    return DESCRIPTIONS[kind]


def display(column_type: str) -> str:
    """How the registry names a type (PostgreSQL's own name, timestamptz shortened)."""
    return "timestamptz" if column_type == TIMESTAMP else column_type


def named(shown: str) -> str:
    """The type the registry shows as `shown`."""
    return TIMESTAMP if shown == "timestamptz" else shown
