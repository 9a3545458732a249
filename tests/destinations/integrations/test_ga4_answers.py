"""Google Analytics 4: how the Measurement Protocol's answers are judged (2xx to anything
it receives, 429 and server errors retried), and test mappings sent to the validation server,
whose messages fail the events they name (protocol reference, "Response codes",
https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference, and the
validating-events guide, .../ga4/validating-events).
"""

import orjson
import pytest

from destinations.delivery.payloads import prepare
from destinations.delivery.transport import send_batch
from destinations.integrations import ga4
from destinations.integrations.base import Answer, ItemResult, Outcome
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, config_for
from tests.destinations.integrations.ga4_harness import (
    CUSTOM,
    DELIVERED,
    MEASUREMENT_ID,
    SECRET,
    api_call,
    body,
    collect,
    send,
)


def test_ga4_answers_2xx_even_to_events_it_drops_so_the_live_endpoint_fails_no_item(httpserver):
    """ "The Measurement Protocol always returns a 2xx status code if the HTTP request was
    received" (protocol reference, "Response codes"): there is no per-item error to read from
    the live endpoint, which is why the rules above are checked before sending."""
    httpserver.expect_request("/mp/collect").respond_with_json({"anything": True}, status=200)

    _, results = send(httpserver, "custom_event", [events.track(1), events.track(1)])

    assert results == [DELIVERED, DELIVERED]


def test_a_429_is_retried_after_the_retry_after_delay(httpserver):
    """No rate limit is documented for the protocol; a 429 follows the generic rules."""
    httpserver.expect_request("/mp/collect").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "30"}
    )

    _, results = send(httpserver, "custom_event", [events.track(1), events.track(2)])

    assert [(r.outcome, r.code, r.retry_after) for r in results] == [
        (Outcome.RETRY, "TOO_MANY_REQUESTS", 30.0)
    ] * 2


def test_a_server_error_is_retried(httpserver):
    collect(httpserver, status=503)

    _, results = send(httpserver, "custom_event", [events.track(1)])

    assert results[0].outcome is Outcome.RETRY


def validate(httpserver, answer: dict, sample_events: list[dict]):
    httpserver.expect_request("/debug/mp/collect", method="POST").respond_with_json(answer)
    config = config_for(httpserver, {"stream_id": MEASUREMENT_ID}, {"api_secret": SECRET})
    action = ga4.CUSTOM_EVENT.for_test()
    payloads = [prepare(action, CUSTOM, event) for event in sample_events]
    sent = send_batch(action, config, payloads)
    return httpserver.log[-1][0], [result for item in sent for result in item.results]


def test_test_mapping_sends_to_the_validation_server_with_strict_validation(httpserver):
    """Validating-events guide: the validation server is /debug/mp/collect, the request is
    otherwise the same, and validation_behavior ENFORCE_RECOMMENDATIONS makes it check what
    the live endpoint would silently drop."""
    received, results = validate(httpserver, {"validationMessages": []}, [events.track(1)])

    expected = body([api_call()]) | {"validation_behavior": "ENFORCE_RECOMMENDATIONS"}
    expected["events"] = expected.pop("events")
    path = f"/debug/mp/collect?measurement_id={MEASUREMENT_ID}&api_secret={SECRET}"
    assert_json_request(received, "POST", path, expected, {})
    assert results == [DELIVERED]


def test_validation_messages_fail_the_test_event_with_their_description(httpserver):
    answer = {
        "validationMessages": [
            {
                "fieldPath": "events",
                "description": "Event at index: [0] has invalid name [_bad].",
                "validationCode": "NAME_INVALID",
            }
        ]
    }

    _, results = validate(httpserver, answer, [events.track(1)])

    assert results == [
        ItemResult(
            Outcome.FAILED,
            "NAME_INVALID",
            "GA4 validation: Event at index: [0] has invalid name [_bad].",
        )
    ]


def test_a_validation_message_naming_one_event_fails_that_event_only():
    answer = {
        "validationMessages": [
            {
                "fieldPath": "events[1].params.currency",
                "description": "bad",
                "validationCode": "VALUE_INVALID",
            },
            {"fieldPath": "user_id", "description": "too long", "validationCode": "VALUE_INVALID"},
            "not a message",
        ]
    }

    results = ga4.read_validation(Answer(200, {}, orjson.dumps(answer)), 3)

    assert [r.message for r in results] == [
        "GA4 validation: too long",
        "GA4 validation: bad; too long",
        "GA4 validation: too long",
    ]


@pytest.mark.parametrize(
    "answer",
    [
        Answer(204, {}, b""),
        Answer(200, {}, b"not json"),
        Answer(200, {}, b"[]"),
        Answer(200, {}, b'{"validationMessages": "none"}'),
        Answer(500, {}, b'{"validationMessages": []}'),
    ],
)
def test_any_other_answer_is_judged_whole(answer):
    assert ga4.read_validation(answer, 2) is None
