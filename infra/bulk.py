"""Many rows in one INSERT whose only parameter is a JSON document (orjson-encoded).

Django's bulk_create binds one parameter per column per row: SQLite caps a statement at 999 of
them, and on PostgreSQL psycopg escapes them in Python, which profiling showed to be most of
the cost of a 100-event batch and of routing. A document is encoded in one C call and the
database unpacks it itself (jsonb_to_recordset on PostgreSQL, json_each on SQLite).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from django.db import connection, models
from django.db.models.expressions import RawSQL

POSTGRES_TYPES = {
    "BigAutoField": "bigint",
    "ForeignKey": "bigint",
    "OneToOneField": "bigint",
    "BigIntegerField": "bigint",
    "IntegerField": "bigint",
    "PositiveIntegerField": "bigint",
    "PositiveSmallIntegerField": "bigint",
    "FloatField": "double precision",
    "BooleanField": "boolean",
    "CharField": "text",
    "TextField": "text",
    "DateTimeField": "timestamptz",
    "JSONField": "jsonb",
    "UUIDField": "uuid",
}


@dataclass(frozen=True)
class Unseen:
    """Skip a row when one of `tables` holds a row with the same `key` columns.

    For partitioned tables on PostgreSQL, whose unique indexes hold within a partition only:
    `tables` names the partitions to look in, `key` leads with the column their unique index
    starts with. Each is probed by a subquery run per row; NOT EXISTS would become an
    anti-join, which without fresh statistics (a new partition, autovacuum off) reads whole
    partitions. SQLite's unique indexes span the table and need no such look.
    """

    key: tuple[str, ...]
    tables: tuple[str, ...]


@dataclass(frozen=True)
class Upsert:
    """On a row whose `unique` columns (a unique constraint's) exist, update `update`."""

    unique: tuple[str, ...]
    update: tuple[str, ...]

    def clause(self) -> str:
        quote = connection.ops.quote_name
        sets = ", ".join(f"{quote(name)} = EXCLUDED.{quote(name)}" for name in self.update)
        return f" ON CONFLICT ({', '.join(map(quote, self.unique))}) DO UPDATE SET {sets}"


def listed(values: list[str], postgres_type: str) -> RawSQL:
    """The values as a subquery, for `column__in=`: one parameter however many there are (a
    thousand-parameter IN cost more in psycopg's Python than in the database)."""
    if connection.vendor == "postgresql":
        return RawSQL(f"SELECT unnest(%s::{postgres_type}[])", [values])
    return RawSQL("SELECT value FROM json_each(%s)", [dumps(values)])


def insert_rows(
    model: type[models.Model],
    rows: Iterable[dict[str, Any]],
    *,
    ignore_conflicts: bool = False,
    unseen: Unseen | None = None,
    upsert: Upsert | None = None,
    returning: str | None = None,
) -> list[Any]:
    """Insert rows given as {field attname: value}; every row names the same fields. JSON
    fields must hold objects, arrays or null (what payloads are). Two rows of one call must
    not share an `upsert` key. Returns the `returning` column of the rows, in their order
    (as bulk_create relies on it too), or nothing."""
    rows = list(rows)
    if not rows:
        return []
    names = tuple(rows[0])
    vendor = connection.vendor
    look_back = unseen if vendor == "postgresql" else None
    sql = statement(model, names, ignore_conflicts, vendor, look_back, upsert, returning)
    if vendor == "postgresql":
        document = dumps(rows)
    else:
        document = sqlite_document([model._meta.get_field(name) for name in names], rows)
    with connection.cursor() as cursor:
        cursor.execute(sql, [document])
        return [row[0] for row in cursor.fetchall()] if returning else []


@lru_cache(maxsize=64)
def statement(
    model: type[models.Model],
    names: tuple[str, ...],
    ignore_conflicts: bool,
    vendor: str,
    unseen: Unseen | None = None,
    upsert: Upsert | None = None,
    returning: str | None = None,
) -> str:
    """The INSERT for these fields; built once (it showed up in a single-event request's
    profile when built every time)."""
    fields = [model._meta.get_field(name) for name in names]
    table = model._meta.db_table
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    if vendor == "postgresql":
        insert = postgres_insert(table, columns, fields, ignore_conflicts, unseen)
    else:
        insert = sqlite_insert(table, columns, fields, ignore_conflicts)
    # SQLite reads ON CONFLICT after a bare SELECT's FROM as a join's; a WHERE ends the FROM.
    where = " WHERE true" if vendor != "postgresql" and upsert else ""
    returned = f" RETURNING {connection.ops.quote_name(returning)}" if returning else ""
    return insert + where + (upsert.clause() if upsert else "") + returned


def postgres_insert(
    table: str, columns: str, fields: list, ignore_conflicts: bool, unseen: Unseen | None
) -> str:
    quote = connection.ops.quote_name
    record = ", ".join(
        f"{quote(field.attname)} {POSTGRES_TYPES[field.get_internal_type()]}" for field in fields
    )
    where = ""
    if unseen:
        # Only the first column in an index condition, the others as filters (IS NOT
        # DISTINCT FROM is never one): the planner then has one index to choose, the unique
        # one that column leads, whatever the statistics say.
        first, *others = (quote(name) for name in unseen.key)
        same = " AND ".join(
            [f"seen.{first} = rows.{first}"]
            + [f"seen.{name} IS NOT DISTINCT FROM rows.{name}" for name in others]
        )
        looks = [
            f"(SELECT true FROM {quote(name)} AS seen WHERE {same} LIMIT 1) IS NULL"
            for name in unseen.tables
        ]
        where = f" WHERE {' AND '.join(looks)}" if looks else ""
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    return (
        f"INSERT INTO {table} ({columns}) "
        f"SELECT * FROM jsonb_to_recordset(%s::jsonb) AS rows({record}){where}{conflict}"
    )


def sqlite_insert(table: str, columns: str, fields: list, ignore_conflicts: bool) -> str:
    def value(index: int, field: models.Field) -> str:
        extracted = f"json_extract(value, '$[{index}]')"
        return f"json({extracted})" if field.get_internal_type() == "JSONField" else extracted

    selected = ", ".join(value(index, field) for index, field in enumerate(fields))
    verb = "INSERT OR IGNORE" if ignore_conflicts else "INSERT"
    return f"{verb} INTO {table} ({columns}) SELECT {selected} FROM json_each(%s)"


def sqlite_document(fields: list, rows: list[dict[str, Any]]) -> str:
    """Rows as arrays, each value as Django would store it (datetimes as its text, and so on)."""

    def stored(field: models.Field, value: Any) -> Any:
        if value is None or field.get_internal_type() == "JSONField":
            return value
        return field.get_db_prep_value(value, connection)

    return dumps([[stored(f, row[f.attname]) for f in fields] for row in rows])


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
