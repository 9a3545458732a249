"""A "warehouse": a PostgreSQL database of its own, made for the test, that a table source reads."""

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from django.conf import settings
from psycopg import sql

from ingest.models import Source
from tables.models import TableSource

# A real Celery worker on the test database runs the runs of the crash test.
from tests.destinations.delivery.conftest import start_worker  # noqa: F401


class Warehouse:
    def __init__(self, url: str) -> None:
        self.url = url

    def execute(self, statement: str, params=()) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(statement, params)

    def scores(self, rows: list[tuple]) -> None:
        """Datagran's table: a customer id and the model's scores."""
        self.execute(
            "CREATE TABLE IF NOT EXISTS customer_scores (customer_id integer PRIMARY KEY, "
            "email text, churn_score numeric(5,4), segment text, scored_at timestamptz)"
        )
        with psycopg.connect(self.url, autocommit=True) as connection, connection.cursor() as cur:
            cur.executemany("INSERT INTO customer_scores VALUES (%s, %s, %s, %s, %s)", rows)


def admin_url(database: str) -> str:
    """The test database's server, or, when Switchyard runs on SQLite, the local PostgreSQL."""
    default = settings.DATABASES["default"]
    if default["ENGINE"] != "django.db.backends.postgresql":
        default = {}
    host, port = default.get("HOST") or "127.0.0.1", default.get("PORT") or 5432
    return f"postgresql://{default.get('USER') or 'postgres'}@{host}:{port}/{database}"


def new_database() -> str:
    """A database of its own on the local server, named so that xdist workers and other
    checkouts never share one; the test is skipped when no server answers."""
    name = f"warehouse_{uuid.uuid4().hex[:12]}"
    try:
        server = psycopg.connect(admin_url("postgres"), autocommit=True, connect_timeout=2)
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL server answers to hold the warehouse")
    with server as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(admin_url("postgres"), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def warehouse() -> Iterator[Warehouse]:
    name = new_database()
    yield Warehouse(admin_url(name))
    drop_database(name)


@pytest.fixture
def table_source(db, warehouse) -> Callable[..., TableSource]:
    def make(**fields) -> TableSource:
        url = fields.pop("url", warehouse.url)
        source = Source.objects.get_or_create(name="Warehouse")[0]
        defaults = {
            "name": "Sales predictions",
            "table": "customer_scores",
            "key_columns": "customer_id",
            "identity_column": "email",
            "event_name": "Sales Prediction",
        }
        table = TableSource(source=source, **(defaults | fields))
        table.set_connection_url(url)
        table.full_clean()
        table.save()
        return table

    return make
