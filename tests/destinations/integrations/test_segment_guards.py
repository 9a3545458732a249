"""The forwarder's guards and connection test: a message the receiver would refuse the whole
batch for fails alone; the connection test sends no event."""

import orjson
import pytest

from destinations.delivery.payloads import prepare
from destinations.delivery.transport import send_batch
from destinations.integrations.base import Config, ItemResult, Outcome
from destinations.services.destinations import check_connection, create_destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request
from tests.destinations.integrations.test_segment import (
    DELIVERED,
    HEADERS,
    KIND,
    WRITE_KEY,
    assert_forwarded,
    forwarded_track,
)

TOO_LARGE = events.track(1, properties={"blob": "x" * 40_000})
NO_IDS = events.track(3, userId=None, anonymousId=None)


def payloads_for(message_type: str, samples: list[dict]) -> list[dict]:
    action = KIND.action(f"send_{message_type}")
    return [prepare(action, action.default_fields(), sample) for sample in samples]


def test_a_message_over_32_kb_and_one_without_ids_stay_out_and_the_rest_goes(httpserver):
    """Segment's HTTP Tracking API takes at most 32 KB per message and needs a userId or an
    anonymousId (docs "Max request size", "Identities"); its receiver refuses the whole batch
    for one bad message, so only the good one may go."""
    httpserver.expect_request("/v1/batch").respond_with_json({"success": True})
    config = Config({"endpoint": httpserver.url_for("/v1")}, Secrets({"write_key": WRITE_KEY}), "")
    action = KIND.action("send_track")

    sent, *alone = send_batch(
        action, config, payloads_for("track", [TOO_LARGE, events.track(2), NO_IDS])
    )

    assert sent.request.items == (1,)
    assert_forwarded(httpserver.log[0][0], "/v1/batch", [forwarded_track(2)])
    assert sent.results == [DELIVERED]
    assert [(item.request.items, item.request.url) for item in alone] == [((0,), ""), ((2,), "")]
    assert [item.results[0].code for item in alone] == [
        "PAYLOAD_TOO_LARGE",
        "PAYLOAD_VALIDATION_FAILED",
    ]
    assert len(httpserver.log) == 1


def test_a_message_left_out_gets_a_clear_reason_of_its_own():
    """The reasons follow action-destinations' segment errors.ts ("Either Anonymous ID or
    User ID must be defined", a PAYLOAD_VALIDATION_FAILED) and actions-core's
    PAYLOAD_TOO_LARGE."""
    refuse = KIND.action("send_track").refuse
    too_large, no_ids = payloads_for("track", [TOO_LARGE, NO_IDS])
    size = len(orjson.dumps({"type": "track", **too_large}))

    assert refuse(too_large) == ItemResult(
        Outcome.FAILED,
        "PAYLOAD_TOO_LARGE",
        f"the message is {size} bytes, over the receiver's limit of 32 KB",
    )
    assert refuse(no_ids) == ItemResult(
        Outcome.FAILED,
        "PAYLOAD_VALIDATION_FAILED",
        "a message needs a userId or an anonymousId; it has neither",
    )


def test_the_left_out_messages_fail_alone_when_the_batch_is_sent(httpserver):
    httpserver.expect_request("/v1/batch").respond_with_json({"success": True})
    config = Config({"endpoint": httpserver.url_for("/v1")}, Secrets({"write_key": WRITE_KEY}), "")
    action = KIND.action("send_track")

    sent = send_batch(action, config, payloads_for("track", [TOO_LARGE, events.track(2), NO_IDS]))

    by_item = {i: r for item in sent for i, r in zip(item.request.items, item.results, strict=True)}
    assert [by_item[i].code for i in range(3)] == [
        "PAYLOAD_TOO_LARGE",
        "",
        "PAYLOAD_VALIDATION_FAILED",
    ]


def test_a_message_of_exactly_32_kb_goes_and_one_byte_more_does_not():
    """Segment's limit is 32 KB (32,768 bytes) of the message's JSON, as analytics-node
    measures it before it queues a message."""
    (empty,) = payloads_for("track", [events.track(1, properties={"blob": ""})])
    room = 32 * 1024 - len(orjson.dumps({"type": "track", **empty}))
    fits, over = payloads_for(
        "track",
        [
            events.track(1, properties={"blob": "x" * room}),
            events.track(1, properties={"blob": "x" * (room + 1)}),
        ],
    )
    refuse = KIND.action("send_track").refuse

    assert refuse(fits) is None
    assert refuse(over).code == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize(
    ("user_id", "anonymous_id", "refused"),
    [("", "", True), ("", "anon-1", False), ("user-1", "", False), (None, "", True)],
)
def test_an_empty_id_counts_as_no_id(user_id, anonymous_id, refused):
    """analytics-node tests `!userId && !anonymousId`; docs/tracking-api.md, "Validation", wants a
    non-empty string."""
    (payload,) = payloads_for("track", [events.track(1, userId=user_id, anonymousId=anonymous_id)])

    assert (KIND.action("send_track").refuse(payload) is not None) is refused


def test_a_batch_of_only_refused_messages_sends_nothing():
    config = Config({}, Secrets({"write_key": WRITE_KEY}), "")

    assert KIND.action("send_track").build(config, payloads_for("track", [TOO_LARGE, NO_IDS])) == []


@pytest.mark.parametrize(("status", "valid"), [(200, True), (400, True), (401, False)])
def test_the_connection_test_sends_an_empty_batch_with_the_write_key(httpserver, db, status, valid):
    """An empty batch carries no event; Switchyard and RudderStack check the write key first
    (401), and RudderStack then refuses an empty batch with 400 (rudder-server gateway,
    "Empty batch payload")."""
    httpserver.expect_request("/v1/batch", method="POST").respond_with_data("{}", status=status)
    settings = {"endpoint": httpserver.url_for("/v1")}
    destination = create_destination("segment", "Forward", settings, {"write_key": WRITE_KEY})

    check = check_connection(destination)

    assert check.ok is valid
    sent_at = httpserver.log[0][0].get_json()["sentAt"]
    assert_json_request(
        httpserver.log[0][0], "POST", "/v1/batch", {"batch": [], "sentAt": sent_at}, HEADERS
    )


def test_the_connection_test_against_segment_asks_its_cdn_for_the_source_settings():
    """Segment's Tracking API takes any write key; Segment's own destination
    (action-destinations segment/index.ts, testAuthentication) reads the source's settings
    from its CDN instead, which answers 404 for an unknown key."""
    for endpoint in ("https://api.segment.io/v1", "https://events.eu1.segmentapis.com/v1"):
        config = Config({"endpoint": endpoint}, Secrets({"write_key": "wk/1"}), "")

        request = KIND.connection_test.request(config)

        assert (request.method, request.url, request.body) == (
            "GET",
            "https://cdn.segment.com/v1/projects/wk%2F1/settings",
            b"",
        )


def test_the_connection_test_passes_on_another_switchyard_and_fails_with_a_wrong_key(
    live_server, source
):
    good = create_destination(
        "segment", "Good", {"endpoint": f"{live_server.url}/v1"}, {"write_key": source.write_key}
    )
    bad = create_destination(
        "segment", "Bad", {"endpoint": f"{live_server.url}/v1"}, {"write_key": "not-a-key"}
    )

    assert check_connection(good).ok is True
    assert check_connection(bad).ok is False
