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

BIGINT_LIMIT = 2**63
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
    position = {column: index for index, column in enumerate(plan.columns)}
    kinds = list(plan.types.values())
    width, has_overflow = len(kinds), OVERFLOW in plan.types
    encoded, misfits = [], []
    for row in rows:
        texts: list[str | None] = [None] * width
        for column, value in row.values.items():
            index = position.get(column)
            if index is None:
                continue  # past the cap: overflow_text writes it
            text = fast_text(value, kinds[index])
            if text is None:
                text = types.copy_text(value, kinds[index])
                if isinstance(text, types.Misfit):
                    misfits.append(misfit(row, column, value, text))
                    continue
            texts[index] = text
        if has_overflow:
            texts[-1] = overflow_text(row, plan.types, misfits)
        encoded.append(tuple(texts))
    return encoded, misfits


def fast_text(value: Any, kind: str) -> str | None:
    """The COPY text of the values that need no thought (most of them); None for the rest,
    which types.copy_text judges."""
    cls = type(value)
    if cls is str:
        if kind == types.TIMESTAMP:  # four to a row, and no NUL passes is_timestamp
            return value if types.is_timestamp(value) else None
        return value if kind == types.TEXT and "\x00" not in value else None
    if cls is bool:
        return ("t" if value else "f") if kind == types.BOOLEAN else None
    if cls is int:
        in_range = -BIGINT_LIMIT <= value < BIGINT_LIMIT
        return str(value) if in_range and (kind == types.BIGINT or kind == types.DOUBLE) else None
    if cls is float:
        return repr(value) if kind == types.DOUBLE else None
    return None


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
