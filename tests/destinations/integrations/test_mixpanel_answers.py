"""Mixpanel: how its answers are judged: a strict /import's 400 event by event through
failed_records, a 429 retried after its Retry-After, wrong credentials failing every event,
and /engage and /groups updates refused in a 200
(https://docs.mixpanel.com/reference/import-events, Validation and Rate Limit; the Ingestion
API's OpenAPI, mixpanel/docs openapi/ingestion.openapi.yaml).
"""

import pytest

from destinations.integrations import mixpanel
from destinations.integrations.base import Answer, ItemResult, Outcome
from tests.destinations import events
from tests.destinations.integrations.mixpanel_harness import (
    DELIVERED,
    send,
)


def test_only_the_events_mixpanel_refused_fail_and_the_others_are_delivered(httpserver):
    """Import Events, Validation: with strict=1 a 400 lists failed_records; "If some events
    pass validation and others fail, Mixpanel will ingest the events that pass", and asks
    not to retry the failed ones."""
    answer = {
        "code": 400,
        "error": "some data points in the request failed validation",
        "failed_records": [
            {
                "index": 1,
                "$insert_id": "msg-0001",
                "field": "properties.time",
                "message": "'properties.time' is invalid: must be specified as seconds since epoch",
            },
            {"index": 2, "field": "properties.distinct_id"},
        ],
        "num_records_imported": 2,
        "status": "Bad Request",
    }
    httpserver.expect_request("/import").respond_with_json(answer, status=400)

    received, results = send(httpserver, "track_event", [events.track(n) for n in range(4)])

    assert len(received) == 1  # read event by event, not split in halves
    assert results == [
        DELIVERED,
        ItemResult(
            Outcome.FAILED,
            "BAD_REQUEST",
            "Mixpanel refused this event: "
            "'properties.time' is invalid: must be specified as seconds since epoch",
        ),
        ItemResult(
            Outcome.FAILED, "BAD_REQUEST", "Mixpanel refused this event: properties.distinct_id"
        ),
        DELIVERED,
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"0",
        b"[]",
        b'{"code":400,"error":"invalid JSON"}',
        b'{"failed_records":{"index":0}}',
        b'{"failed_records":[{"index":5},{"index":"0"},{"index":true},7,null]}',
    ],
)
def test_a_400_that_names_no_event_of_the_request_is_judged_whole(body):
    """None: the batch is then split in halves to find its bad events (the generic rule)."""
    assert mixpanel.read_import_answer(Answer(400, {}, body), 2) is None


def test_a_rate_limited_import_is_retried_after_the_retry_after(httpserver):
    """Import Events, Rate Limit: 429 past 2 GB a minute; retry with backoff."""
    answer = {"code": 429, "error": "Project exceeded rate limits.", "status": "Too Many Requests"}
    httpserver.expect_request("/import").respond_with_json(
        answer, status=429, headers={"Retry-After": "5"}
    )

    _, results = send(httpserver, "track_event", [events.track(1), events.track(2)])

    assert {(r.outcome, r.code, r.retry_after) for r in results} == {
        (Outcome.RETRY, "TOO_MANY_REQUESTS", 5.0)
    }


def test_wrong_credentials_fail_every_event(httpserver):
    answer = {"code": 401, "error": "Invalid credentials", "status": "Unauthorized"}
    httpserver.expect_request("/import").respond_with_json(answer, status=401)

    received, results = send(httpserver, "track_event", [events.track(1), events.track(2)])

    assert len(received) == 1
    assert {(r.outcome, r.code) for r in results} == {(Outcome.FAILED, "INVALID_AUTHENTICATION")}


@pytest.mark.parametrize("path", ["/engage", "/groups"])
def test_profile_updates_mixpanel_took_none_of_fail_though_the_answer_is_200(httpserver, path):
    """Set User Profile Property: "This API will return a 200 OK even if there are data
    validation issues"; verbose=1 then answers status 0 with the error."""
    answer = {"status": 0, "error": "$distinct_id, missing or empty"}
    httpserver.expect_request(path).respond_with_json(answer)
    action = "identify_user" if path == "/engage" else "group_identify"
    sample = events.identify(1) if path == "/engage" else events.group(1)

    _, results = send(httpserver, action, [sample, sample])

    failed = ItemResult(
        Outcome.FAILED,
        "BAD_REQUEST",
        "Mixpanel took none of the updates: $distinct_id, missing or empty",
    )
    assert results == [failed, failed]


@pytest.mark.parametrize("body", [b"1", b"0", b"", b'{"status": 1}', b'{"status": "0"}', b"[0]"])
def test_other_profile_answers_are_judged_whole(body):
    assert mixpanel.read_updates_answer(Answer(200, {}, body), 2) is None
