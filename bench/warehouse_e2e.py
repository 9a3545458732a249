"""make bench's warehouse end to end (issue 31): from /v1/batch to the row queryable in the
warehouse, through the whole stack (web, router, dispatcher, loader).

A PostgreSQL warehouse destination loads into a database of its own on the bench's server
(made here, dropped at the end) every BENCH_WAREHOUSE_E2E_INTERVAL seconds (default 30, the
shortest load interval). The open-loop generator sends it BENCH_WAREHOUSE_E2E_EPS track
events a second (default 100: fewer than a batch of 5,000 arrive in an interval, so the
interval decides when a load goes, the case the target is about) for
BENCH_WAREHOUSE_E2E_SECONDS (default 120).

A row's latency is its `uuid_ts`, now() in the transaction of the load that merged it (the
row is queryable once that commits, milliseconds later), less its `received_at`, when the
Tracking API took the event. The figures are read in the warehouse over every event sent:
p50, p95 and the maximum. Target: p95 at most the load interval + 5 s.
"""

import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench import database, delivery, openloop
from bench.delivery import Stage
from bench.payloads import request_headers

BATCH = 100  # events per /v1/batch request


@dataclass(frozen=True)
class Plan:
    enabled: bool
    events_per_second: int
    seconds: float
    interval: int

    @classmethod
    def from_env(cls) -> "Plan":
        return cls(
            enabled=os.environ.get("BENCH_WAREHOUSE_E2E", "1") != "0",
            events_per_second=int(os.environ.get("BENCH_WAREHOUSE_E2E_EPS", "100")),
            seconds=float(os.environ.get("BENCH_WAREHOUSE_E2E_SECONDS", "120")),
            interval=int(os.environ.get("BENCH_WAREHOUSE_E2E_INTERVAL", "30")),
        )


def run(stage: Stage, plan: Plan) -> dict[str, Any]:
    url = warehouse_url(stage.env["DATABASE_URL"])
    delivery.clean_slate(stage, "warehouse-e2e")
    database.recreate(url)
    try:
        write_key = warehouse_destination(url, plan.interval)
        delivery.start_delivery_engine(stage)
        load = send(stage, plan, write_key)
        sent = load.ok * BATCH
        loaded = wait_for_rows(url, sent, timeout=2 * plan.interval + 60)
        latency = latencies(url)
    finally:
        delivery.stop_delivery_engine(stage, "warehouse-e2e")
        database.drop(url)
    delivery.step(
        "warehouse end to end",
        f"{loaded:,} of {sent:,} events loaded; p95 {latency['p95']} s from receipt to queryable",
    )
    return {
        "warehouse_e2e_p50_s": latency["p50"],
        "warehouse_e2e_p95_s": latency["p95"],
        "warehouse_e2e_max_s": latency["max"],
        "warehouse_e2e_target_s": plan.interval + 5,
        "warehouse_e2e": {"plan": plan.__dict__, "sent": sent, "loaded": loaded},
    }


def warehouse_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{database.database_name(base_url)}_e2e"))


def warehouse_destination(url: str, interval: int) -> str:
    """A source of its own and the warehouse destination that loads all its events; returns
    the source's write key."""
    from destinations.services.destinations import create_destination
    from ingest.sources import create_source

    source = create_source("bench: warehouse e2e")[0]
    settings = {"load_interval": interval}
    create_destination(
        "postgres_warehouse",
        "bench warehouse",
        settings,
        secrets={"connection_url": url},
        sources=[source],
    )
    return source.write_key


def send(stage: Stage, plan: Plan, write_key: str) -> openloop.OpenLoopResult:
    rate = plan.events_per_second / BATCH
    url = f"{stage.web_url}/v1/batch"
    generator = openloop.OpenLoop(url, request_headers(write_key), rate, BATCH, plan.seconds)
    generator.start()
    while generator.thread.is_alive():
        generator.thread.join(5.0)
        stage.supervisor.check_alive("worker")
    return generator.join()


def wait_for_rows(url: str, count: int, timeout: float) -> int:
    """Rows in the warehouse's tracks table once all `count` are there, or at the timeout."""
    deadline = time.monotonic() + timeout
    loaded = 0
    while time.monotonic() < deadline:
        loaded = tracks_rows(url)
        if loaded >= count:
            break
        time.sleep(1.0)
    return loaded


def tracks_rows(url: str) -> int:
    with psycopg.connect(url) as warehouse:
        table = tracks_table(warehouse)
        return warehouse.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if table else 0


def tracks_table(warehouse: psycopg.Connection) -> str | None:
    row = warehouse.execute(
        "SELECT quote_ident(table_schema) || '.tracks' FROM information_schema.tables "
        "WHERE table_name = 'tracks'"
    ).fetchone()
    return row[0] if row else None


def latencies(url: str) -> dict[str, float | None]:
    with psycopg.connect(url) as warehouse:
        table = tracks_table(warehouse)
        if table is None:
            return {"p50": None, "p95": None, "max": None}
        p50, p95, most = warehouse.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY s), max(s) "
            f"FROM (SELECT extract(epoch FROM uuid_ts - received_at) AS s FROM {table}) rows"
        ).fetchone()
    return {"p50": round(p50, 2), "p95": round(p95, 2), "max": round(float(most), 2)}
