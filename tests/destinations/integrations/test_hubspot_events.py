"""HubSpot's custom events: track events as occurrences, sent by send/batch
(https://developers.hubspot.com/docs/api/analytics/events), where Segment's
sendCustomBehavioralEvent sends one at a time.
"""

import orjson
import pytest

from destinations.delivery.payloads import prepare
from destinations.integrations import hubspot
from destinations.integrations.base import Config, ItemResult, Outcome
from infra.encryption import Secrets
from tests.destinations.integrations.contract import assert_json_request
from tests.destinations.integrations.hubspot_harness import (
    AUTH,
    CUSTOM_EVENT,
    EVENT_NAME,
    EVENTS,
    MSG_0001_UUID,
    TIMESTAMP,
    TOKEN,
    send,
    tracked,
)


def custom_event(number: int, **extra) -> dict:
    return {
        "eventName": EVENT_NAME,
        "occurredAt": TIMESTAMP,
        "email": f"user{number}@example.com",
        "properties": {},
        "uuid": hubspot.event_uuid(f"msg-{number:04d}"),
    } | extra


def test_track_events_become_custom_event_occurrences_in_one_batch(httpserver):
    """POST /events/v3/send/batch {"inputs": [...]}, answered 204; each occurrence's uuid
    is its messageId as a UUID, and HubSpot keeps one occurrence per uuid."""
    httpserver.expect_request(EVENTS).respond_with_data("", status=204)
    fields = CUSTOM_EVENT | {"properties": {"endpoint": {"@path": "$.properties.endpoint"}}}

    received, results = send(httpserver, "send_custom_behavioral_event", [tracked(1)], fields)

    occurrence = custom_event(1, properties={"endpoint": "/v1/search"}) | {"uuid": MSG_0001_UUID}
    assert_json_request(received[0], "POST", EVENTS, {"inputs": [occurrence]}, AUTH)
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_a_full_batch_of_100_occurrences_goes_in_one_request(httpserver):
    httpserver.expect_request(EVENTS).respond_with_data("", status=204)
    sample = [tracked(n) for n in range(1, 101)]

    received, _ = send(httpserver, "send_custom_behavioral_event", sample, CUSTOM_EVENT)

    assert len(received) == 1
    body = {"inputs": [custom_event(n) for n in range(1, 101)]}
    assert_json_request(received[0], "POST", EVENTS, body, AUTH)


def test_an_occurrence_is_linked_by_user_token_or_object_id_too(httpserver):
    httpserver.expect_request(EVENTS).respond_with_data("", status=204)
    fields = CUSTOM_EVENT | {"email": None, "utk": "a1b2c3", "object_id": "512"}

    received, _ = send(httpserver, "send_custom_behavioral_event", [tracked(1)], fields)

    [occurrence] = orjson.loads(received[0].get_data())["inputs"]
    assert (occurrence.get("email"), occurrence["utk"], occurrence["objectId"]) == (
        None,
        "a1b2c3",
        "512",
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"event_name": "API Call"}, "fully qualified pe<Hub ID>_<name>"),
        ({"email": None}, "needs an email, a user token (utk) or an object ID"),
    ],
)
def test_an_occurrence_hubspot_would_refuse_fails_alone(httpserver, fields, reason):
    """Segment's sendCustomBehavioralEvent checks the same: a pe<HubID>_ name, and one of
    email, utk or objectId (HubSpot's "Link event occurrences to records")."""
    httpserver.expect_request(EVENTS).respond_with_data("", status=204)
    config = Config({}, Secrets({"access_token": TOKEN}), httpserver.url_for("/").rstrip("/"))
    good = prepare(hubspot.SEND_CUSTOM_EVENT, CUSTOM_EVENT, tracked(1))
    bad = prepare(hubspot.SEND_CUSTOM_EVENT, CUSTOM_EVENT | fields, tracked(2))

    refusal = hubspot.SEND_CUSTOM_EVENT.refuse(bad)
    [request] = hubspot.SEND_CUSTOM_EVENT.build(config, [good, bad])

    assert request.items == (0,)
    assert (refusal.outcome, refusal.code) == (Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED")
    assert reason in refusal.message
