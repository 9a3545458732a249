"""The exact boundaries of retrying (docs/delivery.md, "Retries"): backoff floor, Retry-After 0 and
its 24 h cap, what counts as delivered; pure functions in
destinations/delivery/{retries,transport}.py.
"""

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from destinations.delivery.exchanges import Exchange, Sent
from destinations.delivery.retries import outcome_values, retry_delay
from destinations.delivery.transport import MAX_RETRY_AFTER_SECONDS, classify, parse_retry_after
from destinations.integrations.base import ItemResult, Outcome, Request
from destinations.models import Delivery, Destination

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(seconds=MAX_RETRY_AFTER_SECONDS)
REQUEST = Request("POST", "https://sink.example/", {}, b"[]", (0,))


def destination() -> Destination:
    return Destination(retry_base_seconds=10.0, retry_cap_seconds=600.0, retry_window_seconds=3600)


def exchange(status: int, **headers: str) -> Exchange:
    return Exchange(REQUEST, NOW, 5, status, {k.lower(): v for k, v in headers.items()})


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def next_attempt_after(status: int, **headers: str) -> timedelta:
    """How long after now a first attempt answered so is tried again."""
    answer = exchange(status, **headers)
    result = classify(answer)
    values = outcome_values(destination(), Delivery(), Sent(REQUEST, answer, [result]), result, NOW)
    assert values["status"] == Delivery.Status.RETRYING
    return values["next_attempt_at"] - NOW


# --- The backoff floor -------------------------------------------------------------------------


def test_a_backoff_drawn_at_zero_still_waits_a_tenth_of_the_base(monkeypatch):
    monkeypatch.setattr(random, "uniform", lambda low, high: 0.0)

    assert retry_delay(destination(), 1, None) == timedelta(seconds=1)
    assert retry_delay(destination(), 5, None) == timedelta(seconds=1)


def test_no_backoff_draw_is_ever_below_a_tenth_of_the_base():
    random.seed(11)

    delays = [retry_delay(destination(), 1, None) for _ in range(500)]

    assert min(delays) == timedelta(seconds=1)  # about one draw in ten lands on the floor


# --- Retry-After: 0 and dates in the past --------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["0", " 0 ", "0.0", "-5", "Thu, 01 Jan 1970 00:00:00 GMT"],
    ids=["zero", "zero-padded", "zero-float", "negative", "date-in-1970"],
)
def test_a_retry_after_of_zero_or_in_the_past_means_at_once(value):
    assert parse_retry_after(value) == 0.0


def test_a_retry_after_date_a_minute_ago_means_at_once():
    assert parse_retry_after(http_date(datetime.now(UTC) - timedelta(minutes=1))) == 0.0


def test_a_retry_after_of_zero_retries_at_once_not_after_the_backoff():
    assert retry_delay(destination(), 1, 0.0) == timedelta(0)
    assert next_attempt_after(429, **{"Retry-After": "0"}) == timedelta(0)


def test_a_retry_after_date_in_the_past_retries_at_once_not_after_the_backoff():
    past = http_date(datetime.now(UTC) - timedelta(hours=1))

    assert next_attempt_after(503, **{"Retry-After": past}) == timedelta(0)


# --- The 24 h cap on Retry-After ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["86400", "86401", "1e9"])
def test_a_retry_after_in_seconds_is_capped_at_a_day(value):
    assert parse_retry_after(value) == 86400.0


def test_a_retry_after_date_years_ahead_is_capped_at_a_day():
    assert parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT") == 86400.0


@pytest.mark.parametrize("value", ["604800", "Fri, 01 Jan 2100 00:00:00 GMT"])
def test_a_destination_asking_for_more_than_a_day_is_retried_after_a_day(value):
    assert next_attempt_after(429, **{"Retry-After": value}) == DAY


# --- What counts as delivered -----------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 299])
def test_the_first_and_last_2xx_answers_are_delivered(status):
    assert classify(exchange(status)) == ItemResult(Outcome.DELIVERED)


def test_a_199_answer_is_not_delivered():
    assert classify(exchange(199)).outcome is Outcome.FAILED


@pytest.mark.parametrize("status", [300, 301, 399])
def test_every_3xx_answer_from_300_to_399_is_an_unexpected_redirect_not_a_delivery(status):
    result = classify(exchange(status, Location="https://elsewhere.example/"))

    assert (result.outcome, result.code) == (Outcome.FAILED, "UNEXPECTED_REDIRECT")
    assert result.message == f"HTTP {status} to https://elsewhere.example/"
