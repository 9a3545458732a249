"""The claim on a full database with a million deliveries waiting (issue 27): what one claim
reads and costs when the backlog is large, from PostgreSQL's own account of it.

A million due deliveries of a mapping of their own are written straight into the preloaded
tables, spread over the last 3.5 days' partitions (a tenth retrying, not due for an hour),
as a destination down for a while leaves them. Then: EXPLAIN (ANALYZE, BUFFERS) of the claim's
due query, as batching.due_deliveries runs it, and the time of whole claims (claim_batch:
the lock, the cap, the due query, the update), each rolled back so that every claim meets the
full backlog. The rows go again afterwards.

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
BACKLOG_SQL = """
INSERT INTO destinations_delivery (event_id, mapping_id, destination_id, status, payload,
    payload_bytes, attempts, created_at, next_attempt_at, replay, event_received_at, part,
    error_code, error_message)
SELECT i, %(mapping)s, %(destination)s,
       CASE WHEN i %% 10 = 0 THEN 'retrying' ELSE 'pending' END, '{"n": 1}'::jsonb, 8,
       CASE WHEN i %% 10 = 0 THEN 1 ELSE 0 END, at,
       CASE WHEN i %% 10 = 0 THEN %(later)s ELSE at END, false, at, 0, '', ''
FROM (SELECT i, %(start)s - i * interval '0.3 s' AS at FROM generate_series(1, %(rows)s) AS i) AS g
"""


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
    started = time.monotonic()
    write_backlog(mapping, rows)
    written_s = time.monotonic() - started
    try:
        plan, claimed = explained_claim(claim_batch, mapping.pk)
        timings = timed_claims(claim_batch, mapping.pk, int(os.environ.get("BENCH_CLAIMS", "50")))
    finally:
        with connection.cursor() as cursor:  # one statement: Django's cascade would list them
            cursor.execute("DELETE FROM destinations_delivery WHERE mapping_id = %s", [mapping.pk])
        destination.delete()
    return {
        "claim_backlog": rows,
        "claim_ms_p50": round(statistics.median(timings), 2),
        "claim_ms_max": round(max(timings), 2),
        "claim_due_query_ms": plan["Actual Total Time"],
        "claim_due_query_sorts": sorts(plan),
        "claim_due_query_rows_read": rows_read(plan),
        "claim": {"claimed": claimed, "backlog_written_s": round(written_s, 1), "plan": plan},
    }


def write_backlog(mapping, rows: int) -> None:
    from infra import partitions

    now = timezone.now()
    partitions.ensure_partitions(now - timedelta(days=4), now + timedelta(days=1))
    params = {"mapping": mapping.pk, "destination": mapping.destination_id, "rows": rows}
    params |= {"start": now, "later": now + timedelta(hours=1)}
    with connection.cursor() as cursor:
        cursor.execute(BACKLOG_SQL, params)


def explained_claim(claim_batch, mapping_id: int) -> tuple[dict[str, Any], int]:
    """The due query's plan as PostgreSQL ran it inside a claim, and how many it claimed."""
    try:
        with transaction.atomic():
            with CaptureQueriesContext(connection) as queries:
                batch = claim_batch(mapping_id)
            [due] = [q["sql"] for q in queries.captured_queries if "SKIP LOCKED" in q["sql"]]
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {due}")
                [explained] = cursor.fetchone()
            raise Rollback
    except Rollback:
        pass
    return explained[0]["Plan"], len(batch.deliveries)


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
    return sum(node["Actual Rows"] for node in nodes(plan) if "Scan" in node["Node Type"])
