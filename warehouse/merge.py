"""One table's share of a load, in one transaction: lock the table, make it or add its new
columns, COPY the batch into a temporary table, merge it on `id`, and keep its discards
(docs/warehouse.md, "Loading").

psycopg only, no Django. A merge makes loading idempotent: a retried, replayed or reloaded
batch updates the rows it loaded before, and a worker killed before the commit left nothing.
The transaction-scoped advisory lock serializes the loads of one table (two workers would
otherwise race to add the same column); loads of different tables run side by side.
"""

import time
from collections import Counter
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from . import columns, layout, types
from .layout import Discard, Row

STAGE = "switchyard_stage"
DISCARDS = "discards"
DISCARD_COLUMNS = (
    "table_name",
    "column_name",
    "row_id",
    "value",
    "reason",
    "detail",
    "received_at",
)


@dataclass
class TableLoad:
    """What one table's load did, for the registry and the attempt log."""

    schema: str
    table: str
    rows: int = 0
    added: list[columns.NewColumn] = field(default_factory=list)
    overflowed: list[str] = field(default_factory=list)
    discarded: Counter[tuple[str, str]] = field(default_factory=Counter)  # (column, reason)
    # Every discard the table holds now, by (column, reason); None when it never held one
    # (then they were not counted).
    discard_totals: dict[tuple[str, str], int] | None = None
    duration_ms: int = 0


def ensure_schema(connection: psycopg.Connection, schema: str) -> None:
    with connection.transaction():
        lock(connection, schema, "")
        connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        connection.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (table_name text NOT NULL, column_name text NOT "
                "NULL, row_id text NOT NULL, value text, reason text NOT NULL, detail text, "
                "received_at timestamptz, uuid_ts timestamptz NOT NULL DEFAULT now(), "
                "PRIMARY KEY (table_name, row_id, column_name))"
            ).format(sql.Identifier(schema, DISCARDS))
        )


def load_table(
    connection: psycopg.Connection,
    schema: str,
    table: str,
    rows: list[Row],
    discards: list[Discard],
    cap: int,
) -> TableLoad:
    start = time.perf_counter()
    if table == layout.USERS:
        rows = latest_per_user(rows)
    fixed = layout.fixed_columns(table)
    with connection.transaction():
        lock(connection, schema, table)
        create_table(connection, schema, table, fixed)
        plan = columns.plan(existing_columns(connection, schema, table), rows, fixed, cap)
        add_columns(connection, schema, table, plan.added)
        encoded, misfits = columns.encode(rows, plan)
        stage(connection, schema, table, plan.columns, encoded)
        merge(connection, schema, table, plan.columns)
        kept = discards + misfits
        totals = keep_discards(connection, schema, table, [row.id for row in rows], kept)
    return TableLoad(
        schema,
        table,
        rows=len(rows),
        added=plan.added,
        overflowed=plan.overflowed,
        discarded=Counter((discard.column, discard.reason) for discard in kept),
        discard_totals=totals,
        duration_ms=round((time.perf_counter() - start) * 1000),
    )


def widen(connection: psycopg.Connection, schema: str, table: str, column: str, to: str) -> None:
    """Change a column to a wider type (types.WIDER), its values converted by PostgreSQL."""
    with connection.transaction():
        lock(connection, schema, table)
        connection.execute(
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}").format(
                sql.Identifier(schema, table),
                sql.Identifier(column),
                sql.SQL(to),
                sql.Identifier(column),
                sql.SQL(to),
            )
        )


def lock(connection: psycopg.Connection, schema: str, table: str) -> None:
    connection.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"{schema}.{table}"]
    )


def create_table(
    connection: psycopg.Connection, schema: str, table: str, fixed: dict[str, str]
) -> None:
    definitions = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(name),
            sql.SQL(kind),
            sql.SQL(" PRIMARY KEY" if name == "id" else ""),
        )
        for name, kind in fixed.items()
    ]
    connection.execute(
        sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
            sql.Identifier(schema, table), sql.SQL(", ").join(definitions)
        )
    )


def existing_columns(connection: psycopg.Connection, schema: str, table: str) -> dict[str, str]:
    rows = connection.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [sql.Identifier(schema, table).as_string(connection)],
    )
    return dict(rows.fetchall())


def add_columns(
    connection: psycopg.Connection, schema: str, table: str, added: list[columns.NewColumn]
) -> None:
    if not added:
        return
    clauses = [
        sql.SQL("ADD COLUMN IF NOT EXISTS {} {}").format(sql.Identifier(c.name), sql.SQL(c.type))
        for c in added
    ]
    connection.execute(
        sql.SQL("ALTER TABLE {} {}").format(
            sql.Identifier(schema, table), sql.SQL(", ").join(clauses)
        )
    )


def stage(
    connection: psycopg.Connection,
    schema: str,
    table: str,
    names: list[str],
    encoded: list[tuple],
) -> None:
    """The batch in a temporary table shaped like the target, by COPY."""
    connection.execute(
        sql.SQL("CREATE TEMPORARY TABLE {} (LIKE {}) ON COMMIT DROP").format(
            sql.Identifier(STAGE), sql.Identifier(schema, table)
        )
    )
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(STAGE), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with connection.cursor().copy(statement) as copy:
        for row in encoded:
            copy.write_row(row)


def merge(connection: psycopg.Connection, schema: str, table: str, names: list[str]) -> None:
    target = sql.Identifier(schema, table)
    listed = sql.SQL(", ").join(map(sql.Identifier, names))
    updates = sql.SQL(", ").join(update_clause(table, name) for name in names if name != "id")
    connection.execute(
        sql.SQL(
            "INSERT INTO {target} AS t ({listed}, uuid_ts) "
            "SELECT DISTINCT ON (id) {listed}, now() FROM {stage} ORDER BY id "
            "ON CONFLICT (id) DO UPDATE SET {updates}, uuid_ts = now()"
        ).format(target=target, listed=listed, stage=sql.Identifier(STAGE), updates=updates)
    )


def update_clause(table: str, name: str) -> sql.Composable:
    column = sql.Identifier(name)
    if table != layout.USERS:
        return sql.SQL("{} = EXCLUDED.{}").format(column, column)
    # users keeps each trait's latest value: a row loaded late (a retry, a reload) fills what
    # is missing but overwrites nothing newer.
    newer = sql.SQL(
        "COALESCE(EXCLUDED.received_at, '-infinity') >= COALESCE(t.received_at, '-infinity')"
    )
    if name == "received_at":
        return sql.SQL("received_at = GREATEST(EXCLUDED.received_at, t.received_at)")
    return sql.SQL(
        "{c} = CASE WHEN {newer} THEN COALESCE(EXCLUDED.{c}, t.{c}) "
        "ELSE COALESCE(t.{c}, EXCLUDED.{c}) END"
    ).format(c=column, newer=newer)


def latest_per_user(rows: list[Row]) -> list[Row]:
    """One row per user, each trait from the latest identify that has it (a merge statement
    cannot touch one row twice)."""
    merged: dict[str, Row] = {}
    for row in sorted(rows, key=lambda row: row.values.get("received_at") or ""):
        if row.id in merged:
            merged[row.id].values.update(row.values)
        else:
            merged[row.id] = Row(row.table, dict(row.values), dict(row.origins))
    return list(merged.values())


def keep_discards(
    connection: psycopg.Connection,
    schema: str,
    table: str,
    row_ids: list[str],
    discards: list[Discard],
) -> dict[tuple[str, str], int] | None:
    """Replace the discards of the rows just merged by this load's (a reload after widening
    clears the ones that now fit), and return the table's discard counts."""
    target = sql.Identifier(schema, DISCARDS)
    had = connection.execute(
        sql.SQL("SELECT EXISTS (SELECT FROM {} WHERE table_name = %s)").format(target), [table]
    ).fetchone()[0]
    if not (had or discards):
        return None
    if had:
        connection.execute(
            sql.SQL("DELETE FROM {} WHERE table_name = %s AND row_id = ANY(%s)").format(target),
            [table, row_ids],
        )
    if discards:
        insert_discards(connection, target, discards)
    counts = connection.execute(
        sql.SQL(
            "SELECT column_name, reason, count(*) FROM {} WHERE table_name = %s GROUP BY 1, 2"
        ).format(target),
        [table],
    )
    return {(column, reason): count for column, reason, count in counts}


def insert_discards(connection: psycopg.Connection, target: sql.Composable, discards) -> None:
    unique = {(d.table, d.row_id, d.column): d for d in discards}
    listed = sql.SQL(", ").join(map(sql.Identifier, DISCARD_COLUMNS))
    statement = sql.SQL(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (table_name, row_id, column_name) "
        "DO UPDATE SET value = EXCLUDED.value, reason = EXCLUDED.reason, "
        "detail = EXCLUDED.detail, received_at = EXCLUDED.received_at, uuid_ts = now()"
    ).format(target, listed, sql.SQL(", ").join([sql.Placeholder()] * len(DISCARD_COLUMNS)))
    with connection.cursor() as cursor:
        cursor.executemany(statement, [discard_row(d) for d in unique.values()])


def discard_row(discard: Discard) -> tuple:
    value = discard.value if isinstance(discard.value, str) else types.json_text(discard.value)
    received = discard.received_at
    if not (isinstance(received, str) and types.is_timestamp(received)):
        received = None
    return (
        discard.table,
        discard.column,
        discard.row_id,
        value.replace("\x00", "\\u0000"),
        discard.reason,
        discard.detail.replace("\x00", "\\u0000"),
        received,
    )
