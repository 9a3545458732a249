"""A table's columns for a batch: which exist, which the batch adds and with what type, which
go past the column cap into the overflow column, and each row as COPY's text (docs/warehouse.md,
"Types" and "The column cap").

Pure functions, no Django, no connection: the loader reads the table's columns from the
warehouse, asks here, and writes what it is told.
"""

from dataclasses import dataclass, field
from typing import Any

import orjson

from . import types
from .layout import Discard, Row

OVERFLOW = "_overflow"  # no property's name can start with an underscore and a letter


@dataclass(frozen=True)
class NewColumn:
    name: str
    type: str
    first_row_id: str  # the messageId (users: the userId) of the row that brought it


@dataclass
class Plan:
    types: dict[str, str]  # every column the batch writes, in COPY's order, and its type
    added: list[NewColumn] = field(default_factory=list)
    overflowed: list[str] = field(default_factory=list)  # names kept in OVERFLOW instead

    @property
    def columns(self) -> list[str]:
        return list(self.types)


def plan(existing: dict[str, str], rows: list[Row], fixed: dict[str, str], cap: int) -> Plan:
    """The columns of this batch. A new column's type is the join of the batch's values for
    it; once the table holds `cap` columns, new names go to the overflow column."""
    seen: dict[str, tuple[str, str]] = {}  # new column -> (type so far, first row id)
    for row in rows:
        for column, value in row.values.items():
            if column in existing or column in fixed:
                continue
            kind = types.infer(value)
            if column in seen:
                seen[column] = (types.join(seen[column][0], kind), seen[column][1])
            else:
                seen[column] = (kind, row.id)
    result = Plan({})
    room = max(0, cap - len(existing | fixed))
    for column, (kind, first) in seen.items():
        if len(result.added) < room:
            result.added.append(NewColumn(column, kind, first))
        else:
            result.overflowed.append(column)
    if result.overflowed and OVERFLOW not in existing:
        result.added.append(NewColumn(OVERFLOW, types.JSONB, rows[0].id))
    known = fixed | existing | {column.name: column.type for column in result.added}
    written = {column for row in rows for column in row.values}
    result.types = {c: t for c, t in known.items() if c in written and c != "uuid_ts"}
    if result.overflowed:
        result.types[OVERFLOW] = types.JSONB
    return result


def encode(rows: list[Row], plan: Plan) -> tuple[list[tuple], list[Discard]]:
    """Each row as a tuple of COPY texts (None for NULL) in plan.columns' order, and the
    values that did not fit their column, as discards."""
    columns = plan.columns
    kinds = [plan.types[column] for column in columns]
    has_overflow = OVERFLOW in plan.types
    encoded, misfits = [], []
    for row in rows:
        values = row.values
        texts = []
        for column, kind in zip(columns, kinds, strict=True):
            value = values.get(column)
            if value is None:
                texts.append(None)
                continue
            text = value if kind == types.TEXT and type(value) is str else None
            if text is None or "\x00" in text:
                text = types.copy_text(value, kind)
            if isinstance(text, types.Misfit):
                misfits.append(misfit(row, column, value, text))
                text = None
            texts.append(text)
        if has_overflow:
            texts[-1] = overflow_text(row, plan.types, misfits)
        encoded.append(tuple(texts))
    return encoded, misfits


def overflow_text(row: Row, known: dict[str, str], misfits: list[Discard]) -> str | None:
    """The row's values that have no column, as one JSON object."""
    extra = {}
    for column, value in row.values.items():
        if column in known:
            continue
        if isinstance(why := types.copy_text(value, types.JSONB), types.Misfit):
            misfits.append(misfit(row, column, value, why))
        else:
            extra[column] = value
    return orjson.dumps(extra).decode() if extra else None


def misfit(row: Row, column: str, value: Any, why: types.Misfit) -> Discard:
    received = row.values.get("received_at")
    return Discard(row.table, column, row.id, value, why.reason, why.detail, received)
