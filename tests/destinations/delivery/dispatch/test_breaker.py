"""The circuit breaker, "failing since" and flow control (docs/delivery.md, "Circuit breaker"
and "Isolation and flow control").

The dispatcher sends to local sinks; time is moved by writing the rows' due times, leases and
pauses directly, never by waiting.
"""

import pytest
from django.utils import timezone

from destinations.delivery.batching import claim_batch
from destinations.delivery.dispatch import dispatch_mapping
from destinations.models import Delivery, DestinationState, Mapping
from tests.destinations.delivery import scenario
from tests.destinations.delivery.dispatch.helpers import (
    SECOND,
    configure,
    dispatch_once,
    end_cooldown,
    make_due,
    mapping_of,
    open_circuit,
    pending,
    state_of,
    statuses,
)
from tests.destinations.delivery.sinks import always

# --- The circuit breaker and "failing since" (docs/delivery.md, "Circuit breaker") -----------


def test_consecutive_retryable_failures_pause_the_destination_and_nothing_is_claimed(
    source, sink, sinks, fragile, mapping
):
    sink.answer = always(503)
    dispatch_once(mapping)
    assert state_of(fragile).paused_until is None
    before = timezone.now()
    dispatch_once(mapping)
    after = timezone.now()

    state = state_of(fragile)
    assert state.consecutive_failures == 2
    assert before + 30 * SECOND <= state.paused_until <= after + 30 * SECOND
    make_due()
    assert claim_batch(mapping.pk) is None
    # Other destinations keep flowing.
    other = scenario.webhook(source, sinks().url, batch_size=10)
    configure(mapping_of(other), flush_interval=0)
    pending(source, 1, start=100)
    assert claim_batch(mapping_of(other).pk) is not None


def test_after_the_cooldown_exactly_one_delivery_is_sent_as_a_probe(sink, fragile, mapping):
    open_circuit(fragile, mapping, sink)
    configure(mapping, batch_size=50)
    end_cooldown(fragile)

    probe = claim_batch(mapping.pk)

    assert probe.probe
    assert len(probe.deliveries) == 1
    assert state_of(fragile).probing
    assert claim_batch(mapping.pk) is None  # one probe at a time


def test_a_successful_probe_closes_the_circuit(sink, fragile, mapping):
    open_circuit(fragile, mapping, sink)
    configure(mapping, batch_size=50)
    end_cooldown(fragile)
    sink.answer = always(200)

    dispatch_once(mapping)

    state = state_of(fragile)
    assert (state.paused_until, state.probing, state.consecutive_failures) == (None, False, 0)
    assert state.failing_since is None
    batch = claim_batch(mapping.pk)
    assert not batch.probe
    assert batch.request_sizes == (1, 2)  # the other retry, apart from the first attempts


def test_a_failed_probe_opens_the_circuit_again(sink, fragile, mapping):
    open_circuit(fragile, mapping, sink)
    end_cooldown(fragile)
    before = timezone.now()

    probe = dispatch_once(mapping)

    assert probe.probe
    state = state_of(fragile)
    assert not state.probing
    assert state.paused_until >= before + 30 * SECOND
    make_due()
    assert claim_batch(mapping.pk) is None


def test_permanent_failures_never_open_the_circuit(sink, fragile, mapping):
    sink.answer = always(400)
    for _ in range(3):
        dispatch_once(mapping)

    state = state_of(fragile)
    assert (state.consecutive_failures, state.paused_until) == (0, None)
    assert claim_batch(mapping.pk) is not None


def test_a_success_resets_the_count_of_consecutive_failures(sink, fragile, mapping):
    sink.answer = always(503)
    dispatch_once(mapping)
    sink.answer = always(200)
    dispatch_once(mapping)
    sink.answer = always(503)
    dispatch_once(mapping)

    state = state_of(fragile)
    assert (state.consecutive_failures, state.paused_until) == (1, None)


@pytest.mark.parametrize(
    ("status", "failing", "code"),
    [
        (503, True, "SERVICE_UNAVAILABLE"),
        (429, True, "TOO_MANY_REQUESTS"),
        (401, True, "INVALID_AUTHENTICATION"),
        (403, True, "INVALID_AUTHENTICATION"),
        (400, False, "BAD_REQUEST"),
        (422, False, "UNPROCESSABLE_ENTITY"),
    ],
)
def test_failing_since_is_set_by_the_destinations_failures_not_by_refused_payloads(
    source, sink, billing, mapping, status, failing, code
):
    sink.answer = always(status)
    pending(source, 1)
    before = timezone.now()

    dispatch_once(mapping)

    state = state_of(billing)
    assert (state.failing_since is not None) is failing
    if failing:
        assert before <= state.failing_since <= timezone.now()
    assert state.last_error_code == code
    assert state.last_error_message.startswith(f"HTTP {status}")
    assert before <= state.last_error_at


def test_failing_since_keeps_the_first_failure_and_a_success_clears_it(
    source, sink, billing, mapping
):
    configure(mapping, batch_size=1)
    pending(source, 3)
    sink.answer = always(503)
    dispatch_once(mapping)
    since = state_of(billing).failing_since
    dispatch_once(mapping)
    assert state_of(billing).failing_since == since

    sink.answer = always(200)
    dispatch_once(mapping)

    assert state_of(billing).failing_since is None


# --- Flow control (docs/delivery.md, "Isolation and flow control") ---------------------------


def test_no_claim_beyond_max_concurrency_live_claims(source, billing, mapping):
    configure(billing, max_concurrency=2)
    configure(mapping, batch_size=1)
    pending(source, 4)

    first, second = claim_batch(mapping.pk), claim_batch(mapping.pk)

    assert first.claim != second.claim
    assert claim_batch(mapping.pk) is None
    Delivery.objects.filter(claim=second.claim).update(lease_expires_at=timezone.now() - SECOND)
    assert claim_batch(mapping.pk) is not None  # a lapsed lease holds nothing


def test_max_concurrency_counts_requests_of_every_mapping_of_the_destination(
    source, billing, mapping
):
    configure(billing, max_concurrency=1)
    other = configure(
        Mapping(destination=billing, name="Second", action="send_event", trigger=mapping.trigger),
        fields=mapping.fields,
        flush_interval=0,
    )
    pending(source, 2)

    assert claim_batch(mapping.pk) is not None
    assert claim_batch(other.pk) is None


def test_the_rate_limit_spaces_claims(source, billing, mapping, rings):
    configure(billing, rate_limit=0.1)  # one request every 10 s
    configure(mapping, batch_size=1)
    pending(source, 3)
    before = timezone.now()

    assert claim_batch(mapping.pk) is not None

    slot = state_of(billing).next_request_at
    assert before + 10 * SECOND <= slot <= timezone.now() + 10 * SECOND
    rings.clear()
    assert claim_batch(mapping.pk) is None
    assert state_of(billing).next_request_at == slot
    assert [(task, args) for task, args, _ in rings] == [("destinations.dispatch", [mapping.pk])]
    assert 0 < rings[0][2] <= 10

    DestinationState.objects.filter(destination=billing).update(next_request_at=timezone.now())
    assert claim_batch(mapping.pk) is not None
    assert state_of(billing).next_request_at > timezone.now() + 9 * SECOND


def disable_mapping(mapping: Mapping, enabled: bool) -> None:
    configure(mapping, enabled=enabled)


def disable_destination(mapping: Mapping, enabled: bool) -> None:
    configure(mapping.destination, enabled=enabled)


@pytest.mark.parametrize("switch", [disable_mapping, disable_destination])
def test_deliveries_of_a_disabled_mapping_or_destination_wait_until_it_is_enabled(
    source, sink, billing, mapping, switch
):
    pending(source, 2)
    switch(mapping, False)

    assert claim_batch(mapping.pk) is None
    dispatch_mapping(mapping.pk)
    assert sink.received == []
    assert statuses(billing) == {"pending": 2}

    switch(mapping, True)
    dispatch_mapping(mapping.pk)
    assert statuses(billing) == {"delivered": 2}
