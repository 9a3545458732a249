"""What changes the schema registry (docs/warehouse.md, "The schema registry"): a load's
report recorded, a column widened in the warehouse and in the registry."""

from datetime import datetime

import psycopg
from django.db import transaction

from . import connection, merge, types
from .loader import Report
from .models import Column, DiscardCount, Load, Table


class CannotWiden(Exception):
    pass


@transaction.atomic
def record_load(
    destination_id: int,
    started_at: datetime,
    events: int,
    report: Report | None,
    error_code: str = "",
    error: str = "",
) -> Load:
    """The load in the history, and what its tables now are: new columns, names past the cap,
    discard counts."""
    load = Load.objects.create(
        destination_id=destination_id,
        started_at=started_at,
        duration_ms=report.duration_ms if report else 0,
        events=events,
        rows=report.rows if report else 0,
        tables=table_summaries(report) if report else {},
        error_code=error_code,
        error=error,
    )
    for loaded in report.tables if report else ():
        record_table(destination_id, loaded, started_at)
    return load


def table_summaries(report: Report) -> dict[str, dict]:
    return {
        f"{t.schema}.{t.table}": {
            "rows": t.rows,
            "new_columns": [column.name for column in t.added],
            "discarded": sum(t.discarded.values()),
            "duration_ms": t.duration_ms,
        }
        for t in report.tables
    }


def record_table(destination_id: int, loaded: merge.TableLoad, now: datetime) -> None:
    table, _ = Table.objects.get_or_create(
        destination_id=destination_id,
        schema=loaded.schema,
        name=loaded.table,
        defaults={"first_seen": now, "last_loaded": now},
    )
    table.last_loaded = now
    table.rows_loaded += loaded.rows
    if loaded.overflowed:
        table.overflowed = sorted(set(table.overflowed) | set(loaded.overflowed))
    table.save(update_fields=["last_loaded", "rows_loaded", "overflowed"])
    for column in loaded.added:
        Column.objects.get_or_create(
            table=table,
            name=column.name,
            defaults={
                "type": types.display(column.type),
                "first_seen": now,
                "first_row_id": column.first_row_id[:255],
            },
        )
    if loaded.discard_totals is not None or loaded.discarded:
        count_discards(table, loaded.discard_totals or {}, now)


def count_discards(table: Table, totals: dict[tuple[str, str], int], now: datetime) -> None:
    table.discard_counts.all().delete()
    DiscardCount.objects.bulk_create(
        DiscardCount(table=table, column=column[:255], reason=reason, count=count, updated=now)
        for (column, reason), count in totals.items()
    )


def widen_column(column: Column, to: str) -> Column:
    """Change the column's type in the warehouse to a wider one (bigint -> double precision
    -> text); its values are converted by PostgreSQL, and the values discarded until now can
    then be reloaded (reloads.py)."""
    if to not in types.WIDER.get(types.named(column.type), ()):
        raise CannotWiden(f"{column.type} cannot be widened to {to}")
    table = column.table
    try:
        with connection.connect(table.destination.config()["connection_url"]) as warehouse:
            merge.widen(warehouse, table.schema, table.name, column.name, to)
    except connection.Unreachable as error:
        raise CannotWiden(f"the warehouse cannot be reached: {error}") from None
    except psycopg.Error as error:
        raise CannotWiden(
            connection.first_line(error, table.destination.config()["connection_url"])
        ) from None
    column.type = types.display(to)
    column.save(update_fields=["type"])
    return column
