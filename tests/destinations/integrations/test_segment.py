import re
from datetime import UTC, datetime

import orjson
import pytest

from destinations import triggers
from destinations.admin.forms import destination_form
from destinations.delivery.payloads import PayloadInvalid, prepare
from destinations.delivery.transport import send_batch
from destinations.integrations import get_kind
from destinations.integrations.base import Answer, Config, ItemResult, Outcome
from destinations.integrations.segment import read_rejections
from destinations.services.destinations import create_destination
from infra.encryption import Secrets
from ingest.models import Event
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, deliver, preset_fields

KIND = get_kind("segment")
WRITE_KEY = "wk_forward_123"
# base64("wk_forward_123:"): the write key as the Basic user name, the password empty.
HEADERS = {"Authorization": "Basic d2tfZm9yd2FyZF8xMjM6"}
SENT_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
STAMP = "2026-03-01T12:00:00.000Z"
CONTEXT = events.CONTEXT
DELIVERED = ItemResult(Outcome.DELIVERED)


def forwarded_track(n: int) -> dict:
    return {
        "type": "track",
        "userId": f"user-{n}",
        "anonymousId": f"anon-{n}",
        "messageId": f"msg-{n:04d}",
        "timestamp": STAMP,
        "context": CONTEXT,
        "event": "API Call",
        "properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
    }


# Each type's sample event and the message forwarded for it, keys in the order sent.
FORWARDED = {
    "track": (events.track(1), forwarded_track(1)),
    "identify": (
        events.identify(1),
        {
            "type": "identify",
            "userId": "user-1",
            "anonymousId": "anon-1",
            "messageId": "idf-0001",
            "timestamp": STAMP,
            "context": CONTEXT,
            "traits": {"email": "ada@example.com", "plan": "pro"},
        },
    ),
    "page": (
        events.page(1),
        {
            "type": "page",
            "anonymousId": "anon-1",
            "messageId": "pg-0001",
            "timestamp": STAMP,
            "context": CONTEXT,
            "name": "Pricing",
            "properties": {"path": "/pricing", "title": "Pricing"},
        },
    ),
    "screen": (
        events.screen(1),
        {
            "type": "screen",
            "userId": "user-1",
            "messageId": "scr-0001",
            "timestamp": STAMP,
            "context": CONTEXT,
            "name": "Home",
            "category": "App",
            "properties": {"orientation": "portrait"},
        },
    ),
    "group": (
        events.group(1),
        {
            "type": "group",
            "userId": "user-1",
            "messageId": "grp-0001",
            "timestamp": STAMP,
            "context": CONTEXT,
            "groupId": "acme-inc",
            "traits": {"name": "Acme Inc", "seats": 12},
        },
    ),
    "alias": (
        events.alias(1),
        {
            "type": "alias",
            "userId": "user-1",
            "messageId": "als-0001",
            "timestamp": STAMP,
            "context": CONTEXT,
            "previousId": "anon-1",
        },
    ),
}


def forward(httpserver, message_type, sample_events, endpoint="/v1"):
    settings = {"endpoint": httpserver.url_for(endpoint)}
    secrets = {"write_key": WRITE_KEY}
    action = f"send_{message_type}"
    return deliver(httpserver, "segment", action, sample_events, settings=settings, secrets=secrets)


def assert_forwarded(request, path: str, messages: list[dict]) -> None:
    """The request is the batch of these messages, byte for byte, with a well-formed sentAt."""
    sent_at = request.get_json()["sentAt"]
    assert SENT_AT.match(sent_at), sent_at
    assert_json_request(request, "POST", path, {"batch": messages, "sentAt": sent_at}, HEADERS)


@pytest.mark.parametrize("message_type", list(FORWARDED))
def test_each_message_type_is_forwarded_as_the_original_message(httpserver, message_type):
    httpserver.expect_request("/v1/batch").respond_with_json({"success": True})
    sample, message = FORWARDED[message_type]

    received, results = forward(httpserver, message_type, [sample])

    assert_forwarded(received[0], "/v1/batch", [message])
    assert results == [DELIVERED]


def test_a_full_batch_of_500_goes_in_one_request(httpserver):
    httpserver.expect_request("/v1/batch").respond_with_json({"success": True})

    received, results = forward(httpserver, "track", [events.track(n) for n in range(1, 501)])

    assert len(received) == 1
    assert_forwarded(received[0], "/v1/batch", [forwarded_track(n) for n in range(1, 501)])
    assert results == [DELIVERED] * 500


def test_sent_at_is_the_moment_of_sending_in_utc_with_milliseconds(httpserver):
    httpserver.expect_request("/v1/batch").respond_with_data("", status=200)
    before = datetime.now(UTC).replace(microsecond=0)

    received, _ = forward(httpserver, "track", [events.track(1)])

    sent_at = datetime.fromisoformat(received[0].get_json()["sentAt"])
    assert before <= sent_at <= datetime.now(UTC)


def test_ids_become_strings_and_epoch_timestamps_iso_8601(httpserver):
    httpserver.expect_request("/v1/batch").respond_with_data("", status=200)
    sample = events.track(1, userId=42, anonymousId=None, timestamp=1767225600123)

    received, _ = forward(httpserver, "track", [sample])

    message = received[0].get_json()["batch"][0]
    assert (message["userId"], message["timestamp"]) == ("42", "2026-01-01T00:00:00.123Z")
    assert "anonymousId" not in message


@pytest.mark.parametrize(
    ("message_type", "sample", "field"),
    [
        ("track", events.track(1, messageId=None), "messageId"),
        ("track", events.track(1, event=None), "event"),
        ("group", events.group(1, groupId=None), "groupId"),
        ("alias", events.alias(1, previousId=None), "previousId"),
        ("alias", events.alias(1, userId=None), "userId"),
    ],
)
def test_a_message_missing_what_its_type_requires_fails_validation(message_type, sample, field):
    action = KIND.action(f"send_{message_type}")

    with pytest.raises(PayloadInvalid) as raised:
        prepare(action, action.default_fields(), sample)

    assert raised.value.code == "PAYLOAD_VALIDATION_FAILED"
    assert raised.value.message == f"field '{field}' is required but null"


def test_an_endpoint_with_a_path_and_a_trailing_slash_gets_batch_appended(httpserver):
    httpserver.expect_request("/rudder/v1/batch").respond_with_data("", status=200)

    received, _ = forward(httpserver, "track", [events.track(1)], endpoint="/rudder/v1/")

    assert_forwarded(received[0], "/rudder/v1/batch", [forwarded_track(1)])


def test_a_base_url_someone_set_wins_over_the_endpoint(httpserver, db):
    httpserver.expect_request("/proxy/v1/batch").respond_with_data("", status=200)
    settings = {
        "endpoint": "https://api.segment.io/v1",
        "base_url": httpserver.url_for("/proxy/v1"),
    }
    destination = create_destination("segment", "Forward", settings, {"write_key": WRITE_KEY})
    action = KIND.action("send_track")
    payload = prepare(action, preset_fields("segment", "send_track"), events.track(1))

    send_batch(action, destination.config(), [payload])

    assert_forwarded(httpserver.log[0][0], "/proxy/v1/batch", [forwarded_track(1)])


def test_with_neither_endpoint_nor_base_url_messages_go_to_segment(db):
    destination = create_destination("segment", "Forward", {}, {"write_key": WRITE_KEY})
    action = KIND.action("send_identify")
    payload = prepare(action, action.default_fields(), events.identify(1))

    (request,) = action.build(destination.config(), [payload])

    assert (request.method, request.url) == ("POST", "https://api.segment.io/v1/batch")
    assert request.headers["Authorization"] == HEADERS["Authorization"]


def test_the_admin_form_offers_no_base_url_so_the_endpoint_decides_until_one_is_typed():
    offered = destination_form("segment")()

    assert not offered.fields["base_url"].initial
    assert offered.fields["endpoint"].initial == "https://api.segment.io/v1"


def test_a_destination_with_only_an_endpoint_sends_there(db):
    endpoint = "https://rudder.example.com/v1"
    destination = create_destination(
        "segment", "Forward", {"endpoint": endpoint}, {"write_key": WRITE_KEY}
    )
    action = KIND.action("send_track")
    payload = prepare(action, action.default_fields(), events.track(1))

    (request,) = action.build(destination.config(), [payload])

    assert request.url == f"{endpoint}/batch"


def test_messages_a_switchyard_rejects_fail_with_its_code_and_the_rest_are_delivered(httpserver):
    answer = {"success": True, "rejected": [{"index": 1, "code": "id_required"}]}
    httpserver.expect_request("/v1/batch").respond_with_json(answer)

    _, results = forward(httpserver, "track", [events.track(n) for n in (1, 2, 3)])

    rejected = ItemResult(
        Outcome.FAILED, "id_required", "the receiving API dropped this message (id_required)"
    )
    assert results == [DELIVERED, rejected, DELIVERED]


def test_an_answer_that_is_not_json_delivers_every_message(httpserver):
    httpserver.expect_request("/v1/batch").respond_with_data("OK", status=200)

    _, results = forward(httpserver, "page", [events.page(1), events.page(2)])

    assert results == [DELIVERED, DELIVERED]


@pytest.mark.parametrize(
    "body",
    [b"", b"OK", b"[]", b'{"success": true}', b'{"success": false, "rejected": [{"index": 0}]}'],
)
def test_an_answer_without_a_rejected_list_counts_as_a_whole(body):
    assert read_rejections(Answer(200, {}, body), 2) is None


def test_rejections_that_name_no_item_of_the_batch_are_ignored():
    rejected = [{"index": 5}, {"index": "1"}, {"index": True}, "x", {"index": 0}]
    body = orjson.dumps({"success": True, "rejected": rejected})

    results = read_rejections(Answer(200, {}, body), 2)

    failed = ItemResult(
        Outcome.FAILED, "REJECTED", "the receiving API dropped this message (REJECTED)"
    )
    assert results == [failed, DELIVERED]


def test_another_switchyard_stores_what_it_accepts_and_reports_what_it_drops(live_server, source):
    config = Config(
        {"endpoint": f"{live_server.url}/v1"}, Secrets({"write_key": source.write_key}), ""
    )
    action = KIND.action("send_track")
    # A messageId over 100 characters: refused there (docs/tracking-api.md, "Validation"), not
    # checked here.
    samples = [events.track(1), events.track(2, messageId="m" * 101), events.track(3)]
    payloads = [prepare(action, action.default_fields(), sample) for sample in samples]

    (sent,) = send_batch(action, config, payloads)

    assert [result.outcome for result in sent.results] == [
        Outcome.DELIVERED,
        Outcome.FAILED,
        Outcome.DELIVERED,
    ]
    assert sent.results[1].code == "message_id_too_long"
    stored = Event.objects.filter(source=source).order_by("message_id")
    assert [(e.message_id, e.name, e.user_id) for e in stored] == [
        ("msg-0001", "API Call", "user-1"),
        ("msg-0003", "API Call", "user-3"),
    ]
    assert stored[0].payload["properties"] == events.track(1)["properties"]
    assert stored[0].payload["originalTimestamp"] == STAMP


def test_presets_forward_each_type_on_its_own_trigger():
    samples = {name: sample for name, (sample, _) in FORWARDED.items()}

    matched = {
        preset.action: [
            name for name, sample in samples.items() if triggers.matches(preset.trigger, sample)
        ]
        for preset in KIND.presets
    }

    assert matched == {
        "send_track": ["track"],
        "send_identify": ["identify"],
        "send_page": ["page"],
        "send_screen": ["screen"],
        "send_group": ["group"],
    }
    assert KIND.action("send_alias").default_trigger == 'type = "alias"'


def test_every_action_batches_100_by_default_up_to_500_and_under_segments_500_kb_limit():
    for action in KIND.actions:
        assert (action.batching, action.default_batch_size, action.max_batch_size) == (
            True,
            100,
            500,
        )
        assert action.max_batch_bytes == 450_000 < 500 * 1024
