"""Reaching a warehouse an editor named (docs/warehouse.md, "Connecting"): the URL goes
through the address policy table sources obey (infra/postgres_target.py: no socket, no local
file or credential, no private address unless allowed, never Switchyard's own database), is
shown without its password, and Test connection checks the rights a load needs."""

import uuid
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from infra.addresses import Unresolvable
from infra.postgres_target import TargetRefused, keywords
from tables.connectors import redact

from . import loader

CHECKED_RIGHTS = "create schema, create table, alter, COPY"


class Unreachable(Exception):
    """The URL may not (`refused`), or cannot, be connected to; the message never quotes the
    password."""

    def __init__(self, message: str, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


def url_problem(url: Any) -> str | None:
    """What the policy says of `url` without connecting (a host that does not resolve yet is
    judged when connecting), for the setting's check."""
    if not isinstance(url, str):
        return "must be a postgresql:// URL"
    if urlsplit(url).scheme not in ("postgres", "postgresql"):
        return "must be a postgresql:// URL"
    with suppress(Unresolvable):
        try:
            keywords(url)
        except TargetRefused as refusal:
            return str(refusal)
    return None


def connect(url: str) -> psycopg.Connection:
    """A connection to the warehouse at the address the policy checked; Unreachable if the
    policy refuses it or its host has no address; psycopg's errors if the server says no."""
    try:
        checked = keywords(url)
    except TargetRefused as refusal:
        raise Unreachable(str(refusal), refused=True) from None
    except Unresolvable as error:
        raise Unreachable(str(error), refused=False) from None
    return loader.connect(checked)


def shown_url(url: str) -> str:
    """The URL as the attempt log and the admin show it: no password, no options."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "postgresql://(a malformed URL)"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, "", ""))


def check_rights(url: str) -> tuple[bool, str]:
    """Log in, then do in a transaction rolled back what a load does: create a schema and a
    table, alter it and COPY into it."""
    try:
        with connect(url) as connection:
            version = connection.info.parameter_status("server_version")
            rehearse_load(connection)
    except Unreachable as error:
        return False, str(error)
    except psycopg.Error as error:
        return False, first_line(error, url)
    return True, f"connected to PostgreSQL {version}; allowed to {CHECKED_RIGHTS}"


def rehearse_load(connection: psycopg.Connection) -> None:
    name = f"switchyard_check_{uuid.uuid4().hex[:8]}"
    schema, table = sql.Identifier(name), sql.Identifier(name, "probe")
    with connection.transaction(force_rollback=True):
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        connection.execute(sql.SQL("CREATE TABLE {} (id text PRIMARY KEY)").format(table))
        connection.execute(sql.SQL("ALTER TABLE {} ADD COLUMN n bigint").format(table))
        with connection.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(table)) as copy:
            copy.write_row(("probe", 1))


def first_line(error: Exception, url: str) -> str:
    """A driver error's first line, without the URL or its password (libpq may quote them)."""
    return redact((str(error).strip().splitlines() or [type(error).__name__])[0], url)
