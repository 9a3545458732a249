"""Outcomes and the attempt log (docs/delivery.md, "Classifying answers" and "Retries";
docs/security.md, "Redaction").

The dispatcher sends to local sinks; time is moved by writing the rows' due times, leases and
pauses directly, never by waiting.
"""

import random
from datetime import timedelta

import orjson
import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from destinations.delivery.batching import claim_batch
from destinations.delivery.dispatch import dispatch_mapping
from destinations.delivery.retries import retry_delay
from destinations.models import Delivery, DeliveryAttempt, Destination, Mapping
from destinations.services.destinations import create_destination
from infra.encryption import MASK
from tests.destinations.delivery.dispatch.helpers import (
    SECOND,
    TRACKS,
    configure,
    dispatch_once,
    make_due,
    mapping_of,
    pending,
    sizes,
    state_of,
)
from tests.destinations.delivery.scenario import ingest_and_route, track
from tests.destinations.delivery.sinks import always

# --- Outcomes (docs/delivery.md, "Classifying answers" and "Retries") ------------------------


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

    # The batch, then each delivery alone (a batch refused whole is split), and no retry.
    assert [len(request.json()) for request in sink.received] == [2, 1, 1]
    for delivery in Delivery.objects.all():
        assert delivery.status == Delivery.Status.FAILED
        assert delivery.attempts == 1
        assert (delivery.error_code, delivery.last_status_code) == ("BAD_REQUEST", 400)
        assert delivery.error_message == 'HTTP 400: {"error": "unknown customer"}'
        assert delivery.delivered_at is None
    attempts = DeliveryAttempt.objects.all()
    assert [(a.outcome, a.response_status) for a in attempts] == [("failed", 400)] * 3
    assert {attempt.response_body for attempt in attempts} == {answer.decode()}


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


# --- The attempt log (docs/security.md, "Redaction") -----------------------------------------


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
