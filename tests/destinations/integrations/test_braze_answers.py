"""Braze: how Track users answers are judged: the errors of a 201 (non-fatal) and of a
400 (fatal) object by object, a 429 waiting for the rate limit window
(https://www.braze.com/docs/api/endpoints/user_data/post_user_track/,
https://www.braze.com/docs/api/errors/, https://www.braze.com/docs/api/api_limits/), as in
Segment's Braze destination, __tests__/multistatus.test.ts.
"""

import time

import orjson
import pytest

from destinations.integrations import braze
from destinations.integrations.base import Answer, Outcome
from tests.destinations import events
from tests.destinations.integrations.braze_harness import (
    DELIVERED,
    PATH,
    order,
    refused,
    send,
)


def test_a_purchase_braze_refuses_fails_only_the_order_it_came_from(httpserver):
    """A 201 with errors drops only the objects named by their index in input_array
    (Track users, "Successful message with non-fatal errors"); the index counts purchases, so
    it maps back to the order of that purchase."""
    answer = {
        "message": "success",
        "errors": [{"type": "Invalid price", "input_array": "purchases", "index": 2}],
    }
    httpserver.expect_request(PATH).respond_with_json(answer, status=201)

    _, results = send(httpserver, "track_purchase", [order(1, 2), order(2, 1), order(3, 2)])

    assert results == [
        DELIVERED,
        refused(2, "purchases", "Invalid price"),
        DELIVERED,
    ]


def test_events_braze_refuses_in_a_201_fail_alone(httpserver):
    """Segment's multistatus test: 201, errors [{type, input_array: events, index: 1}]."""
    answer = {
        "events_processed": 2,
        "message": "success",
        "errors": [{"type": "a test error occurred", "input_array": "events", "index": 1}],
    }
    httpserver.expect_request(PATH).respond_with_json(answer, status=201)

    _, results = send(httpserver, "track_event", [events.track(n) for n in (1, 2, 3)])

    assert results == [
        DELIVERED,
        refused(1, "events", "a test error occurred"),
        DELIVERED,
    ]


def test_a_400_that_names_objects_fails_them_and_sends_the_others_again_at_once(httpserver):
    """A fatal error records nothing (Braze API errors, "Fatal errors"): the objects it names
    fail, the others go again without waiting and without splitting the batch."""
    answer = {
        "message": "Valid data must be provided in the 'attributes', 'events', or 'purchases'.",
        "errors": [{"type": "bad time", "input_array": "events", "index": 0}],
    }
    httpserver.expect_request(PATH).respond_with_json(answer, status=400)

    received, results = send(httpserver, "track_event", [events.track(1), events.track(2)])

    assert len(received) == 1
    assert results[0] == refused(0, "events", "bad time")
    assert (results[1].outcome, results[1].retry_after) == (Outcome.RETRY, 0)


def test_a_400_that_names_no_object_splits_the_batch_to_find_the_bad_ones(httpserver):
    httpserver.expect_request(PATH).respond_with_json({"message": "Bad Request"}, status=400)

    received, results = send(httpserver, "track_event", [events.track(1), events.track(2)])

    assert len(received) == 3  # the batch, then each half
    assert [result.outcome for result in results[-2:]] == [Outcome.FAILED, Outcome.FAILED]


def test_a_429_waits_until_brazes_rate_limit_window_resets(httpserver):
    """X-RateLimit-Reset is the UTC epoch second the window resets (Braze API limits,
    "Monitoring your rate limits")."""
    reset = int(time.time()) + 30
    httpserver.expect_request(PATH).respond_with_json(
        {"message": "Rate limit exceeded"}, status=429, headers={"X-RateLimit-Reset": str(reset)}
    )

    _, results = send(httpserver, "track_event", [events.track(1), events.track(2)])

    assert [(r.outcome, r.code) for r in results] == [(Outcome.RETRY, "TOO_MANY_REQUESTS")] * 2
    assert 27 <= results[0].retry_after <= 30


def test_a_429_with_retry_after_waits_that_long(httpserver):
    httpserver.expect_request(PATH).respond_with_data(
        "", status=429, headers={"Retry-After": "12", "X-RateLimit-Reset": "1"}
    )

    _, results = send(httpserver, "track_event", [events.track(1)])

    assert (results[0].outcome, results[0].retry_after) == (Outcome.RETRY, 12)


@pytest.mark.parametrize("reset", ["", "soon", "nan", "inf"])
def test_a_429_without_a_usable_reset_is_left_to_the_generic_rules(reset):
    answer = Answer(429, {"x-ratelimit-reset": reset}, b"")

    assert braze.TRACK_EVENT.read_error(answer) is None


@pytest.mark.parametrize("body", [b"", b"null", b"[]", b'{"errors": "x"}', b"\xff"])
def test_an_answer_without_an_errors_list_is_judged_whole(body):
    for status in (201, 400):
        assert braze.TRACK_EVENT.read_response(Answer(status, {}, body), 2) is None


def test_errors_that_name_no_object_of_the_request_are_ignored():
    errors = [1, None, {"index": "1"}, {"index": 9}, {"index": -1}, {"index": True}]
    body = orjson.dumps({"message": "success", "errors": errors})

    assert braze.TRACK_EVENT.read_response(Answer(201, {}, body), 2) == [DELIVERED] * 2
    assert braze.TRACK_EVENT.read_response(Answer(400, {}, body), 2) is None


def test_errors_about_another_array_are_not_this_requests():
    body = orjson.dumps({"errors": [{"type": "x", "input_array": "purchases", "index": 0}]})

    assert braze.TRACK_EVENT.read_response(Answer(201, {}, body), 1) == [DELIVERED]
