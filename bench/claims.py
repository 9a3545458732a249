"""The claim on a full database with a million deliveries waiting (issue 27): what one claim
reads and costs when the backlog is large, from PostgreSQL's own account of it.

A million due deliveries of a mapping of their own are written straight into the preloaded
tables, spread over the last 3.5 days' partitions (a tenth retrying, not due for an hour),
as a destination down for a while leaves them. Then: EXPLAIN (ANALYZE, BUFFERS) of the claim's
due query, as batching.due_query builds it, and the time of whole claims (claim_batch:
the lock, the cap, the due query, the update), each rolled back so that every claim meets the
full backlog. The rows go again afterwards. Then the same at a destination that keeps order
per user (issue 30), whose due query reads the lanes too: ten thousand users, one of whom holds
a third of the backlog.

    BENCH_CLAIM_BACKLOG (default 1,000,000), BENCH_CLAIMS (timed claims, default 50)
"""

import os
import statistics
import time
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

# One due delivery every 0.3 s back from `start`, a tenth of them retrying and due only at
# `later` (tests/destinations/delivery/dispatch/test_claim_plan.py writes the same backlog).
# With `users`, each is in a user's lane for per-user order: a third of them one busy user's,
# the rest spread over `users` (delivery/lanes.py); without, in none.
BACKLOG_SQL = """
INSERT INTO destinations_delivery (event_id, mapping_id, destination_id, status, payload,
    payload_bytes, attempts, created_at, next_attempt_at, replay, event_received_at, part,
    error_code, error_message, lane, position)
SELECT i, %(mapping)s, %(destination)s,
       CASE WHEN i %% 10 = 0 THEN 'retrying' ELSE 'pending' END, '{"n": 1}'::jsonb, 8,
       CASE WHEN i %% 10 = 0 THEN 1 ELSE 0 END, at,
       CASE WHEN i %% 10 = 0 THEN %(later)s ELSE at END, false, at, 0, '', '',
       CASE WHEN %(users)s > 0 THEN CASE WHEN i %% 3 = 0 THEN -1 ELSE i %% %(users)s END END,
       CASE WHEN %(users)s > 0 THEN %(rows)s - i END
FROM (SELECT i, %(start)s - i * interval '0.3 s' AS at FROM generate_series(1, %(rows)s) AS i) AS g
"""


# Users of the ordered backlog (and one busy user with a third of it).
ORDERED_USERS = 10_000


class Rollback(Exception):
    """Undoes a timed claim, so that the next meets the same backlog."""


def run() -> dict[str, Any]:
    from bench import fixtures
    from destinations.delivery.batching import claim_batch
    from ingest.sources import create_source

    rows = int(os.environ.get("BENCH_CLAIM_BACKLOG", "1000000"))
    source = create_source("bench: claim")[0]
    destination = fixtures.create_sink_destination("http://127.0.0.1:9", source, name="claims")
    mapping = destination.mappings.get()
    mapping.flush_interval = 0
    mapping.save()
    results: dict[str, Any] = {"claim_backlog": rows}
    try:
        for prefix, users in (("claim", 0), ("claim_ordered", ORDERED_USERS)):
            destination.keep_order = bool(users)
            destination.save()
            results |= measured(prefix, claim_batch, mapping, rows, users)
    finally:
        destination.delete()
    return results


def measured(prefix: str, claim_batch, mapping, rows: int, users: int) -> dict[str, Any]:
    started = time.monotonic()
    write_backlog(mapping, rows, users)
    written_s = time.monotonic() - started
    try:
        plans, claimed = explained_claim(claim_batch, mapping.pk)
        timings = timed_claims(claim_batch, mapping.pk, int(os.environ.get("BENCH_CLAIMS", "50")))
    finally:
        with connection.cursor() as cursor:  # one statement: Django's cascade would list them
            cursor.execute("DELETE FROM destinations_delivery WHERE mapping_id = %s", [mapping.pk])
    figures = {
        f"{prefix}_ms_p50": round(statistics.median(timings), 2),
        f"{prefix}_ms_max": round(max(timings), 2),
        prefix: {"claimed": claimed, "backlog_written_s": round(written_s, 1), "plans": plans},
    }
    for query, plan in plans.items():
        figures[f"{prefix}_{query}_query_ms"] = plan["Actual Total Time"]
        figures[f"{prefix}_{query}_query_sorts"] = sorts(plan)
        figures[f"{prefix}_{query}_query_rows_read"] = rows_read(plan)
    return figures


def write_backlog(mapping, rows: int, users: int = 0) -> None:
    from infra import partitions

    now = timezone.now()
    partitions.ensure_partitions(now - timedelta(days=4), now + timedelta(days=1))
    params = {"mapping": mapping.pk, "destination": mapping.destination_id, "rows": rows}
    params |= {"start": now, "later": now + timedelta(hours=1), "users": users}
    with connection.cursor() as cursor:
        cursor.execute(BACKLOG_SQL, params)


def explained_claim(claim_batch, mapping_id: int) -> tuple[dict[str, dict[str, Any]], int]:
    """The plan of the claim's due query as PostgreSQL ran it inside a claim (at a destination
    that keeps order, the same statement reads the lanes too), and how many it claimed."""
    try:
        with transaction.atomic():
            with CaptureQueriesContext(connection) as queries:
                batch = claim_batch(mapping_id)
            plans = {}
            if found := [q["sql"] for q in queries.captured_queries if "SKIP LOCKED" in q["sql"]]:
                plans["due"] = explained(found[0])
            raise Rollback
    except Rollback:
        pass
    return plans, len(batch.deliveries) if batch else 0


def explained(sql: str) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
        [explained] = cursor.fetchone()
    return explained[0]["Plan"]


def timed_claims(claim_batch, mapping_id: int, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        try:
            with transaction.atomic():
                claim_batch(mapping_id)
                timings.append((time.perf_counter() - started) * 1000)
                raise Rollback
        except Rollback:
            pass
    return timings


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *[node for child in plan.get("Plans", []) for node in nodes(child)]]


def sorts(plan: dict[str, Any]) -> int:
    return sum("Sort" in node["Node Type"] for node in nodes(plan))


def rows_read(plan: dict[str, Any]) -> int:
    """Index entries and rows read from the tables (a lane's scan runs once per lane)."""
    read = [node for node in nodes(plan) if "Relation Name" in node]
    return sum(node["Actual Rows"] * node["Actual Loops"] for node in read)
