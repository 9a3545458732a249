"""Meta Conversions API: how Graph API answers are judged, event by event where Meta names
one (developers.facebook.com/docs/graph-api/guides/error-handling and
.../graph-api/overview/rate-limiting, the X-Business-Use-Case-Usage header).
"""

import orjson
import pytest
from werkzeug import Response

from destinations.integrations import meta_conversions_rules as rules
from destinations.integrations.base import Answer, ItemResult, Outcome
from tests.destinations import events
from tests.destinations.integrations.meta_conversions_harness import (
    ACCEPTED,
    PATH,
    TOKEN,
    graph,
    graph_error,
    send,
    verdicts,
)


def test_an_error_naming_one_event_fails_it_and_retries_the_others_at_once(httpserver):
    """A parameter error names the event as $['data'][i] (seen in Meta's SDK issue #258:
    'Unexpected key "advertiser_tracking_enabled" on param "$['data'][0]"'); Meta processed
    none of the request, so the other events go again at once, without splitting."""
    message = 'Unexpected key "x" on param "$[\'data\'][1]".'
    graph(httpserver, graph_error(100, message, 2804019), status=400)

    received, results = send(httpserver, "page_view", [events.page(n) for n in (1, 2, 3)])

    assert len(received) == 1
    assert results[1].outcome is Outcome.FAILED
    assert results[1].code == "INVALID_PARAMETER"
    assert "Meta error 100/2804019" in results[1].message and "fbtrace_id Xyz" in results[1].message
    retried = ItemResult(Outcome.RETRY, "BATCH_REFUSED", "another event was invalid", 0)
    assert results[0] == results[2] == retried


def test_an_invalid_parameter_error_naming_no_event_splits_the_batch_to_find_it(httpserver):
    """Other parameter errors name no event ("The timestamp for this event is too far in the
    past" refuses the whole request): the generic rule splits the batch until the bad event
    stands alone and fails with Meta's message."""

    def answer(request):
        data = orjson.loads(request.get_data())["data"]
        if any(event["event_id"] == "pg-0002" for event in data):
            error = graph_error(100, "Invalid parameter", 2804003)
            error["error"]["error_user_msg"] = (
                "The timestamp for this event is too far in the past."
            )
            return Response(orjson.dumps(error), status=400, content_type="application/json")
        return Response(orjson.dumps(ACCEPTED), status=200, content_type="application/json")

    httpserver.expect_request(PATH, method="POST").respond_with_handler(answer)

    results = verdicts(httpserver, "page_view", [events.page(n) for n in (1, 2, 3, 4)])

    assert len(httpserver.log) == 5  # the batch, its halves, and the bad half's halves
    assert [r.outcome for r in results] == [
        Outcome.DELIVERED,
        Outcome.FAILED,
        Outcome.DELIVERED,
        Outcome.DELIVERED,
    ]
    assert results[1].code == "INVALID_PARAMETER"
    assert "too far in the past" in results[1].message


@pytest.mark.parametrize("code", [4, 17, 32, 613])
def test_rate_limit_codes_are_retried_when_meta_says_access_returns(httpserver, code):
    """Codes 4, 17, 32 and 613 are throttling; X-Business-Use-Case-Usage gives
    estimated_time_to_regain_access in minutes. A batch refused so is not split."""
    usage = {
        "987": [{"type": "ads_management", "call_count": 100, "estimated_time_to_regain_access": 5}]
    }
    headers = {"X-Business-Use-Case-Usage": orjson.dumps(usage).decode()}
    graph(httpserver, graph_error(code, "(#4) Application request limit reached"), 400, headers)

    received, results = send(httpserver, "page_view", [events.page(1), events.page(2)])

    assert len(received) == 1
    assert [(r.outcome, r.code, r.retry_after) for r in results] == [
        (Outcome.RETRY, "TOO_MANY_REQUESTS", 300.0)
    ] * 2


def test_a_rate_limit_without_a_usage_header_is_retried_with_the_usual_backoff():
    result = rules.read_error(Answer(400, {}, orjson.dumps(graph_error(17))))

    assert (result.outcome, result.code, result.retry_after) == (
        Outcome.RETRY,
        "TOO_MANY_REQUESTS",
        None,
    )


def test_a_plain_429_is_retried_after_its_retry_after(httpserver):
    httpserver.expect_request(PATH).respond_with_data("", status=429, headers={"Retry-After": "7"})

    _, results = send(httpserver, "page_view", [events.page(1)])

    assert (results[0].outcome, results[0].retry_after) == (Outcome.RETRY, 7.0)


def test_a_bad_token_fails_every_event_as_authentication_without_splitting(httpserver):
    """Code 190: the access token is invalid or expired; get a new one."""
    graph(httpserver, graph_error(190, "Invalid OAuth access token.", 463), status=400)

    received, results = send(httpserver, "page_view", [events.page(1), events.page(2)])

    assert len(received) == 1
    assert [(r.outcome, r.code) for r in results] == [
        (Outcome.FAILED, "INVALID_AUTHENTICATION")
    ] * 2
    assert TOKEN not in results[0].message


@pytest.mark.parametrize(
    ("error", "outcome", "code"),
    [
        (graph_error(100, "Invalid parameter"), Outcome.FAILED, "INVALID_PARAMETER"),
        (graph_error(2, "Service temporarily unavailable"), Outcome.RETRY, "SERVICE_UNAVAILABLE"),
        (
            graph_error(9999) | {"error": {"code": 9999, "is_transient": True}},
            Outcome.RETRY,
            "SERVICE_UNAVAILABLE",
        ),
        (graph_error(10, "Permission denied"), Outcome.FAILED, "INVALID_AUTHENTICATION"),
        (graph_error(200, "Permissions error"), Outcome.FAILED, "INVALID_AUTHENTICATION"),
    ],
)
def test_graph_errors_are_read_by_their_code(error, outcome, code):
    """Graph API error handling guide: 1 and 2 are transient, 10 and 200-299 permissions,
    100 an invalid parameter; is_transient marks any other passing error."""
    result = rules.read_error(Answer(400, {}, orjson.dumps(error)))

    assert (result.outcome, result.code) == (outcome, code)


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>", b"[]", b'{"error": "x"}', b'{"error": {"code": "4"}}', b'{"error": {}}'],
)
def test_an_answer_that_is_not_a_graph_error_is_left_to_the_generic_rules(body):
    answer = Answer(400, {"x-business-use-case-usage": "not json"}, body)

    assert rules.read_error(answer) is None
    assert rules.read_response(answer, 3) is None


def test_an_unknown_graph_error_code_is_left_to_the_generic_rules():
    answer = Answer(400, {}, orjson.dumps(graph_error(12345)))

    assert rules.read_error(answer) is None
    assert rules.read_response(answer, 2) is None


@pytest.mark.parametrize(
    "usage",
    [
        "[]",
        '{"1": "x"}',
        '{"1": [{"estimated_time_to_regain_access": "5"}]}',
        '{"1": [{"estimated_time_to_regain_access": true}]}',
        '{"1": [{"estimated_time_to_regain_access": -3}], "2": [7]}',
        '{"1": [{"estimated_time_to_regain_access": 1e30}]}',
    ],
)
def test_a_strange_usage_header_never_breaks_the_reading(usage):
    answer = Answer(400, {"x-business-use-case-usage": usage}, orjson.dumps(graph_error(4)))

    result = rules.read_error(answer)

    assert result.outcome is Outcome.RETRY
    assert result.retry_after is None or 0 <= result.retry_after <= 24 * 3600


def test_a_2xx_answer_delivers_every_event():
    assert rules.read_response(Answer(200, {}, orjson.dumps(ACCEPTED)), 2) is None
