"""A warehouse: a PostgreSQL database of its own on the local server, made for the test and
dropped after it (tests/tables makes its table sources' databases the same way)."""

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

# A real Celery worker on the test database runs the loads of the crash test.
from tests.destinations.delivery.conftest import start_worker  # noqa: F401
from tests.tables.conftest import admin_url, drop_database, new_database
from warehouse import loader


class Warehouse:
    def __init__(self, name: str) -> None:
        self.name = name
        self.url = admin_url(name)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)

    def load(self, events: list[dict[str, Any]], schema: str = "app", **options) -> loader.Report:
        with self.connect() as connection:
            return loader.load(connection, [(schema, e) for e in events], loader.Options(**options))

    def rows(self, table: str, schema: str = "app", order: str = "id") -> list[dict[str, Any]]:
        statement = sql.SQL("SELECT * FROM {} ORDER BY {}").format(
            sql.Identifier(schema, table), sql.SQL(order)
        )
        with self.connect() as connection, connection.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(statement).fetchall()

    def tables(self, schema: str = "app") -> set[str]:
        with self.connect() as connection:
            found = connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                [schema],
            )
            return {name for (name,) in found}

    def columns(self, table: str, schema: str = "app") -> dict[str, str]:
        with self.connect() as connection:
            found = connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                [schema, table],
            )
            return dict(found.fetchall())

    def discards(self, schema: str = "app") -> list[dict[str, Any]]:
        return self.rows("discards", schema, order="table_name, row_id, column_name")


@pytest.fixture
def warehouse() -> Iterator[Warehouse]:
    name = new_database()
    yield Warehouse(name)
    drop_database(name)
