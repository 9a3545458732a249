"""Claims and the dispatcher as services, in the test's process (SPEC §1, §5.3-5.7).

The dispatcher sends to local sinks; time is moved by writing the rows' due times, leases and
pauses directly, never by waiting.
"""

import random
import uuid
from datetime import timedelta

import orjson
import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from destinations.claims import claim_batch, reclaim_expired_leases
from destinations.dispatch import deliver, dispatch_mapping, retry_delay
from destinations.encryption import MASK
from destinations.integrations import REGISTRY
from destinations.integrations.base import Action, Field, Kind, json_request
from destinations.models import Delivery, DeliveryAttempt, Destination, DestinationState, Mapping
from destinations.services import create_destination
from tests.delivery import scenario
from tests.delivery.scenario import ingest_and_route, track
from tests.delivery.sinks import always

SECOND = timedelta(seconds=1)
TRACKS = scenario.TRACK_TRIGGER


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture(autouse=True)
def short_timeouts(settings):
    settings.DELIVERY_LEASE_SECONDS = 30
    settings.DESTINATION_CONNECT_TIMEOUT = 2
    settings.DESTINATION_READ_TIMEOUT = 5
    settings.DISPATCH_RUN_SECONDS = 20


@pytest.fixture
def sink(sinks):
    return sinks()


@pytest.fixture
def billing(source, sink) -> Destination:
    """Metronome on the sink; its mapping sends partial batches at once (flush interval 0)."""
    destination = scenario.metronome(source, sink.url)
    configure(mapping_of(destination), flush_interval=0)
    return destination


@pytest.fixture
def mapping(billing) -> Mapping:
    return mapping_of(billing)


def mapping_of(destination: Destination) -> Mapping:
    return destination.mappings.get()


def configure(instance, **values):
    for name, value in values.items():
        setattr(instance, name, value)
    instance.save()
    return instance


def pending(source, count: int, start: int = 0, **overrides) -> None:
    ingest_and_route(source, *[track(i, **overrides) for i in range(start, start + count)])


def dispatch_once(mapping: Mapping):
    batch = claim_batch(mapping.pk)
    assert batch is not None, "nothing was claimed"
    deliver(batch)
    return batch


def make_due(**filters) -> None:
    Delivery.objects.filter(**filters).update(next_attempt_at=timezone.now() - SECOND)


def state_of(destination: Destination) -> DestinationState:
    return DestinationState.objects.get(destination=destination)


def statuses(destination: Destination) -> dict[str, int]:
    return dict(scenario.statuses(destination))


def sizes(sink) -> list[int]:
    return [len(request.json()) for request in sink.received]


# --- Batching (SPEC §5.3) --------------------------------------------------------------------


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


def tiny_kind(max_bytes: int, build=None) -> Kind:
    """A kind whose request body is exactly the JSON array of the payloads."""

    def build_array(config, payloads):
        url = f"{config.base_url}/tiny"
        return [json_request("POST", url, payloads, range(len(payloads)))]

    action = Action(
        key="send",
        title="Send",
        fields=(Field("what", "What", "string", True, {"@path": "$.properties.what"}),),
        build=build or build_array,
        batching=True,
        max_batch_size=10,
        default_batch_size=10,
        max_batch_bytes=max_bytes,
    )
    return Kind(
        key="tiny",
        name="Tiny",
        description="A kind with a tiny request size limit, for these tests.",
        docs_url="https://example.com/tiny",
        default_base_url="https://tiny.example.com",
        settings=(),
        actions=(action,),
    )


@pytest.fixture
def tiny(monkeypatch, source, sink):
    """Registers a tiny kind and returns its mapping (trigger: track, flush interval 0)."""

    def make(max_bytes: int = 50, build=None, **mapping_values) -> Mapping:
        monkeypatch.setitem(REGISTRY, "tiny", tiny_kind(max_bytes, build))
        destination = create_destination("tiny", "Tiny", {"base_url": sink.url}, sources=[source])
        return configure(
            Mapping(destination=destination, name="All", action="send", trigger='type = "track"'),
            **{"fields": {"what": {"@path": "$.properties.what"}}, "flush_interval": 0}
            | mapping_values,
        )

    return make


def twenty_byte_payloads(source, count: int) -> None:
    pending(source, count, properties={"what": "x" * 9})  # {"what":"xxxxxxxxx"}
    assert set(Delivery.objects.values_list("payload_bytes", flat=True)) == {20}


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


# --- Outcomes (SPEC §5.4, §5.5) --------------------------------------------------------------


def test_a_delivered_batch_records_the_outcome_of_every_item(source, sink, billing, mapping):
    pending(source, 3)
    before = timezone.now()

    dispatch_mapping(mapping.pk)

    after = timezone.now()
    assert sizes(sink) == [3]
    for delivery in Delivery.objects.all():
        assert delivery.status == Delivery.Status.DELIVERED
        assert before <= delivery.delivered_at <= after
        assert delivery.attempts == 1
        assert before <= delivery.first_attempt_at == delivery.last_attempt_at <= after
        assert delivery.last_status_code == 200
        assert (delivery.error_code, delivery.error_message) == ("", "")
        assert (delivery.claim, delivery.lease_expires_at) == (None, None)
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.outcome, attempt.item_count, attempt.response_status) == ("delivered", 3, 200)


def test_a_503_is_retried_after_an_exponential_backoff_with_full_jitter(
    source, sink, billing, mapping
):
    configure(billing, retry_base_seconds=10, retry_cap_seconds=600)
    sink.answer = always(503)
    pending(source, 1)
    random.seed(3)  # no draw so close to 0 that the retry would be due at once

    for attempt in (1, 2, 3):
        before = timezone.now()
        dispatch_once(mapping)
        after = timezone.now()

        delivery = Delivery.objects.get()
        assert delivery.status == Delivery.Status.RETRYING
        assert delivery.attempts == attempt
        assert (delivery.error_code, delivery.last_status_code) == ("SERVICE_UNAVAILABLE", 503)
        assert delivery.error_message.startswith("HTTP 503")
        ceiling = timedelta(seconds=10 * 2 ** (attempt - 1))
        assert before <= delivery.next_attempt_at <= after + ceiling
        assert claim_batch(mapping.pk) is None  # not due yet
        make_due()
    assert len(sink.received) == 3


def test_the_backoff_is_drawn_uniformly_up_to_the_exponential_ceiling_and_capped():
    destination = Destination(retry_base_seconds=10, retry_cap_seconds=600)
    random.seed(7)

    third = [retry_delay(destination, 3, None).total_seconds() for _ in range(300)]
    tenth = [retry_delay(destination, 10, None).total_seconds() for _ in range(300)]

    assert all(0 <= delay <= 40 for delay in third)
    assert min(third) < 10 and max(third) > 30
    assert all(0 <= delay <= 600 for delay in tenth)
    assert max(tenth) > 450
    assert retry_delay(destination, 3, 2.5) == timedelta(seconds=2.5)


def test_the_backoff_stays_at_its_cap_however_many_attempts_were_made():
    destination = Destination(retry_base_seconds=10.0, retry_cap_seconds=600.0)  # as loaded

    assert retry_delay(destination, 2000, None) <= timedelta(seconds=600)


def test_a_429_with_retry_after_2_is_not_due_before_2_seconds(source, sink, billing, mapping):
    sink.answer = always(429, **{"Retry-After": "2"})
    pending(source, 1)
    before = timezone.now()

    dispatch_once(mapping)

    after = timezone.now()
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.RETRYING
    assert delivery.error_code == "TOO_MANY_REQUESTS"
    assert before + 2 * SECOND <= delivery.next_attempt_at <= after + 2 * SECOND
    assert claim_batch(mapping.pk) is None


def test_a_permanent_400_fails_after_one_attempt_with_the_answer_in_the_attempt_log(
    source, sink, billing, mapping
):
    answer = b'{"error": "unknown customer"}'
    sink.answer = lambda request: (400, {"Content-Type": "application/json"}, answer)
    pending(source, 2)

    dispatch_mapping(mapping.pk)
    make_due()
    dispatch_mapping(mapping.pk)

    assert len(sink.received) == 1
    for delivery in Delivery.objects.all():
        assert delivery.status == Delivery.Status.FAILED
        assert delivery.attempts == 1
        assert (delivery.error_code, delivery.last_status_code) == ("BAD_REQUEST", 400)
        assert delivery.error_message == 'HTTP 400: {"error": "unknown customer"}'
        assert delivery.delivered_at is None
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.outcome, attempt.response_status) == ("failed", 400)
    assert attempt.response_body == answer.decode()


@pytest.mark.parametrize(
    ("attempts_before", "first_attempt_age", "status"),
    [
        (1, timedelta(hours=2), "retrying"),  # the window has passed, but only 2 attempts
        (2, timedelta(hours=2), "failed"),  # the window has passed and 3 attempts were made
        (7, timedelta(minutes=30), "retrying"),  # many attempts, still inside the window
        (2, timedelta(minutes=59), "retrying"),
    ],
)
def test_a_delivery_is_given_up_once_the_window_has_passed_and_3_attempts_were_made(
    source, sink, billing, mapping, attempts_before, first_attempt_age, status
):
    configure(billing, retry_window_seconds=3600)
    sink.answer = always(503)
    pending(source, 1)
    first_attempt_at = timezone.now() - first_attempt_age
    Delivery.objects.update(
        status="retrying", attempts=attempts_before, first_attempt_at=first_attempt_at
    )

    dispatch_once(mapping)

    delivery = Delivery.objects.get()
    assert delivery.status == status
    assert delivery.attempts == attempts_before + 1
    assert delivery.first_attempt_at == first_attempt_at
    assert delivery.error_code == "SERVICE_UNAVAILABLE"


# --- The attempt log (SPEC §5.5, §6, §7) -----------------------------------------------------


def test_every_request_is_one_attempt_linked_to_every_delivery_it_carried(source, sink):
    destination = create_destination(
        "webhook", "Hook", settings={}, secrets={"shared_secret": "whsec-123456"}, sources=[source]
    )
    configure(
        Mapping(destination=destination, name="By region", action="send", trigger=TRACKS),
        fields={
            "url": f"{sink.url}/hook",
            "method": "POST",
            "headers": {
                "X-Region": {"@path": "$.properties.region"},
                "Authorization": "Bearer hook-credential",
            },
            "data": {"@path": "$."},
            "enable_batching": True,
        },
        batch_size=10,
        flush_interval=0,
    )
    regions = ["eu", "us", "eu", "us", "eu"]
    ingest_and_route(source, *[track(i, properties={"region": r}) for i, r in enumerate(regions)])

    dispatch_mapping(destination.mappings.get().pk)

    assert sorted(sizes(sink)) == [2, 3]
    attempts = DeliveryAttempt.objects.order_by("item_count")
    assert [a.item_count for a in attempts] == [2, 3]
    for attempt, region in zip(attempts, ["us", "eu"], strict=True):
        carried = attempt.deliveries.all()
        assert {d.payload["data"]["properties"]["region"] for d in carried} == {region}
        assert len(carried) == attempt.item_count
        assert attempt.request_headers["Authorization"] == f"Bearer {MASK}"
        assert attempt.request_headers["X-Region"] == region
        assert "hook-credential" not in row_text(attempt)
        assert "whsec-123456" not in row_text(attempt)
    assert all(d.attempt_log.count() == 1 for d in Delivery.objects.all())


def row_text(attempt: DeliveryAttempt) -> str:
    return orjson.dumps(model_to_dict(attempt, exclude=["deliveries"]), default=str).decode()


def metronome_with_secret(source, sink) -> tuple[Destination, str, str]:
    token = "mtr-secret-token-1234"
    destination = create_destination(
        "metronome", "Billing", {"base_url": sink.url}, {"api_token": token}, [source]
    )
    return destination, token, "Authorization"


def aggregations_with_secret(source, sink) -> tuple[Destination, str, str]:
    key = "agg-secret-key-1234"
    destination = create_destination(
        "aggregations_io",
        "Analytics",
        {"base_url": sink.url, "ingest_id": "ing-1"},
        {"api_key": key},
        [source],
    )
    destination.mappings.create(
        name="All", action="send_events", trigger=TRACKS, fields={"data": {"@path": "$."}}
    )
    return destination, key, "x-api-token"


@pytest.mark.parametrize("make", [metronome_with_secret, aggregations_with_secret])
def test_credentials_are_redacted_from_the_attempt_log(source, sink, make):
    destination, secret, header = make(source, sink)
    configure(mapping_of(destination), flush_interval=0)
    pending(source, 2)

    dispatch_mapping(mapping_of(destination).pk)

    assert sink.received[0].headers[header].endswith(secret)  # it was sent...
    attempt = DeliveryAttempt.objects.get()
    assert attempt.request_headers[header] in (MASK, f"Bearer {MASK}")
    assert secret not in row_text(attempt)  # ...and is nowhere in the log


def test_a_credential_echoed_by_the_destination_is_not_kept_either(source, sink):
    destination, token, _ = metronome_with_secret(source, sink)
    configure(mapping_of(destination), flush_interval=0)
    sink.answer = lambda request: (
        401,
        {},
        f'{{"error": "{request.headers["Authorization"]} is revoked"}}'.encode(),
    )
    pending(source, 1)

    dispatch_mapping(mapping_of(destination).pk)

    attempt = DeliveryAttempt.objects.get()
    assert token not in row_text(attempt)
    assert token not in Delivery.objects.get().error_message


def test_a_builder_exception_is_never_a_success(source, sink, tiny):
    def broken(config, payloads):
        raise RuntimeError("builder bug")

    mapping = tiny(build=broken)
    pending(source, 2, properties={"what": "x"})

    dispatch_once(mapping)

    assert sink.received == []
    for delivery in Delivery.objects.all():
        assert delivery.status == Delivery.Status.RETRYING
        assert delivery.error_code == "UNKNOWN_ERROR"
        assert "builder bug" in delivery.error_message
        assert delivery.attempts == 1
        assert delivery.next_attempt_at > timezone.now() - SECOND
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.outcome, attempt.error_code, attempt.response_status) == (
        "retry",
        "UNKNOWN_ERROR",
        None,
    )
    assert attempt.deliveries.count() == 2
    state = state_of(mapping.destination)
    assert state.consecutive_failures == 1
    assert state.failing_since is not None


# --- The circuit breaker and "failing since" (SPEC §5.6, §6) ---------------------------------


@pytest.fixture
def fragile(source, sink, billing, mapping):
    """Billing opens its circuit after 2 failed batches of one delivery; 4 are waiting."""
    configure(billing, breaker_threshold=2, breaker_cooldown_seconds=30)
    configure(mapping, batch_size=1)
    pending(source, 4)
    return billing


def open_circuit(destination: Destination, mapping: Mapping, sink) -> None:
    sink.answer = always(503)
    dispatch_once(mapping)
    dispatch_once(mapping)
    make_due()


def end_cooldown(destination: Destination) -> None:
    DestinationState.objects.filter(destination=destination).update(
        paused_until=timezone.now() - SECOND
    )


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
    assert len(batch.deliveries) == 3


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


# --- Flow control (SPEC §5.6) ----------------------------------------------------------------


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


# --- Leases (SPEC §1, §5.7) ------------------------------------------------------------------


def test_claimed_deliveries_are_in_flight_under_a_lease(source, billing, mapping):
    configure(mapping, batch_size=2)
    pending(source, 3)
    before = timezone.now()

    batch = claim_batch(mapping.pk)

    held = Delivery.objects.filter(status="in_flight")
    assert {d.pk for d in held} == {d.pk for d in batch.deliveries}
    for delivery in held:
        assert delivery.claim == batch.claim
        lease = delivery.lease_expires_at
        assert before + 30 * SECOND <= lease <= timezone.now() + 30 * SECOND
    assert Delivery.objects.filter(status="pending", claim=None).count() == 1


def test_an_expired_lease_counts_as_an_attempt_and_the_delivery_is_retried_at_once(
    source, billing, mapping
):
    configure(mapping, batch_size=1)
    pending(source, 3)
    Delivery.objects.filter(pk=Delivery.objects.order_by("id")[1].pk).update(attempts=1)
    never, once, alive = (claim_batch(mapping.pk) for _ in range(3))
    lapsed = timezone.now() - SECOND
    Delivery.objects.filter(claim__in=[never.claim, once.claim]).update(lease_expires_at=lapsed)
    before = timezone.now()

    assert reclaim_expired_leases() == 2

    def row(batch):
        return Delivery.objects.get(pk=batch.deliveries[0].pk)

    assert (row(never).attempts, row(once).attempts) == (1, 2)
    for batch in (never, once):
        reclaimed = row(batch)
        assert (reclaimed.status, reclaimed.error_code) == (Delivery.Status.RETRYING, "WORKER_LOST")
        assert (reclaimed.claim, reclaimed.lease_expires_at) == (None, None)
        assert before <= reclaimed.next_attempt_at <= timezone.now()
    assert (row(alive).status, row(alive).claim) == (Delivery.Status.IN_FLIGHT, alive.claim)


def test_a_batch_that_keeps_killing_its_worker_fails_once_past_the_retry_window(
    source, billing, mapping
):
    pending(source, 1)
    batch = claim_batch(mapping.pk)
    long_ago = timezone.now() - timedelta(seconds=billing.retry_window_seconds + 1)
    Delivery.objects.update(
        attempts=2, first_attempt_at=long_ago, lease_expires_at=timezone.now() - SECOND
    )

    reclaim_expired_leases()

    delivery = Delivery.objects.get(pk=batch.deliveries[0].pk)
    assert (delivery.status, delivery.attempts, delivery.error_code) == (
        Delivery.Status.FAILED,
        3,
        "WORKER_LOST",
    )


def test_a_probe_whose_worker_died_is_released_when_its_lease_lapses(sink, fragile, mapping):
    open_circuit(fragile, mapping, sink)
    end_cooldown(fragile)
    probe = claim_batch(mapping.pk)

    reclaim_expired_leases()
    assert state_of(fragile).probing  # its lease still runs: the probe may yet come back

    Delivery.objects.filter(claim=probe.claim).update(lease_expires_at=timezone.now() - SECOND)
    assert reclaim_expired_leases() == 1

    assert not state_of(fragile).probing
    again = claim_batch(mapping.pk)
    assert again.probe and len(again.deliveries) == 1


def test_an_outcome_for_a_claim_taken_over_by_someone_else_changes_none_of_its_rows(
    source, sink, billing, mapping
):
    pending(source, 2)
    stale = claim_batch(mapping.pk)
    Delivery.objects.update(lease_expires_at=timezone.now() - SECOND)
    reclaim_expired_leases()
    current = claim_batch(mapping.pk)
    assert {d.pk for d in current.deliveries} == {d.pk for d in stale.deliveries}

    deliver(stale)  # the first worker comes back late

    for delivery in Delivery.objects.all():
        assert (delivery.status, delivery.claim) == (Delivery.Status.IN_FLIGHT, current.claim)
        assert delivery.attempts == 1  # the lapsed lease
    deliver(current)
    assert statuses(billing) == {"delivered": 2}
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {2}
    assert DeliveryAttempt.objects.count() == 2  # both requests happened: at least once


def test_an_unknown_claim_is_a_claim_nobody_holds(source, billing, mapping):
    pending(source, 1)
    batch = claim_batch(mapping.pk)
    Delivery.objects.update(claim=uuid.uuid4())

    deliver(batch)

    assert Delivery.objects.get().status == Delivery.Status.IN_FLIGHT


def test_an_older_batch_answering_while_the_probe_is_out_does_not_release_a_second_probe(
    sink, fragile, mapping
):
    older = claim_batch(mapping.pk)  # claimed while the circuit was still closed
    DestinationState.objects.filter(destination=fragile).update(consecutive_failures=2)
    end_cooldown(fragile)  # the circuit opened meanwhile, and its cool-down is over
    probe = claim_batch(mapping.pk)
    assert probe.probe
    sink.answer = always(400)

    deliver(older)

    assert claim_batch(mapping.pk) is None
