"""The rules a claim keeps (docs/delivery.md, "Claims and leases"): only due deliveries, the
concurrency cap in requests, the retry window on a lapsed lease, and max batch bytes; their home is
destinations/delivery/batching.py.

Time is moved by writing the rows' due times, leases and first attempts, never by waiting.
"""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from destinations.delivery.batching import claim_batch
from destinations.delivery.dispatch import deliver, dispatch_mapping
from destinations.delivery.leases import reclaim_expired_leases
from destinations.models import Delivery, OutcomeCount
from tests.destinations.delivery import scenario
from tests.destinations.delivery.dispatch.helpers import (
    SECOND,
    configure,
    mapping_of,
    pending,
    sizes,
    statuses,
    twenty_byte_payloads,
)
from tests.destinations.delivery.sinks import always

# --- Only due deliveries are claimed (docs/delivery.md, "Retries") ---------------------------


def test_deliveries_told_to_come_back_later_are_not_resent_early_nor_with_the_next_batch(
    source, sink, billing, mapping
):
    configure(mapping, batch_size=3)
    sink.answer = always(429, **{"Retry-After": "60"})
    pending(source, 3)
    dispatch_mapping(mapping.pk)
    assert sizes(sink) == [3]  # not sent again before the 60 s are up
    assert statuses(billing) == {"retrying": 3}
    sink.answer = always(200)
    pending(source, 2, start=3)  # five wait, more than a batch; three are not due for 60 s

    dispatch_mapping(mapping.pk)

    assert sizes(sink) == [3, 2]
    assert statuses(billing) == {"retrying": 3, "delivered": 2}


def test_deliveries_backing_off_do_not_make_a_partial_batch_of_due_ones_full(
    source, billing, mapping
):
    configure(mapping, batch_size=3, flush_interval=60)
    pending(source, 3)
    Delivery.objects.update(
        status="retrying", attempts=1, next_attempt_at=timezone.now() + 60 * SECOND
    )
    pending(source, 2, start=3)  # due now, but two of three: they wait the flush interval

    assert claim_batch(mapping.pk) is None
    assert statuses(billing) == {"retrying": 3, "pending": 2}


# --- The concurrency cap counts requests (docs/delivery.md, "Isolation and flow control") ----


def test_the_concurrency_cap_counts_requests_in_flight_not_deliveries(source, billing, mapping):
    configure(billing, max_concurrency=2)
    configure(mapping, batch_size=3)
    pending(source, 9)

    first = claim_batch(mapping.pk)
    second = claim_batch(mapping.pk)  # three deliveries in flight, but one request

    assert first is not None and second is not None
    assert first.claim != second.claim
    assert (len(first.deliveries), len(second.deliveries)) == (3, 3)
    assert claim_batch(mapping.pk) is None  # two requests in flight: the cap
    assert statuses(billing) == {"in_flight": 6, "pending": 3}


def test_a_claim_takes_its_destinations_lock_after_the_due_query_and_for_three_statements(
    source, billing, mapping
):
    """Claims of one destination queue on its state row for the admission alone (issue 27:
    a claim that sorted under that lock made every other claim of the destination wait)."""
    configure(mapping, batch_size=3)
    pending(source, 6)
    assert claim_batch(mapping.pk) is not None  # the first claim makes the state row

    with CaptureQueriesContext(connection) as queries:
        assert claim_batch(mapping.pk) is not None

    statements = [query["sql"] for query in queries.captured_queries]
    locked = next(
        i for i, sql in enumerate(statements) if "destinationstate" in sql and "FOR UPDATE" in sql
    )
    due = next(i for i, sql in enumerate(statements) if "SKIP LOCKED" in sql)
    assert due < locked
    # The requests in flight, the move to in_flight, and the transaction's end (the test's
    # savepoint here, the commit in production).
    after = [sql.split()[0] for sql in statements[locked + 1 :]]
    assert after == ["SELECT", "UPDATE", "RELEASE"]


# --- A lapsed lease and the retry window (docs/delivery.md, "Claims and leases") --------------


def test_a_lapsed_lease_fails_a_delivery_for_good_only_past_its_retry_window(
    source, billing, mapping
):
    configure(billing, retry_window_seconds=3600)
    configure(mapping, batch_size=4)
    pending(source, 4)
    batch = claim_batch(mapping.pk)
    inside, past = [d.pk for d in batch.deliveries[:2]], [d.pk for d in batch.deliveries[2:]]
    now = timezone.now()
    # Two attempts made; the lapsed lease is the third, the least before giving up.
    Delivery.objects.update(attempts=2, lease_expires_at=now - SECOND)
    Delivery.objects.filter(pk__in=inside).update(first_attempt_at=now - 3500 * SECOND)
    Delivery.objects.filter(pk__in=past).update(first_attempt_at=now - 3600 * SECOND)

    assert reclaim_expired_leases() == 4

    def status_of(pks):
        return {(d.status, d.attempts) for d in Delivery.objects.filter(pk__in=pks)}

    assert status_of(inside) == {(Delivery.Status.RETRYING, 3)}
    assert status_of(past) == {(Delivery.Status.FAILED, 3)}


# --- Max batch bytes (docs/delivery.md, "Batching") ------------------------------------------


def test_a_payload_larger_than_max_batch_bytes_goes_alone_and_the_next_ones_follow(
    source, sink, tiny
):
    mapping = tiny(max_bytes=50)
    pending(source, 1, properties={"what": "x" * 60})  # the oldest: 71 bytes alone
    pending(source, 3, start=1, properties={"what": "x" * 9})  # {"what":"xxxxxxxxx"}: 20 bytes
    assert sorted(Delivery.objects.values_list("payload_bytes", flat=True)) == [20, 20, 20, 71]

    first = claim_batch(mapping.pk)
    assert [delivery.payload_bytes for delivery in first.deliveries] == [71]
    deliver(first)
    dispatch_mapping(mapping.pk)

    assert sizes(sink) == [1, 2, 1]
    assert len(sink.received[0].body) == 73  # "[" + 71 bytes + "]": over, but sent
    assert statuses(mapping.destination) == {"delivered": 4}


def test_a_batch_exactly_max_batch_bytes_long_goes_as_one_request(source, sink, tiny):
    mapping = tiny(max_bytes=64)  # [20,20,20] is 1 + 3 * 21 = 64 bytes
    twenty_byte_payloads(source, 4)

    dispatch_mapping(mapping.pk)

    assert sizes(sink) == [3, 1]
    assert len(sink.received[0].body) == 64
    assert statuses(mapping.destination) == {"delivered": 4}


# --- What make mutate found unpinned (docs/testing.md, "make mutate") ---------------------------


def test_the_oldest_due_time_goes_first_not_the_oldest_row(source, billing, mapping):
    configure(mapping, batch_size=1)
    pending(source, 2)
    older_row, newer_row = Delivery.objects.order_by("id")
    now = timezone.now()
    Delivery.objects.filter(pk=older_row.pk).update(status="retrying", next_attempt_at=now)
    Delivery.objects.filter(pk=newer_row.pk).update(next_attempt_at=now - 10 * SECOND)

    assert [d.pk for d in claim_batch(mapping.pk).deliveries] == [newer_row.pk]


def test_another_destinations_requests_in_flight_leave_this_ones_cap_alone(
    source, sinks, billing, mapping
):
    configure(billing, max_concurrency=1)
    other = scenario.metronome(source, sinks().url, name="Other billing")
    configure(mapping_of(other), flush_interval=0, batch_size=1)
    pending(source, 2)

    assert claim_batch(mapping_of(other).pk) is not None

    assert claim_batch(mapping.pk) is not None


def test_a_lapsed_lease_on_a_delivery_never_tried_starts_its_retry_window(source, billing, mapping):
    pending(source, 3)
    claim_batch(mapping.pk)
    Delivery.objects.update(lease_expires_at=timezone.now() - SECOND)
    before = timezone.now()

    reclaim_expired_leases()

    for delivery in Delivery.objects.all():
        assert before <= delivery.first_attempt_at == delivery.last_attempt_at <= timezone.now()
        assert "worker" in delivery.error_message


def test_a_lapsed_lease_fails_nothing_before_three_attempts_however_old(source, billing, mapping):
    pending(source, 3)
    claim_batch(mapping.pk)
    long_ago = timezone.now() - (billing.retry_window_seconds + 60) * SECOND
    Delivery.objects.update(
        attempts=1, first_attempt_at=long_ago, lease_expires_at=timezone.now() - SECOND
    )

    reclaim_expired_leases()

    assert statuses(billing) == {"retrying": 3}


def test_a_lapsed_lease_changes_only_the_rows_it_held(source, billing, mapping):
    pending(source, 4)
    long_ago = timezone.now() - (billing.retry_window_seconds + 60) * SECOND
    configure(mapping, batch_size=2)
    claim_batch(mapping.pk)
    lapsed = Delivery.objects.filter(status="in_flight")
    lapsed.update(attempts=1, first_attempt_at=long_ago, lease_expires_at=timezone.now() - SECOND)
    others = Delivery.objects.exclude(status="in_flight")
    others.update(status="retrying", attempts=5, first_attempt_at=long_ago)

    reclaim_expired_leases()

    assert statuses(billing) == {"retrying": 4}


def test_the_tallies_count_what_a_lapsed_lease_failed_as_failed(source, billing, mapping):
    configure(mapping, batch_size=2)
    pending(source, 2)
    claim_batch(mapping.pk)
    long_ago = timezone.now() - (billing.retry_window_seconds + 60) * SECOND
    Delivery.objects.update(
        attempts=2, first_attempt_at=long_ago, lease_expires_at=timezone.now() - SECOND
    )

    reclaim_expired_leases()

    counted = OutcomeCount.objects.filter(destination=billing)
    assert dict(counted.values_list("outcome", "count")) == {"failed": 2}
