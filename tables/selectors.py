"""What the table source admin reads: the list with each source's latest run, a source's
run history, and a preview laid out for its page. Reads only."""

import json
from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from .models import Run, TableSource
from .services import Preview

RUN_HISTORY = 20
RUN_COLUMNS = (
    "table_source_id",
    "trigger",
    "status",
    "queued_at",
    "started_at",
    "finished_at",
    "rows_read",
    "added",
    "changed",
    "deleted",
    "unchanged",
    "rejected",
    "events",
    "error_kind",
    "error",
)


def with_latest_run(sources: QuerySet[TableSource]) -> QuerySet[TableSource]:
    """Each source with its latest run's status and queue time: one query for the whole list,
    each subquery a step down the run_source_queued index."""
    latest = Run.objects.filter(table_source=OuterRef("pk")).order_by("-queued_at")
    return sources.annotate(
        last_run_status=Subquery(latest.values("status")[:1]),
        last_run_at=Subquery(latest.values("queued_at")[:1]),
    )


def recent_runs(source: TableSource, limit: int = RUN_HISTORY) -> list[Run]:
    return list(source.runs.only(*RUN_COLUMNS).order_by("-queued_at", "-id")[:limit])


def run_log() -> QuerySet[Run]:
    return Run.objects.select_related("table_source")


@dataclass(frozen=True)
class PreviewRow:
    values: list[str]
    event: str  # the message as indented JSON; empty when the rows cannot make events


def preview_rows(preview: Preview) -> list[PreviewRow]:
    """Each row beside the event it would become (none when the preview found a problem)."""
    events = [json.dumps(message, indent=2, ensure_ascii=False) for message in preview.messages]
    events += [""] * (len(preview.rows) - len(events))
    return [
        PreviewRow([cell_text(value) for value in values], event)
        for values, event in zip(preview.rows, events, strict=True)
    ]


def cell_text(value: Any) -> str:
    """A value as the row's JSON has it: text as is, NULL, the rest (numbers, arrays) as JSON."""
    if value is None:
        return "NULL"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
