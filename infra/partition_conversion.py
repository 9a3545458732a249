"""Converting an ordinary PostgreSQL table into a partitioned one, keeping every row.

Run once per table by a migration (so an installation that upgrades converts its tables as it
migrates; docs/storage.md, "Upgrading an installation", says how long that takes). The new
table has the old one's columns, defaults, checks and identity; its primary key gains the
partition key (PostgreSQL requires it); its indexes are the old ones, except unique indexes
that lack the key, which become per-partition indexes (`Table.local_unique`); its foreign keys
are the old ones that point at ordinary tables (a foreign key cannot point at a partitioned
table without the key).
"""

from django.db import connection
from django.utils import timezone

from .partitions import AHEAD, Table, ensure_table, is_partitioned, quote

INDEXES_SQL = """
SELECT i.relname, pg_get_indexdef(i.oid), x.indisunique, x.indisprimary,
       array(SELECT a.attname FROM pg_attribute a
             WHERE a.attrelid = x.indrelid AND a.attnum = ANY(x.indkey))
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = to_regclass(%s)
"""
# Foreign keys to ordinary tables only: those to partitioned tables (or to itself) go.
FOREIGN_KEYS_SQL = """
SELECT c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c JOIN pg_class target ON target.oid = c.confrelid
WHERE c.conrelid = to_regclass(%s) AND c.contype = 'f'
  AND c.confrelid <> c.conrelid AND target.relkind = 'r'
"""


def convert(table: Table) -> None:
    if connection.vendor != "postgresql" or is_partitioned(table.name):
        return
    name, old = quote(table.name), quote(f"{table.name}_unpartitioned")
    with connection.cursor() as cursor:
        cursor.execute(INDEXES_SQL, [name])
        indexes = cursor.fetchall()
        cursor.execute(FOREIGN_KEYS_SQL, [name])
        foreign_keys = cursor.fetchall()
        set_aside(cursor, table.name, [index[0] for index in indexes])
        cursor.execute(
            f"CREATE TABLE {name} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            f"INCLUDING IDENTITY INCLUDING STORAGE) PARTITION BY RANGE ({quote(table.key)})"
        )
        cursor.execute(f"ALTER TABLE {name} ADD PRIMARY KEY (id, {quote(table.key)})")
        cursor.execute(f"SELECT min({quote(table.key)}) FROM {old}")
        oldest = cursor.fetchone()[0] or timezone.now()
        ensure_table(table, oldest, timezone.now() + AHEAD)
        cursor.execute(f"INSERT INTO {name} SELECT * FROM {old}")
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, 'id'), coalesce(max(id), 0) + 1, false) "
            f"FROM {name}",
            [name],
        )
        for _, definition, unique, primary, columns in indexes:
            if not primary and not (unique and table.key not in columns):
                cursor.execute(definition)
        for constraint, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {name} ADD CONSTRAINT {quote(constraint)} {definition}")
        cursor.execute(f"DROP TABLE {old} CASCADE")
        cursor.execute(f"ANALYZE {name}")


def set_aside(cursor, table: str, indexes: list[str]) -> None:
    """Rename the old table and its indexes, so the new ones can take their names."""
    cursor.execute(f"ALTER TABLE {quote(table)} RENAME TO {quote(f'{table}_unpartitioned')}")
    for number, index in enumerate(indexes):
        cursor.execute(
            f"ALTER INDEX {quote(index)} RENAME TO {quote(f'unpartitioned_{number}_{index}'[:63])}"
        )
