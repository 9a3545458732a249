"""At most N holders of a named slot at once, across processes: PostgreSQL advisory locks.

The locks belong to the database session, so a process that dies frees its slot with its
connection. SQLite (the embedded default) has one writer at a time anyway: every caller gets
a slot there.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def slot(name: str, count: int) -> Iterator[bool]:
    """Hold one of `count` slots named `name` for the block; False when all are taken."""
    if connection.vendor != "postgresql":
        yield True
        return
    taken = next((number for number in range(count) if _try_lock(name, number)), None)
    try:
        yield taken is not None
    finally:
        if taken is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s), %s)", [name, taken])


def _try_lock(name: str, number: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s), %s)", [name, number])
        return cursor.fetchone()[0]
