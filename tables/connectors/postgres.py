"""PostgreSQL (and what speaks its protocol: Redshift, Aurora, Supabase, Neon, ...).

The rows stream through a server-side cursor, so memory stays flat whatever the table's
size, inside one READ ONLY, REPEATABLE READ transaction: a query that writes fails, and a
run sees one snapshot of the table from its first chunk to its last.
"""

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg
from psycopg import errors, sql

from infra.addresses import Unresolvable

from . import postgres_target
from .base import ReadFailed, Result, Select

CONNECT_TIMEOUT_SECONDS = 10
APPLICATION_NAME = "switchyard-table-source"


def vet(url: str) -> None:
    with suppress(Unresolvable):  # judged when connecting, from the worker's DNS
        postgres_target.keywords(url)


def check(url: str) -> str:
    with connect(url, timeout_seconds=CONNECT_TIMEOUT_SECONDS) as connection:
        return f"connected: PostgreSQL {connection.info.parameter_status('server_version')}"


@contextmanager
def open(url: str, select: Select, chunk_rows: int) -> Iterator[Result]:
    with connect(url, select.timeout_seconds) as connection:
        cursor = connection.cursor(name="switchyard_rows")
        with translated():
            cursor.execute(statement(select))
        columns = [column.name for column in cursor.description or []]
        try:
            yield Result(columns, chunks(cursor, chunk_rows))
        finally:
            # Closing a connection that is in the middle of reading must not mask why.
            with translated():
                cursor.close()


@contextmanager
def connect(url: str, timeout_seconds: int) -> Iterator[psycopg.Connection]:
    try:
        target = postgres_target.keywords(url)
    except Unresolvable as error:
        raise ReadFailed(ReadFailed.UNREACHABLE, str(error)) from None
    try:
        connection = psycopg.connect(
            **target, connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name=APPLICATION_NAME
        )
    except psycopg.Error as error:  # a malformed option too: nothing was reached
        raise ReadFailed(ReadFailed.UNREACHABLE, first_line(error)) from None
    try:
        connection.read_only = True
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with translated():
            # SET LOCAL: it ends with the transaction, so a pooler's next client never has it.
            connection.execute(
                "SELECT set_config('statement_timeout', %s, true)", [f"{timeout_seconds}s"]
            )
        yield connection
    finally:
        connection.close()


def statement(select: Select) -> sql.Composable:
    if select.table:
        return sql.SQL("SELECT * FROM {}").format(sql.Identifier(*select.table.split(".")))
    return sql.SQL(select.query.strip().rstrip(";"))


def chunks(cursor: psycopg.ServerCursor, chunk_rows: int) -> Iterator[list[tuple]]:
    while True:
        with translated():
            rows = cursor.fetchmany(chunk_rows)
        if not rows:
            return
        yield rows


@contextmanager
def translated() -> Iterator[None]:
    """psycopg's errors as ReadFailed, by what the run history should say."""
    try:
        yield
    except errors.QueryCanceled as error:
        raise ReadFailed(ReadFailed.TIMEOUT, first_line(error)) from None
    except errors.ReadOnlySqlTransaction as error:
        raise ReadFailed(
            ReadFailed.READ_ONLY, f"{first_line(error)} (table sources only read)"
        ) from None
    except psycopg.OperationalError as error:
        raise ReadFailed(ReadFailed.UNREACHABLE, first_line(error)) from None
    except psycopg.Error as error:
        raise ReadFailed(ReadFailed.QUERY, first_line(error)) from None


def first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
