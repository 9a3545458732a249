"""The warehouse kind's load (Action.load, destinations/integrations/warehouse.py): a batch of
deliveries' payloads into the warehouse, recorded in the registry, judged item by item for
the dispatcher (docs/warehouse.md, "Loading").

A load that fails (the warehouse down, a lock not granted in time) retries every item: the
tables loaded before the failure are merged again, harmlessly. An event that cannot be laid
out fails alone. A value that does not fit is neither: it is a discard, and its row loads.
"""

import time
from typing import Any

import psycopg
from django.utils import timezone

from destinations.integrations.base import Config, ItemResult, Loaded, Outcome

from . import connection, loader, naming, schemas, services

DELIVERED = ItemResult(Outcome.DELIVERED)
REFUSED = "PRIVATE_ADDRESS"
UNREACHABLE = "ECONNREFUSED"
WAREHOUSE_ERROR = "WAREHOUSE_ERROR"


def load(config: Config, payloads: list[dict[str, Any]]) -> list[Loaded]:
    started_at, start = timezone.now(), time.perf_counter()
    url = config["connection_url"]
    chosen = schemas.schemas_of(
        config.destination_id, schemas.overrides(config.get("schemas")), payloads
    )
    report, code, error = None, "", ""
    try:
        with connection.connect(url) as warehouse:
            report = loader.load(warehouse, zip(chosen, payloads, strict=True), options(config))
    except connection.Unreachable as unreachable:
        code, error = (REFUSED if unreachable.refused else "ENOTFOUND"), str(unreachable)
    except psycopg.OperationalError as failure:
        code, error = UNREACHABLE, connection.first_line(failure, url)
    except psycopg.Error as failure:  # a lock not granted in time, a disk full, ...
        code, error = WAREHOUSE_ERROR, connection.first_line(failure, url)
    if config.destination_id is not None:
        services.record_load(config.destination_id, started_at, len(payloads), report, code, error)
    return [
        Loaded(
            "COPY",
            connection.shown_url(url),
            f"{len(payloads)} events into {', '.join(sorted(set(chosen)))}",
            tuple(range(len(payloads))),
            results(report, code, error, len(payloads)),
            started_at,
            round((time.perf_counter() - start) * 1000),
            answer=report.summary() if report else "",
            error_code=code,
            error_message=error,
        )
    ]


def options(config: Config) -> loader.Options:
    listed = [name.strip() for name in str(config.get("event_tables") or "").split(",")]
    tables = frozenset(naming.table_name(name) for name in listed if name)
    return loader.Options(int(config.get("column_cap") or 1000), tables or None)


def results(report: loader.Report | None, code: str, error: str, count: int) -> tuple:
    if report is None:
        # A refused address stays refused; anything else may pass on a retry.
        outcome = Outcome.FAILED if code == REFUSED else Outcome.RETRY
        return (ItemResult(outcome, code, error),) * count
    return tuple(
        ItemResult(Outcome.FAILED, bad.code, str(bad)) if (bad := report.bad.get(i)) else DELIVERED
        for i in range(count)
    )
