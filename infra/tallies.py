"""Hourly counters kept as rows: one upsert adds to them, whatever the number of keys."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import connection, models


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def add_counts(
    model: type[models.Model],
    counts: Mapping[tuple[Any, ...], int],
    key_columns: tuple[str, ...],
    latest: Mapping[tuple[Any, ...], Mapping[str, Any]] | None = None,
) -> None:
    """Add `counts[key]` to the row of each key (creating it), in one statement.

    `latest` optionally gives, per key, columns to overwrite with the newest value (an example
    of what was counted). Django's update_conflicts can only overwrite, never add, hence SQL.
    """
    if not counts:
        return
    extra_columns = sorted({column for values in (latest or {}).values() for column in values})
    columns = [*key_columns, "count", *extra_columns]
    adapt_time = connection.ops.adapt_datetimefield_value
    params: list[Any] = []
    for key, count in counts.items():
        extras = (latest or {}).get(key, {})
        row = [*key, count, *(extras.get(column, "") for column in extra_columns)]
        params.extend(adapt_time(v) if isinstance(v, datetime) else v for v in row)
    table = model._meta.db_table
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(counts))
    updates = [f"count = {table}.count + excluded.count"]
    updates += [f"{column} = excluded.{column}" for column in extra_columns]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {placeholders} "
            f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {', '.join(updates)}",
            params,
        )
