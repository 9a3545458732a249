"""An event as the rows Segment's warehouse layout gives it (docs/warehouse.md, "Layout").

Pure functions, no Django. Every call lands in the table of its type (tracks, identifies,
pages, screens, groups, aliases) with the bookkeeping columns; a track also lands in the table
of its event, with its properties; an identify with a userId also updates `users`. Context,
properties and traits are flattened into columns joined by `_`; arrays stay JSON. A value
that has no column of its own (a name that collides, a property named like a bookkeeping
column) is not dropped: it becomes a discard, kept in the warehouse with its reason.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from . import naming, types

USERS = "users"
TRACKS = "tracks"
CALL_TABLES = {
    "identify": "identifies",
    "page": "pages",
    "screen": "screens",
    "group": "groups",
    "alias": "aliases",
}
# What each call type's payload holds as columns of its own.
CUSTOM = {"track": "properties", "page": "properties", "screen": "properties"}
CUSTOM |= {"identify": "traits", "group": "traits", "alias": "traits"}
TIMESTAMP_KEYS = {
    "received_at": "receivedAt",
    "sent_at": "sentAt",
    "timestamp": "timestamp",
    "original_timestamp": "originalTimestamp",
}
BOOKKEEPING = {
    "id": types.TEXT,
    **dict.fromkeys(TIMESTAMP_KEYS, types.TIMESTAMP),
    "uuid_ts": types.TIMESTAMP,
    "anonymous_id": types.TEXT,
    "user_id": types.TEXT,
}
EVENT_COLUMNS = {"event": types.TEXT, "event_text": types.TEXT}
# The call's own fields with a column of their own (the event's slug is added beside them).
OWN_KEYS = {
    "track": {"event_text": "event"},
    "page": {"name": "name", "category": "category"},
    "screen": {"name": "name", "category": "category"},
    "group": {"group_id": "groupId"},
    "alias": {"previous_id": "previousId"},
}
# Each table's columns of fixed type, made with the table.
FIXED = {
    TRACKS: BOOKKEEPING | EVENT_COLUMNS,
    "identifies": BOOKKEEPING,
    "pages": BOOKKEEPING | {"name": types.TEXT, "category": types.TEXT},
    "screens": BOOKKEEPING | {"name": types.TEXT, "category": types.TEXT},
    "groups": BOOKKEEPING | {"group_id": types.TEXT},
    "aliases": BOOKKEEPING | {"previous_id": types.TEXT},
    USERS: {"id": types.TEXT, "received_at": types.TIMESTAMP, "uuid_ts": types.TIMESTAMP},
}
EVENT_TABLE_FIXED = FIXED[TRACKS]
# Discard reasons of the layout's own (types.py has those of the column types).
RESERVED_COLUMN = "reserved_column"
NAME_COLLISION = "name_collision"
NO_COLUMN_NAME = "no_column_name"
NO_TABLE_NAME = "no_table_name"


class BadEvent(Exception):
    """The event cannot be laid out at all; it fails alone, the rest of its batch loads."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Row:
    table: str
    values: dict[str, Any]
    origins: dict[str, str] = field(default_factory=dict)  # column -> the key path it came from

    @property
    def id(self) -> str:
        return self.values["id"]


@dataclass(frozen=True)
class Discard:
    table: str
    column: str
    row_id: str
    value: Any
    reason: str
    detail: str
    received_at: str | None


@dataclass
class Laid:
    rows: list[Row]
    discards: list[Discard]


def fixed_columns(table: str) -> dict[str, str]:
    return FIXED.get(table, EVENT_TABLE_FIXED)


def lay_out(event: Any, event_tables: frozenset[str] | None = None) -> Laid:
    """The rows of one event. `event_tables`: the event tables to fill (None: all of them;
    Segment's selective sync); tracks gets every track whatever it says."""
    check(event)
    kind = event["type"]
    layer = Layer(event)
    common = layer.common_row(TRACKS if kind == "track" else CALL_TABLES[kind])
    if kind == "track":
        layer.rows.append(common)
        layer.event_table(common, event_tables)
    else:
        layer.add_custom(common, event.get(CUSTOM[kind]))
        layer.rows.append(common)
    if kind == "identify" and isinstance(event.get("userId"), str) and event["userId"]:
        layer.rows.append(layer.user_row())
    return Laid(layer.rows, layer.discards)


def check(event: Any) -> None:
    if not isinstance(event, dict):
        raise BadEvent("NOT_AN_EVENT", "the payload is not a JSON object")
    message_id = event.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise BadEvent("NO_MESSAGE_ID", "the event has no messageId to be its row's id")
    if "\x00" in message_id:
        raise BadEvent("NO_MESSAGE_ID", "the event's messageId holds a NUL character")
    kind = event.get("type")
    if kind != "track" and kind not in CALL_TABLES:
        raise BadEvent("UNKNOWN_TYPE", f"the event's type {kind!r} has no table")


class Layer:
    """The rows and discards of one event, as they are made."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        self.rows: list[Row] = []
        self.discards: list[Discard] = []

    def common_row(self, table: str) -> Row:
        event = self.event
        row = Row(table, {"id": event["messageId"]})
        for column, key in TIMESTAMP_KEYS.items():
            self.put(row, column, event.get(key), key, own=True)
        self.put(row, "anonymous_id", event.get("anonymousId"), "anonymousId", own=True)
        self.put(row, "user_id", event.get("userId"), "userId", own=True)
        for column, key in OWN_KEYS.get(event["type"], {}).items():
            self.put(row, column, event.get(key), key, own=True)
        if event["type"] == "track":
            name = table_of(str(event.get("event") or ""))
            self.put(row, "event", name or None, "event", own=True)
        context = event.get("context")
        if isinstance(context, dict):
            for path, value in flattened(context, ("context",)):
                self.put(row, column_of(path), value, ".".join(path))
        return row

    def event_table(self, common: Row, event_tables: frozenset[str] | None) -> None:
        name = common.values.get("event")
        if not name:
            value = self.event.get("event")
            self.discard(common, "event", value, NO_TABLE_NAME, "the event's name names no table")
            return
        if event_tables is not None and name not in event_tables:
            return
        row = Row(name, dict(common.values), dict(common.origins))
        self.add_custom(row, self.event.get("properties"))
        self.rows.append(row)

    def add_custom(self, row: Row, custom: Any) -> None:
        if isinstance(custom, dict):
            for path, value in flattened(custom, ()):
                self.put(row, column_of(path), value, ".".join(path))

    def user_row(self) -> Row:
        row = Row(USERS, {"id": self.event["userId"]})
        self.put(row, "received_at", self.event.get("receivedAt"), "receivedAt", own=True)
        self.add_custom(row, self.event.get("traits"))
        return row

    def put(self, row: Row, column: str, value: Any, origin: str, own: bool = False) -> None:
        """`own`: a bookkeeping column, which properties, traits and context never fill."""
        if value is None:
            return
        if not column:
            self.discard(row, origin, value, NO_COLUMN_NAME, f"{origin!r} names no column")
        elif not own and column in fixed_columns(row.table):
            detail = f"{origin!r} is named like a column of Segment's own"
            self.discard(row, column, value, RESERVED_COLUMN, detail)
        elif column not in row.values:
            row.values[column] = value
            row.origins[column] = origin
        elif row.values[column] != value:
            detail = f"{origin!r} has the column of {row.origins.get(column, column)!r}"
            self.discard(row, column, value, NAME_COLLISION, detail)

    def discard(self, row: Row, column: str, value: Any, reason: str, detail: str) -> None:
        received = self.event.get("receivedAt")
        self.discards.append(Discard(row.table, column, row.id, value, reason, detail, received))


@lru_cache(maxsize=4096)
def table_of(event: str) -> str:
    return naming.table_name(event)


def flattened(value: dict[str, Any], prefix: tuple[str, ...]) -> Iterator[tuple[tuple, Any]]:
    """(key path, value) of every leaf: objects are walked, arrays and scalars are leaves,
    nulls and empty objects make no column."""
    for key, child in value.items():
        path = (*prefix, key)
        if isinstance(child, dict):
            yield from flattened(child, path)
        elif child is not None:
            yield path, child


# Events repeat their keys: naming a path once, not once an event, was most of a load's time.
@lru_cache(maxsize=65536)
def column_of(path: tuple[str, ...]) -> str:
    parts = [naming.snake_case(part) for part in path]
    if not all(parts):  # a key with nothing to name it ("", "!!!") names no column
        return ""
    return naming.identifier("_".join(parts))
