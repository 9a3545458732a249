"""The router's claim costs O(chunk), not O(backlog) (destinations/delivery/routing.py): on a
million unrouted events over five partitions, without statistics, it reads a chunk of
`event_unrouted` entries and stops; no Sort. Found by make bench-scale's million-event drain,
whose router sorted the whole backlog, on disk, for every chunk of 500."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from destinations.delivery import routing
from infra import partitions
from tests.destinations.delivery.plans import plan_of, scans, sorts

BACKLOG = 1_000_000

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the plan is PostgreSQL's (partitions)"
)

BACKLOG_SQL = """
INSERT INTO ingest_event (source_id, message_id, type, name, user_id, anonymous_id, timestamp,
                          received_at, payload)
SELECT %(source)s, 'm-' || i, 'track', 'Order Completed', 'u', '', at, at, '{}'::jsonb
FROM (SELECT i, %(start)s - i * interval '0.3 s' AS at FROM generate_series(1, %(rows)s) AS i) AS g
"""


def test_a_router_claim_reads_a_chunk_of_the_unrouted_index_whatever_the_backlog(source):
    # Days of partitions of the test's own, past any other test's: created in its transaction,
    # they go with its rollback, rows and all, and leave no million dead rows in today's.
    start = timezone.now() - timedelta(days=40)
    partitions.ensure_partitions(start - timedelta(days=4), start + timedelta(days=1))
    with connection.cursor() as cursor:
        cursor.execute(BACKLOG_SQL, {"source": source.pk, "start": start, "rows": BACKLOG})

    with CaptureQueriesContext(connection) as queries:
        claimed = routing.claim_unrouted_events()
    [claim] = [q["sql"] for q in queries if "SKIP LOCKED" in q["sql"]]
    plan = plan_of(claim)

    assert not sorts(plan)
    read = scans(plan)
    assert len({node["Relation Name"] for node in read}) >= 5
    assert all(node["Node Type"] == "Index Scan" for node in read)
    assert sum(node["Actual Rows"] for node in read) <= 2 * routing.CHUNK + len(read)
    ids = [event.pk for event in claimed]
    assert len(ids) == routing.CHUNK and ids == sorted(ids)
