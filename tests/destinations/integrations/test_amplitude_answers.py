"""Amplitude: how its answers are judged: HTTP V2's 400 and 429 event by event where
they name events, a bad API key failing every event, the Identify API's 429 holding the
whole request 15 seconds (https://amplitude.com/docs/apis/analytics/http-v2, 400/413/429
answers, and .../identify), as Amplitude's SDKs do (analytics-core/src/plugins/
destination.ts).
"""

import pytest

from destinations.integrations import amplitude
from destinations.integrations.base import Answer, ItemResult, Outcome
from tests.destinations import events
from tests.destinations.integrations.amplitude_harness import (
    API_KEY,
    send,
)


def test_only_the_events_a_400_names_fail_and_the_others_go_again_at_once(httpserver):
    """HTTP V2, 400: events_with_invalid_fields / events_with_missing_fields map a field to
    indexes, silenced_events lists indexes; Amplitude took none of the events, and its SDKs
    drop the named ones and resend the rest (analytics-core/src/plugins/destination.ts)."""
    answer = {
        "code": 400,
        "error": "Invalid field values on some events",
        "events_with_invalid_fields": {"time": [1]},
        "events_with_missing_fields": {"event_type": [1, 3]},
        "silenced_events": [2],
        "silenced_devices": ["anon-3"],
    }
    httpserver.expect_request("/2/httpapi").respond_with_json(answer, status=400)

    received, results = send(httpserver, "log_event", [events.track(n) for n in range(5)])

    assert len(received) == 1  # read event by event, not split in halves
    error = "Amplitude refused this event: Invalid field values on some events"
    resent = ItemResult(
        Outcome.RETRY,
        "RESENT_WITHOUT_REFUSED_EVENTS",
        "Amplitude refused the whole request for other events in it "
        "(Invalid field values on some events)",
        0.0,
    )
    assert results == [
        resent,
        ItemResult(Outcome.FAILED, "BAD_REQUEST", f"{error} (invalid time, missing event_type)"),
        ItemResult(Outcome.FAILED, "BAD_REQUEST", f"{error} (device silenced)"),
        ItemResult(Outcome.FAILED, "BAD_REQUEST", f"{error} (missing event_type)"),
        resent,
    ]


def test_a_400_for_the_api_key_fails_every_event_as_an_authentication_error(httpserver):
    """Amplitude answers a bad key with 400 "Invalid API key"; its SDKs give up on all."""
    answer = {"code": 400, "error": f"Invalid API key: {API_KEY}"}
    httpserver.expect_request("/2/httpapi").respond_with_json(answer, status=400)

    received, results = send(httpserver, "log_event", [events.track(1), events.track(2)])

    assert len(received) == 1
    assert {(r.outcome, r.code) for r in results} == {(Outcome.FAILED, "INVALID_AUTHENTICATION")}
    assert API_KEY not in results[0].message  # the transport masks the secrets it quotes


def test_a_400_for_a_missing_request_field_fails_every_event():
    answer = Answer(
        400,
        {},
        b'{"code":400,"error":"Request missing required field",'
        b'"missing_field":"api_key","events_with_missing_fields":{"event_type":[1]}}',
    )

    results = amplitude.read_events_answer(answer, 2)

    failed = ItemResult(Outcome.FAILED, "BAD_REQUEST", "HTTP 400: Request missing required field")
    assert results == [failed, failed]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"Bad Request",
        b"[1]",
        b'{"code":400,"error":"Invalid JSON request body"}',
        b'{"events_with_invalid_fields":{"time":[7,"1",true,-1]},"silenced_events":"1"}',
        b'{"events_with_invalid_fields":["time"],"throttled_events":{"0":1}}',
    ],
)
def test_an_answer_that_names_no_event_of_the_request_is_judged_whole(body):
    """None: a 400 then splits the batch to find its bad events (the generic rule)."""
    assert amplitude.read_events_answer(Answer(400, {}, body), 2) is None


def test_throttled_events_wait_30_seconds_and_the_others_go_again_at_once(httpserver):
    """HTTP V2, 429: "pause sending events for that user or device for a period of 30
    seconds"; throttled_events lists them. Amplitude took none of the request's events."""
    answer = {
        "code": 429,
        "error": "Too many requests for some devices and users",
        "eps_threshold": 30,
        "throttled_devices": {"anon-0": 31},
        "throttled_users": {"user-0": 32},
        "throttled_events": [0],
    }
    httpserver.expect_request("/2/httpapi").respond_with_json(answer, status=429)

    _, results = send(httpserver, "log_event", [events.track(0), events.track(1)])

    assert [(r.outcome, r.code, r.retry_after) for r in results] == [
        (Outcome.RETRY, "TOO_MANY_REQUESTS", 30.0),
        (Outcome.RETRY, "RESENT_WITHOUT_REFUSED_EVENTS", 0.0),
    ]


def test_a_429_that_names_no_event_is_retried_after_its_retry_after(httpserver):
    httpserver.expect_request("/2/httpapi").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "7"}
    )

    _, results = send(httpserver, "log_event", [events.track(1)])

    assert [(r.outcome, r.code, r.retry_after) for r in results] == [
        (Outcome.RETRY, "TOO_MANY_REQUESTS", 7.0)
    ]


def test_an_identify_api_429_holds_the_whole_request_15_seconds(httpserver):
    """Identify API: "Pause sending events for any devices in that request for 15 seconds"."""
    httpserver.expect_request("/identify").respond_with_data("too many requests", status=429)

    _, results = send(httpserver, "identify_user", [events.identify(1), events.identify(2)])

    assert {(r.outcome, r.code, r.retry_after) for r in results} == {
        (Outcome.RETRY, "TOO_MANY_REQUESTS", 15.0)
    }
