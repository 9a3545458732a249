"""The claim costs O(batch), not O(backlog) (destinations/delivery/batching.py): on a million
due deliveries over five partitions, without statistics (autovacuum has not run), the due query
is a Merge Append of index scans that read about a batch of entries and stop; no Sort. At a
destination that keeps order per user, the same statement reads a few entries per lane."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.claims import BACKLOG_SQL
from destinations.delivery.batching import claim_batch
from infra import partitions
from tests.destinations.delivery.plans import plan_of, scans, sorts

BACKLOG = 1_000_000
BATCH = 100

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the plan is PostgreSQL's (partitions)"
)


def write_backlog(mapping, users: int = 0):
    # Days of partitions of the test's own, past any other test's: created in its transaction,
    # they go with its rollback, rows and all, and leave no million dead rows in today's.
    start = timezone.now() - timedelta(days=40)
    partitions.ensure_partitions(start - timedelta(days=4), start + timedelta(days=1))
    later = timezone.now() + timedelta(hours=1)
    params = {"mapping": mapping.pk, "destination": mapping.destination_id, "rows": BACKLOG}
    params |= {"start": start, "later": later, "users": users}
    with connection.cursor() as cursor:
        cursor.execute(BACKLOG_SQL, params)
    return mapping


@pytest.fixture
def backlog(billing, mapping):
    return write_backlog(mapping)


def test_a_claim_reads_a_batch_of_index_entries_whatever_the_backlog_oldest_first(backlog):
    with CaptureQueriesContext(connection) as queries:
        batch = claim_batch(backlog.pk)
    [claim] = [q["sql"] for q in queries if "SKIP LOCKED" in q["sql"]]

    plan = plan_of(claim)

    assert not sorts(plan)
    assert "Merge Append" in {node["Node Type"] for node in plan}
    read = scans(plan)
    assert len({node["Relation Name"] for node in read}) >= 5
    assert all(node["Node Type"] == "Index Scan" for node in read)
    # The claimed rows are locked now, so the scans step over them to the next batch.
    assert BATCH <= sum(node["Actual Rows"] for node in read) <= BATCH + len(read)
    due = [(d.next_attempt_at, d.pk) for d in batch.deliveries]
    assert len(due) == BATCH and due == sorted(due)
    assert all(d.attempts == 0 for d in batch.deliveries)  # not the retries waiting an hour


def test_an_ordered_claim_reads_a_few_entries_of_each_lane_it_meets_whatever_the_backlog(
    billing, mapping
):
    billing.keep_order = True
    billing.save()
    write_backlog(mapping, users=10_000)  # and one busy user with a third of them
    with CaptureQueriesContext(connection) as queries:
        batch = claim_batch(mapping.pk)
    # The first read's (a read that held some reads on past them): the due deliveries, their
    # lanes and the first unrouted event, in one statement.
    [claim, *_] = [q["sql"] for q in queries if "SKIP LOCKED" in q["sql"]]
    assert "CROSS JOIN LATERAL" in claim

    plan = plan_of(claim)

    assert not sorts(plan)
    read = [node for node in scans(plan) if "Relation Name" in node]
    assert all(node["Node Type"] in ("Index Scan", "Index Only Scan") for node in read)
    due = [node for node in read if "next_attempt_at" in node["Index Name"]]
    of_lanes = [node for node in read if "lane" in node["Index Name"]]
    lanes = max(node["Actual Loops"] for node in of_lanes)
    entries = sum(node["Actual Rows"] * node["Actual Loops"] for node in of_lanes)
    partitions_read = len({node["Relation Name"] for node in of_lanes})
    # Each lane's first entries, a batch's worth in all, and the one each partition's scan
    # starts on: the busy user's third of a million stays unread.
    read_first = BATCH
    assert sum(node["Actual Rows"] for node in due) <= read_first + len(due)
    assert 1 < lanes <= read_first and partitions_read >= 5
    assert entries <= read_first + lanes * partitions_read
    positions = {}
    for delivery in batch.deliveries:
        assert positions.get(delivery.lane, -1) < delivery.position
        positions[delivery.lane] = delivery.position
