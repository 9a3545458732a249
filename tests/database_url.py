"""Print the database URL `make test` should use: PostgreSQL if it answers, else SQLite."""

import os
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/switchyard"
SQLITE = f"sqlite:///{Path(__file__).resolve().parent.parent / 'var' / 'test.sqlite3'}"


def database_url() -> str:
    url = os.environ.get("DATABASE_URL") or LOCAL_POSTGRES
    if not url.startswith(("postgres://", "postgresql://")):
        return url
    # The tests create their own databases, so only the server needs to answer.
    server = urlsplit(url)._replace(scheme="postgresql", path="/postgres").geturl()
    try:
        psycopg.connect(server, connect_timeout=2).close()
    except psycopg.Error:
        return SQLITE
    return url


if __name__ == "__main__":
    print(database_url())
