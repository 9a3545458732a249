"""Batching (docs/delivery.md, "Batching"): batch size, max bytes and the flush interval.

The dispatcher sends to local sinks; time is moved by writing the rows' due times, leases and
pauses directly, never by waiting.
"""

from datetime import timedelta

import orjson
from django.utils import timezone

from destinations.delivery.batching import claim_batch
from destinations.delivery.dispatch import dispatch_mapping
from destinations.models import Delivery, Mapping
from tests.destinations.delivery import scenario
from tests.destinations.delivery.dispatch.helpers import (
    configure,
    dispatch_once,
    make_due,
    mapping_of,
    pending,
    sizes,
    statuses,
    twenty_byte_payloads,
)
from tests.destinations.delivery.scenario import ingest_and_route, track

# --- Batching (docs/delivery.md, "Batching") -------------------------------------------------


def test_a_batch_closes_at_the_batch_size(source, sink, billing, mapping):
    configure(mapping, batch_size=3, flush_interval=60)
    pending(source, 7)

    dispatch_mapping(mapping.pk)

    assert sizes(sink) == [3, 3]
    assert statuses(billing) == {"delivered": 6, "pending": 1}


def test_a_partial_batch_waits_until_its_oldest_delivery_has_waited_the_flush_interval(
    source, billing, mapping, rings
):
    configure(mapping, batch_size=10, flush_interval=60)
    pending(source, 3)
    oldest = Delivery.objects.order_by("id").first()

    assert claim_batch(mapping.pk) is None
    assert ("destinations.dispatch", [mapping.pk]) in [(task, args) for task, args, _ in rings]
    assert 50 < max(delay for _, _, delay in rings) <= 60  # rung again at the flush time

    oldest.next_attempt_at = timezone.now() - timedelta(seconds=59)
    oldest.save()
    assert claim_batch(mapping.pk) is None

    oldest.next_attempt_at = timezone.now() - timedelta(seconds=61)
    oldest.save()
    batch = claim_batch(mapping.pk)
    assert batch is not None
    assert len(batch.deliveries) == 3
    assert batch.deliveries[0].pk == oldest.pk


def test_batches_never_mix_mappings(source, sink, billing, mapping):
    second = configure(
        Mapping(destination=billing, name="Second", action="send_event", trigger=mapping.trigger),
        fields=mapping.fields,
        flush_interval=0,
    )
    pending(source, 3)

    batch = claim_batch(mapping.pk)

    assert {d.pk for d in batch.deliveries} == set(
        Delivery.objects.filter(mapping=mapping).values_list("pk", flat=True)
    )
    assert Delivery.objects.filter(mapping=second, status="pending").count() == 3


def test_max_batch_bytes_splits_a_batch(source, sink, tiny):
    mapping = tiny(max_bytes=50)
    twenty_byte_payloads(source, 5)

    dispatch_mapping(mapping.pk)

    assert sizes(sink) == [2, 2, 1]
    assert all(len(request.body) <= 50 for request in sink.received)
    assert statuses(mapping.destination) == {"delivered": 5}


def test_no_request_body_is_larger_than_max_batch_bytes(source, sink, tiny):
    mapping = tiny(max_bytes=42)  # two items: [20,20] is 43 bytes
    twenty_byte_payloads(source, 3)

    dispatch_mapping(mapping.pk)

    assert max(len(request.body) for request in sink.received) <= 42


def test_a_batch_closes_at_its_max_bytes_without_waiting_for_the_flush_interval(source, tiny):
    mapping = tiny(max_bytes=50, flush_interval=60)
    twenty_byte_payloads(source, 3)

    batch = claim_batch(mapping.pk)

    assert batch is not None
    assert len(batch.deliveries) == 2


def test_aggregations_requests_stay_within_one_megabyte(source, sink):
    destination = scenario.aggregations(source, sink.url)
    mapping = configure(mapping_of(destination), flush_interval=0)
    pending(source, 3)
    for delivery in Delivery.objects.all():
        delivery.payload = {"data": {"blob": "x" * 400_000, "n": delivery.pk}}
        delivery.payload_bytes = len(orjson.dumps(delivery.payload))
        delivery.save()

    dispatch_mapping(mapping.pk)

    assert sizes(sink) == [2, 1]
    assert all(len(request.body) <= 1_000_000 for request in sink.received)
    assert statuses(destination) == {"delivered": 3}


def test_looking_at_a_partial_batch_takes_a_few_queries_whatever_its_size(
    source, mapping, django_assert_max_num_queries
):
    configure(mapping, flush_interval=60)
    pending(source, 40)

    with django_assert_max_num_queries(15):
        assert claim_batch(mapping.pk) is None


def test_a_retry_goes_in_a_request_of_its_own_and_fails_no_first_attempt_with_it(
    source, sink, billing, mapping
):
    # docs/delivery.md, "Retries go apart": the sink refuses whole any request with acct-bad.
    def refusing_bad(request):
        bad = any(item["customer_id"] == "acct-bad" for item in request.json())
        return (503, {}, b"{}") if bad else (200, {}, b"{}")

    sink.answer = refusing_bad
    ingest_and_route(source, track(0, context={"groupId": "acct-bad"}))
    dispatch_once(mapping)
    make_due(status="retrying")
    pending(source, 3, start=1)

    batch = dispatch_once(mapping)  # the retry, refused again, then the first attempts

    assert batch.request_sizes == (1, 3)
    assert sizes(sink) == [1, 1, 3]
    assert statuses(billing) == {"delivered": 3, "retrying": 1}
    assert set(Delivery.objects.filter(status="delivered").values_list("attempts", flat=True)) == {
        1
    }
