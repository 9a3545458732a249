"""PostgreSQL warehouse: events loaded into a PostgreSQL database in Segment's warehouse
layout, so that SQL and dbt models written for a Segment warehouse run unchanged
(docs/warehouse.md).

Not an HTTP API: the action's `load` does the work (COPY into a temporary table, merged on
`id`; the `warehouse` app), and its `build` shows the rows a load would write, which is what
Test mapping's dry run prints. The load interval is the mapping's flush interval.
"""

from typing import Any

import orjson

from warehouse import layout
from warehouse.connection import shown_url, url_problem

from .base import Action, Config, ConnectionTest, Field, Kind, Loaded, Preset, Request, Setting

DEFAULT_BATCH_SIZE = 5000
MAX_BATCH_SIZE = 20000
EVERY_CALL = " or ".join(
    f'type = "{kind}"' for kind in ("track", "identify", "page", "screen", "group", "alias")
)


def build_rows(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
    """The rows each event would become, by table, before types decide what fits."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for payload in payloads:
        try:
            laid = layout.lay_out(payload.get("event"), None)
        except layout.BadEvent as bad:
            rows.setdefault("(not loaded)", []).append({"error": bad.code, "message": str(bad)})
            continue
        for row in laid.rows:
            rows.setdefault(row.table, []).append(row.values)
    body = orjson.dumps(rows, option=orjson.OPT_INDENT_2)
    url = shown_url(config.get("connection_url") or "postgresql://")
    return [Request("COPY", url, {}, body, tuple(range(len(payloads))))]


def load_events(config: Config, payloads: list[dict[str, Any]]) -> list[Loaded]:
    # Imported when a load runs: the warehouse's registry is Django models, which must not be
    # imported while the catalog is (destinations.models reads the catalog).
    from warehouse import hook

    return hook.load(config, [payload.get("event") for payload in payloads])


def check_connection(config: Config) -> tuple[bool, str]:
    from warehouse.connection import check_rights

    return check_rights(config["connection_url"])


def at_least(minimum: int, unit: str):
    def check(value: Any) -> str | None:
        return None if float(value) >= minimum else f"must be at least {minimum} {unit}"

    return check


LOAD = Action(
    key="load",
    title="Load",
    description="Load events into the warehouse, in Segment's tables.",
    fields=(Field("event", "Event", "object", True, {"@path": "$."}, "The event to load."),),
    build=build_rows,
    load=load_events,
    batching=True,
    max_batch_size=MAX_BATCH_SIZE,
    default_batch_size=DEFAULT_BATCH_SIZE,
    default_trigger=EVERY_CALL,
)

KIND = Kind(
    key="postgres_warehouse",
    name="PostgreSQL warehouse",
    description="Every event in PostgreSQL, in Segment's warehouse tables, for SQL and dbt.",
    docs_url="https://segment.com/docs/connections/storage/warehouses/schema/",
    # Nothing goes over HTTP; the connection URL says where the warehouse is.
    default_base_url="",
    settings=(
        Setting(
            "connection_url",
            "Connection URL",
            "password",
            required=True,
            help="postgresql://user:password@host:5432/database (sslmode=... allowed). The "
            "user needs to create schemas and tables in it.",
            check=url_problem,
        ),
        Setting(
            "load_interval",
            "Load interval (seconds)",
            "number",
            default=300,
            help="How long events wait to be loaded together; at least 30 seconds.",
            check=at_least(30, "seconds"),
            sets_flush_interval=True,
        ),
        Setting(
            "event_tables",
            "Event tables",
            help="The track events that get a table of their own, by name, separated by "
            "commas; empty: every event. tracks holds them all either way.",
        ),
        Setting(
            "column_cap",
            "Column cap",
            "number",
            default=1000,
            help="Columns per table at most; past it, new properties go to the _overflow "
            "column (JSON).",
            check=at_least(50, "columns"),
            advanced=True,
        ),
        Setting(
            "schemas",
            "Schemas",
            help="One 'Source name = schema' per line; a source not listed loads into its "
            "name, snake_cased.",
            advanced=True,
        ),
    ),
    actions=(LOAD,),
    presets=(Preset("Load every event", "load", EVERY_CALL),),
    connection_test=ConnectionTest(run=check_connection),
)
