"""make bench's warehouse piece: the loader's throughput into a local warehouse (issue 31).

~1 KB track events of 10 names (a context as analytics.js sends it, a dozen properties, a
nested object and an array) are made batch by batch, never all at once, and loaded by the
warehouse's loader (warehouse/loader.py: layout, COPY into a temporary table, merge on id, one
transaction per table) into a PostgreSQL database of its own on the bench's server, created
here and dropped at the end. Each event makes two rows (tracks and its event's table).
Measured, in this process, on one core:
- events/s over BENCH_WAREHOUSE_EVENTS events (default 1,000,000) in batches of the mapping's
  default size (5,000);
- this process's RSS after 10 % and 100 % of the events, and its peak (flat memory: one batch
  in memory at a time).

The loader is measured alone: the delivery pipeline around a load (claim, attempt log) is
bench/delivery.py's, and a batch of 5,000 costs it one claim.

Alone, without Django or a Switchyard database:

    BENCH_WAREHOUSE_EVENTS=100000 .venv/bin/python bench/warehouse.py

which prints the figures and writes bench/results/warehouse.json. Knobs:
BENCH_WAREHOUSE_EVENTS, BENCH_WAREHOUSE_BATCH, BENCH_WAREHOUSE_DATABASE_URL (alone only; the
warehouse database is made beside it), BENCH_WAREHOUSE_PROFILE (a path: cProfile statistics).
"""

import os
import sys
from pathlib import Path

# Run as a script, this file's folder is on sys.path but the project root is not.
BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

import cProfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

import orjson  # noqa: E402
import psycopg  # noqa: E402

from bench import database, report  # noqa: E402
from bench.processes import rss_kb  # noqa: E402
from warehouse import loader  # noqa: E402

NAMES = [f"Bench Event {n}" for n in range(10)]
SCHEMA = "bench"
CONTEXT = {
    "library": {"name": "analytics.js", "version": "5.2.0"},
    "page": {
        "path": "/pricing",
        "referrer": "https://www.example.com/",
        "title": "Pricing - Example",
        "url": "https://app.example.com/pricing?plan=pro",
    },
    "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36",
    "locale": "en-US",
    "ip": "203.0.113.7",
    "campaign": {"name": "spring", "source": "newsletter", "medium": "email"},
}


def events_from_env() -> int:
    return int(os.environ.get("BENCH_WAREHOUSE_EVENTS", "1000000"))


def event(number: int) -> dict[str, Any]:
    """One ~1 KB track event, as the Tracking API stores it."""
    return {
        "type": "track",
        "event": NAMES[number % len(NAMES)],
        "messageId": f"bench-{number:09d}",
        "userId": f"user-{number % 5000}",
        "anonymousId": f"anon-{number % 7000:08d}-4c1e-9f0b-2d7a3e5b6c8d",
        "timestamp": "2026-03-01T12:00:00.000Z",
        "originalTimestamp": "2026-03-01T12:00:00.000Z",
        "sentAt": "2026-03-01T12:00:00.100Z",
        "receivedAt": "2026-03-01T12:00:00.250Z",
        "context": CONTEXT,
        "properties": {
            "order_id": f"order-{number}",
            "revenue": number % 1000 / 10,
            "quantity": number % 7,
            "currency": "USD",
            "plan": "pro",
            "coupon": None,
            "trial": number % 2 == 0,
            "category": "subscriptions",
            "product": {"sku": f"SKU-{number % 300}", "name": "Pro plan, yearly"},
            "tags": ["web", "checkout"],
            "checkout_step": 3,
            "shipping_method": "digital",
        },
        "integrations": {},
    }


def batches(count: int, size: int) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    for start in range(0, count, size):
        yield [(SCHEMA, event(n)) for n in range(start, min(count, start + size))]


def warehouse_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{database.database_name(base_url)}_loader"))


def run(base_url: str, count: int, batch: int = 5000) -> dict[str, Any]:
    url = warehouse_url(base_url)
    database.recreate(url)
    try:
        return measure(url, count, batch)
    finally:
        drop(url)


def drop(url: str) -> None:
    with psycopg.connect(database.maintenance_url(url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database.database_name(url)}" WITH (FORCE)')


def measure(url: str, count: int, batch: int) -> dict[str, Any]:
    pid = os.getpid()
    size = len(orjson.dumps(event(0)))
    options = loader.Options()
    rss, peak, loaded = {}, 0, 0
    profile = cProfile.Profile() if os.environ.get("BENCH_WAREHOUSE_PROFILE") else None
    with psycopg.connect(url, autocommit=True) as connection:
        loader.load(connection, next(batches(len(NAMES), len(NAMES))), options)  # tables made
        began = time.perf_counter()
        if profile:
            profile.enable()
        for pairs in batches(count, batch):
            loader.load(connection, pairs, options)
            loaded += len(pairs)
            peak = max(peak, rss_kb(pid))
            if "10" not in rss and loaded >= count // 10:
                rss["10"] = rss_kb(pid)
        seconds = time.perf_counter() - began
        if profile:
            profile.disable()
            profile.dump_stats(os.environ["BENCH_WAREHOUSE_PROFILE"])
        rows = connection.execute(f"SELECT count(*) FROM {SCHEMA}.tracks").fetchone()[0]
    assert rows == count, f"{rows} rows in tracks for {count} events"
    return {
        "warehouse_events_per_s": round(count / seconds),
        "warehouse_event_bytes": size,
        "warehouse_events": count,
        "warehouse_batch": batch,
        "warehouse_rss_at_10pct_mb": round(rss.get("10", 0) / 1024, 1),
        "warehouse_rss_at_100pct_mb": round(rss_kb(pid) / 1024, 1),
        "warehouse_rss_peak_mb": round(peak / 1024, 1),
    }


ROWS = tuple(row for row in report.ROWS if row.key.startswith("warehouse_"))


def main() -> int:
    base_url = os.environ.get(
        "BENCH_WAREHOUSE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/switchyard_bench"
    )
    count = events_from_env()
    batch = int(os.environ.get("BENCH_WAREHOUSE_BATCH", "5000"))
    print(f"[bench] warehouse loader: {count:,} events in batches of {batch:,}", flush=True)
    results = run(base_url, count, batch)
    print(report.table(results, ROWS))
    print(f"results: {report.write(results, 'warehouse.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
