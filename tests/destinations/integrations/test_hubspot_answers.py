"""How HubSpot's answers are judged: a 207 item by item, 423 and 477 retried, 429 with the
wait its rate limit headers and bodies give, a bad token failing every item
(https://developers.hubspot.com/docs/api/error-handling and
https://developers.hubspot.com/docs/api/usage-details).
"""

from datetime import UTC, datetime

import pytest

from destinations.integrations import hubspot_rules
from destinations.integrations.base import Answer, ItemResult, Outcome
from tests.destinations.integrations.hubspot_harness import (
    CONTACT,
    CONTACTS,
    CUSTOM_EVENT,
    EVENTS,
    person,
    send,
    tracked,
)


def rate_limited(httpserver, path, policy, headers):
    body = {
        "status": "error",
        "message": f"You have reached your {policy.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "policyName": policy,
    }
    httpserver.expect_request(path).respond_with_json(body, status=429, headers=headers)


def test_a_207_answer_fails_only_the_inputs_its_errors_name(httpserver):
    """HubSpot's multi-status answer lists failed inputs by objectWriteTraceId in each
    error's context (RudderStack's rudder-transformer, src/v1/destinations/hubspot/
    networkHandler.ts, reads it the same way); the others were upserted."""
    answer = {
        "status": "COMPLETE",
        "results": [{"id": "101", "objectWriteTraceId": "0"}, {"id": "103"}],
        "numErrors": 1,
        "errors": [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "Property values were not valid: lifecyclestage 'vip'",
                "context": {"objectWriteTraceId": ["1"]},
            }
        ],
    }
    httpserver.expect_request(CONTACTS).respond_with_json(answer, status=207)

    _, results = send(httpserver, "upsert_contact", [person(1), person(2), person(3)], CONTACT)

    assert results[0] == results[2] == ItemResult(Outcome.DELIVERED)
    assert (results[1].outcome, results[1].code) == (Outcome.FAILED, "VALIDATION_ERROR")
    assert "lifecyclestage 'vip'" in results[1].message


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"errors": "none"}',
        b'{"errors": [{"message": "no context"}]}',
        b'{"errors": [{"context": {"objectWriteTraceId": ["7"]}}]}',
        b'{"errors": [{"context": {"objectWriteTraceId": ["x", 1]}}]}',
        b'{"errors": [{"context": {"objectWriteTraceId": "0"}}]}',
    ],
)
def test_a_207_answer_that_names_no_input_of_the_request_is_judged_whole(body):
    assert hubspot_rules.read_multi_status(Answer(207, {}, body), 3) is None


def test_an_answer_other_than_207_is_judged_whole():
    body = b'{"errors": [{"context": {"objectWriteTraceId": ["0"]}}]}'

    assert hubspot_rules.read_multi_status(Answer(400, {}, body), 1) is None


def test_a_batch_over_the_ten_second_limit_waits_for_the_interval_hubspot_gives(httpserver):
    """429 bodies name the limit (policyName) and X-HubSpot-RateLimit-Interval-Milliseconds
    the window; HubSpot sends no Retry-After to API calls."""
    headers = {
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Max": "100",
        "X-HubSpot-RateLimit-Remaining": "0",
    }
    rate_limited(httpserver, CONTACTS, "TEN_SECONDLY_ROLLING", headers)

    _, results = send(httpserver, "upsert_contact", [person(1), person(2)], CONTACT)

    assert {(r.outcome, r.code, r.retry_after) for r in results} == {
        (Outcome.RETRY, "TOO_MANY_REQUESTS", 10.0)
    }
    assert results[0].message == "HTTP 429: You have reached your ten_secondly_rolling limit."


def test_a_batch_over_the_daily_limit_waits_for_the_next_full_hour(httpserver):
    """The daily limit resets at midnight in the account's time zone, which the answer does
    not give (HubSpot's usage guidelines)."""
    rate_limited(httpserver, EVENTS, "DAILY", {"X-HubSpot-RateLimit-Daily-Remaining": "0"})
    before = datetime.now(UTC)

    _, [result] = send(httpserver, "send_custom_behavioral_event", [tracked(1)], CUSTOM_EVENT)

    assert (result.outcome, result.code) == (Outcome.RETRY, "TOO_MANY_REQUESTS")
    assert 0 < result.retry_after <= hubspot_rules.until_next_hour(before) <= 3600


@pytest.mark.parametrize(
    ("moment", "seconds"),
    [
        (datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC), 3600.0),
        (datetime(2026, 3, 1, 12, 59, 30, tzinfo=UTC), 30.0),
        (datetime(2026, 3, 1, 23, 45, 0, 500_000, tzinfo=UTC), 899.5),
    ],
)
def test_the_daily_wait_ends_at_the_next_full_hour(moment, seconds):
    assert hubspot_rules.until_next_hour(moment) == seconds


def test_a_429_without_hubspots_headers_gets_the_generic_backoff(httpserver):
    httpserver.expect_request(CONTACTS).respond_with_data("slow down", status=429)

    _, [result] = send(httpserver, "upsert_contact", [person(1)], CONTACT)

    assert (result.outcome, result.code, result.retry_after) == (
        Outcome.RETRY,
        "TOO_MANY_REQUESTS",
        None,
    )


def test_a_retry_after_header_wins_when_hubspot_sends_one(httpserver):
    headers = {"Retry-After": "7", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
    rate_limited(httpserver, CONTACTS, "SECONDLY", headers)

    _, [result] = send(httpserver, "upsert_contact", [person(1)], CONTACT)

    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 7.0)


def test_an_account_being_moved_is_retried_after_the_wait_hubspot_gives(httpserver):
    """477 Migration in Progress, with Retry-After in seconds (HubSpot's error handling)."""
    httpserver.expect_request(CONTACTS).respond_with_data(
        "", status=477, headers={"Retry-After": "3600"}
    )

    _, [result] = send(httpserver, "upsert_contact", [person(1)], CONTACT)

    assert (result.outcome, result.code, result.retry_after) == (
        Outcome.RETRY,
        "MIGRATION_IN_PROGRESS",
        3600.0,
    )


@pytest.mark.parametrize("answer", [Answer(429, {}, b"[1]"), Answer(429, {}, b"\xff")])
def test_a_rate_limit_answer_hubspot_never_gives_does_not_crash_the_reader(answer):
    assert hubspot_rules.read_error(answer) == ItemResult(
        Outcome.RETRY, "TOO_MANY_REQUESTS", "HTTP 429: rate limited", None
    )


def test_a_locked_record_is_retried():
    """423 Locked: "include a delay of at least 2 seconds" (HubSpot's error handling); the
    generic rules retry 423 with backoff."""
    assert hubspot_rules.read_error(Answer(423, {}, b"")) is None


def test_a_bad_token_fails_every_item_as_bad_credentials(httpserver):
    httpserver.expect_request(CONTACTS).respond_with_json(
        {"status": "error", "category": "INVALID_AUTHENTICATION"}, status=401
    )

    _, [result] = send(httpserver, "upsert_contact", [person(1)], CONTACT)

    assert (result.outcome, result.code) == (Outcome.FAILED, "INVALID_AUTHENTICATION")
