"""Claims of several requests (destinations/delivery/batching.py, dispatch.py): a mapping whose
requests carry one item claims up to CLAIM_MAX_DELIVERIES at once and sends them one request
after another, in order; what follows a struggling request or the claim's time goes back in
line untouched, and per-request rules (the cap, the rate limit, the breaker) still hold."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from destinations.delivery import dispatch
from destinations.delivery.batching import claim_batch
from destinations.delivery.dispatch import deliver, dispatch_mapping
from destinations.models import Delivery, DeliveryAttempt, DestinationState
from tests.destinations.delivery.dispatch.helpers import (
    SECOND,
    configure,
    dispatch_once,
    pending,
    state_of,
    statuses,
)
from tests.destinations.delivery.sinks import always


@pytest.fixture(autouse=True)
def several_per_claim(settings):
    settings.CLAIM_MAX_DELIVERIES = 100


@pytest.fixture
def single(billing, mapping):
    """Metronome in requests of one item."""
    return configure(mapping, batch_size=1)


def sent_totals(sink) -> list[int]:
    return [request.json()[0]["properties"]["total"] for request in sink.received]


def test_a_claim_takes_many_single_item_requests_and_sends_them_in_order(
    source, sink, billing, single
):
    pending(source, 7)

    batch = dispatch_once(single)

    assert batch.request_sizes == (1,) * 7
    assert sent_totals(sink) == list(range(7))
    assert statuses(billing) == {"delivered": 7}
    assert DeliveryAttempt.objects.filter(item_count=1).count() == 7


def test_a_claim_takes_at_most_claim_max_deliveries(source, sink, settings, billing, single):
    settings.CLAIM_MAX_DELIVERIES = 3
    pending(source, 7)

    assert claim_batch(single.pk).request_sizes == (1, 1, 1)


def test_batched_requests_fill_a_claim_a_whole_request_at_a_time(
    source, sink, settings, billing, mapping
):
    settings.CLAIM_MAX_DELIVERIES = 7
    configure(mapping, batch_size=3)
    pending(source, 10)

    assert claim_batch(mapping.pk).request_sizes == (3, 3)


def test_the_requests_after_one_that_must_be_retried_go_back_in_line_untouched(
    source, sink, billing, single
):
    answers = iter([200, 503])
    sink.answer = lambda request: (next(answers, 200), {}, b"{}")
    pending(source, 5)

    dispatch_once(single)

    assert sent_totals(sink) == [0, 1]
    assert statuses(billing) == {"delivered": 1, "retrying": 1, "pending": 3}
    untouched = Delivery.objects.filter(status="pending")
    assert set(untouched.values_list("attempts", "claim", "lease_expires_at")) == {(0, None, None)}
    assert state_of(billing).consecutive_failures == 1


def test_a_claim_stops_sending_when_a_quarter_of_the_lease_has_passed(
    source, sink, settings, billing, single, monkeypatch
):
    settings.DELIVERY_LEASE_SECONDS = 40
    pending(source, 4)
    clock = iter([0.0, 1.0, 11.0, 12.0])  # the deadline is 10 s after the claim
    monkeypatch.setattr(dispatch, "time", SimpleNamespace(monotonic=lambda: next(clock)))

    deliver(claim_batch(single.pk))

    assert sent_totals(sink) == [0, 1]
    assert statuses(billing) == {"delivered": 2, "pending": 2}


def test_a_claim_of_several_requests_is_one_request_against_the_concurrency_cap(
    source, sink, settings, billing, single
):
    settings.CLAIM_MAX_DELIVERIES = 2
    configure(billing, max_concurrency=2)
    pending(source, 6)

    assert claim_batch(single.pk).request_sizes == (1, 1)
    assert claim_batch(single.pk).request_sizes == (1, 1)
    assert claim_batch(single.pk) is None


def test_a_rate_limited_destination_claims_one_request_at_a_time(source, sink, billing, single):
    configure(billing, rate_limit=1000)
    pending(source, 3)

    assert claim_batch(single.pk).request_sizes == (1,)


def test_requests_failing_in_a_row_within_one_claim_each_count_toward_the_breaker(
    source, sink, billing, single
):
    configure(billing, breaker_threshold=3)
    answers = iter([200, 200, 503])
    sink.answer = lambda request: (next(answers, 503), {}, b"{}")
    pending(source, 6)

    dispatch_mapping(single.pk)  # claims go on until the circuit opens

    assert state_of(billing).consecutive_failures == 3
    assert state_of(billing).paused_until > timezone.now()
    assert statuses(billing) == {"delivered": 2, "retrying": 3, "pending": 1}


def test_a_probe_is_one_request_when_claims_take_several(source, sink, fragile, mapping):
    configure(fragile, breaker_threshold=1)
    sink.answer = always(503)
    dispatch_once(mapping)  # one request failed: the circuit opens
    DestinationState.objects.filter(destination=fragile).update(
        paused_until=timezone.now() - timedelta(seconds=1)
    )

    probe = claim_batch(mapping.pk)

    assert probe.probe and probe.request_sizes == (1,)


@pytest.mark.parametrize(("waiting", "claimed"), [(4, (3,)), (6, (3, 3)), (7, (3, 3))])
def test_a_last_request_not_full_waits_for_its_flush_interval_behind_full_ones(
    source, sink, settings, billing, mapping, waiting, claimed
):
    settings.CLAIM_MAX_DELIVERIES = 9
    configure(mapping, batch_size=3, flush_interval=60)
    pending(source, waiting)

    assert claim_batch(mapping.pk).request_sizes == claimed
    if left := waiting - sum(claimed):
        Delivery.objects.filter(status="pending").update(
            next_attempt_at=timezone.now() - 61 * SECOND
        )
        assert claim_batch(mapping.pk).request_sizes == (left,)


def test_a_retry_refused_again_stops_the_claims_other_retries_but_not_its_first_attempts(
    source, sink, billing, single
):
    pending(source, 4)
    first_two = Delivery.objects.order_by("id").values_list("pk", flat=True)[:2]
    Delivery.objects.filter(pk__in=list(first_two)).update(status="retrying", attempts=1)
    sink.answer = always(503)

    batch = dispatch_once(single)

    assert batch.request_sizes == (1, 1, 1, 1)
    # A retry refused, then a first attempt refused: the destination is struggling.
    assert sent_totals(sink) == [0, 2]
    assert statuses(billing) == {"retrying": 3, "pending": 1}
    assert Delivery.objects.get(pk=first_two[1]).attempts == 1  # back in line untouched
