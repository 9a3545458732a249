"""From a table's row to a Tracking API message, and the digests the diff compares.

Pure Python: the sync feeds it rows as the connector returns them (column names and a
tuple of values) and gets back what to remember and what to send.
"""

import base64
import hashlib
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import orjson

LIBRARY = {"name": "switchyard-table-source", "version": "1"}


class ShapeError(Exception):
    """The configuration names a column that the query does not return."""

    kind = "columns"


@dataclass(frozen=True)
class Shape:
    """Which columns make which parts of the message; from a TableSource."""

    table_source_id: int
    name: str
    keys: tuple[str, ...]
    identity_column: str
    identity: str  # "userId" or "anonymousId"
    emit: str  # "track" or "identify"
    event_name: str
    columns: tuple[str, ...]  # empty: every column but the keys, identity and timestamp
    timestamp_column: str


@dataclass(frozen=True, slots=True)
class Row:
    key_digest: uuid.UUID
    key: str
    identity: str
    fingerprint: uuid.UUID
    content: dict[str, Any]  # properties or traits
    timestamp: Any


class Reader:
    """Reads the rows of one result whose columns are `names`, for `shape`."""

    def __init__(self, shape: Shape, names: Sequence[str]) -> None:
        position = {name: index for index, name in enumerate(names)}
        wanted = [*shape.keys, shape.identity_column, *shape.columns]
        wanted += [shape.timestamp_column] if shape.timestamp_column else []
        if missing := [name for name in wanted if name not in position]:
            raise ShapeError(
                f"the result has no column {', '.join(map(repr, missing))}; "
                f"it has {', '.join(names)}"
            )
        reserved = {*shape.keys, shape.identity_column, shape.timestamp_column}
        content = shape.columns or [name for name in names if name not in reserved]
        self.keys = [position[name] for name in shape.keys]
        self.identity = position[shape.identity_column]
        self.content = [(name, position[name]) for name in content]
        self.timestamp = position[shape.timestamp_column] if shape.timestamp_column else None

    def read(self, values: Sequence[Any]) -> Row:
        key = orjson.dumps([jsonable(values[index]) for index in self.keys]).decode()
        identity = jsonable(values[self.identity])
        content = {name: jsonable(values[index]) for name, index in self.content}
        timestamp = jsonable(values[self.timestamp]) if self.timestamp is not None else None
        seen = orjson.dumps([identity, content, timestamp], option=orjson.OPT_SORT_KEYS)
        return Row(
            key_digest=digest(key.encode()),
            key=key,
            identity="" if identity is None else str(identity),
            fingerprint=digest(seen),
            content=content,
            timestamp=timestamp,
        )


def digest(data: bytes) -> uuid.UUID:
    return uuid.UUID(bytes=hashlib.blake2b(data, digest_size=16).digest())


def message_id(
    shape: Shape, key_digest: uuid.UUID, version: int, fingerprint: uuid.UUID | None
) -> str:
    """The same change of the same row always gets the same id: a rerun is deduplicated."""
    seen = fingerprint.hex if fingerprint else "deleted"
    text = f"{shape.table_source_id}:{key_digest.hex}:{version}:{seen}"
    return "table-" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def message(shape: Shape, row: Row, change: str, message_id: str) -> dict[str, Any]:
    """The Tracking API message of an added or changed row."""
    body = envelope(shape, row.identity, change, message_id)
    body["traits" if shape.emit == "identify" else "properties"] = row.content
    if row.timestamp is not None:
        body["timestamp"] = row.timestamp
    return body


def deletion(shape: Shape, identity: str, key: str, message_id: str) -> dict[str, Any]:
    """The message of a row gone since the previous run: its key, no properties."""
    body = envelope(shape, identity, "deleted", message_id)
    body["context"]["tableSource"]["key"] = orjson.loads(key)
    return body


def envelope(shape: Shape, identity: str, change: str, message_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": shape.emit,
        "messageId": message_id,
        shape.identity: identity,
        "context": {
            "library": LIBRARY,
            "tableSource": {"name": shape.name, "change": change},
        },
    }
    if shape.emit == "track":
        body["event"] = shape.event_name
    return body


def jsonable(value: Any) -> Any:
    """A database value as JSON: numbers as numbers, times as ISO 8601, the rest as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        if value != value.to_integral_value():
            return float(value)
        # JSON parsers (orjson among them) stop at 64-bit integers.
        return int(value) if abs(value) < 2**63 else float(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return str(value)
