"""What the registry's pages read (docs/warehouse.md, "The schema registry")."""

from dataclasses import dataclass

from django.db.models import QuerySet, Sum

from . import types
from .models import Column, DiscardCount, Load, Table


@dataclass(frozen=True)
class Widening:
    column: Column
    to: tuple[str, ...]  # the wider types, nearest first


def columns(table: Table) -> QuerySet[Column]:
    return table.columns.order_by("first_seen", "name")


def widenings(table: Table) -> list[Widening]:
    """The columns an editor may widen, and to what."""
    found = []
    for column in columns(table):
        if wider := types.WIDER.get(types.named(column.type), ()):
            found.append(Widening(column, wider))
    return found


def discards(table: Table) -> QuerySet[DiscardCount]:
    return table.discard_counts.order_by("-count", "column", "reason")


def discarded_total(table: Table) -> int:
    return table.discard_counts.aggregate(total=Sum("count"))["total"] or 0


def recent_loads(table: Table, count: int = 10) -> QuerySet[Load]:
    return Load.objects.filter(destination=table.destination_id)[:count]


def with_counts(tables: QuerySet[Table]) -> QuerySet[Table]:
    return tables.select_related("destination")
