"""What the runs remember of each row (RowState), read and written a chunk at a time.

Each call is one statement with one parameter however many rows the chunk has: Django's
bulk_create and `__in` bind a parameter per value, and psycopg's quoting of those in Python
was most of a run's time (profiled on 50,000 rows).
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from infra.bulk import Upsert, insert_rows, listed

from .models import RowState

UPSERT = Upsert(
    unique=("table_source_id", "key_digest"),
    update=("key", "identity", "fingerprint", "version", "seen_run"),
)


@dataclass(frozen=True, slots=True)
class Known:
    fingerprint: uuid.UUID | None  # None: the row was deleted
    version: int
    seen_run: int


@dataclass(frozen=True, slots=True)
class Seen:
    key_digest: uuid.UUID
    key: str
    identity: str
    fingerprint: uuid.UUID | None
    version: int


def of_rows(table_source_id: int, digests: Iterable[uuid.UUID]) -> QuerySet[RowState]:
    keys = listed([digest.hex for digest in digests], "uuid")
    return RowState.objects.filter(table_source_id=table_source_id, key_digest__in=keys)


def known(table_source_id: int, digests: list[uuid.UUID]) -> dict[uuid.UUID, Known]:
    rows = of_rows(table_source_id, digests).values_list(
        "key_digest", "fingerprint", "version", "seen_run"
    )
    return {digest: Known(*rest) for digest, *rest in rows}


def mark_seen(table_source_id: int, digests: list[uuid.UUID], run_id: int) -> None:
    if digests:
        of_rows(table_source_id, digests).update(seen_run=run_id)


def remember(table_source_id: int, rows: list[Seen], run_id: int) -> None:
    insert_rows(
        RowState,
        (
            {
                "table_source_id": table_source_id,
                "key_digest": row.key_digest,
                "key": row.key,
                "identity": row.identity,
                "fingerprint": row.fingerprint,
                "version": row.version,
                "seen_run": run_id,
            }
            for row in rows
        ),
        upsert=UPSERT,
    )
