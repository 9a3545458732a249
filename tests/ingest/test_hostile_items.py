"""Hostile content fails its own item, never the request: a message nested past 64 levels is
rejected as `too_deep`, one holding what JSON cannot carry (a lone surrogate, NaN, Infinity, a
number beyond a double) as `unencodable`; the rest of the request is stored, and the refused
items are listed in `rejected` and counted, through the real HTTP endpoint."""

import orjson

from ingest.models import Event, Rejection
from tests.ingest.helpers import message_of_depth, nested, with_property

GOOD = {"type": "track", "userId": "u1", "event": "Good"}
FIRST = GOOD | {"event": "First"}
LAST = GOOD | {"event": "Last"}


def batch(*items: bytes, envelope: bytes = b"") -> bytes:
    return b'{"batch":[' + b",".join(items) + b"]" + envelope + b"}"


def post(api, path: str, body: bytes):
    return api.post(path, content=body, headers={"Content-Type": "application/json"})


def stored_names() -> list[str]:
    return sorted(Event.objects.values_list("name", flat=True))


def rejection_counts(source) -> dict[str, int]:
    return dict(Rejection.objects.filter(source=source).values_list("code", "count"))


def test_a_batch_item_nested_300_levels_is_rejected_as_too_deep_and_the_others_stored(api, source):
    body = batch(orjson.dumps(FIRST), message_of_depth(GOOD, 300), orjson.dumps(LAST))

    response = post(api, "/v1/batch", body)

    assert response.status_code == 200
    assert response.json() == {"success": True, "rejected": [{"index": 1, "code": "too_deep"}]}
    assert stored_names() == ["First", "Last"]
    assert rejection_counts(source) == {"too_deep": 1}


def test_a_single_call_nested_251_levels_is_rejected_as_too_deep(api):
    response = post(api, "/v1/track", message_of_depth({"userId": "u1", "event": "Deep"}, 251))

    assert response.status_code == 200
    assert response.json() == {"success": True, "rejected": [{"index": 0, "code": "too_deep"}]}
    assert not Event.objects.exists()


def test_a_message_nested_exactly_64_levels_is_accepted(api):
    response = post(api, "/v1/batch", batch(message_of_depth(GOOD, 64)))

    assert response.json() == {"success": True}
    assert Event.objects.count() == 1


def test_a_message_nested_65_levels_is_rejected_as_too_deep(api):
    response = post(api, "/v1/batch", batch(message_of_depth(GOOD, 65)))

    assert response.json() == {"success": True, "rejected": [{"index": 0, "code": "too_deep"}]}
    assert not Event.objects.exists()


def test_a_batch_mixing_good_items_with_each_hostile_kind_stores_the_good_ones(api, source):
    hostile = [
        (message_of_depth(GOOD, 65), "too_deep"),
        (message_of_depth(GOOD, 300), "too_deep"),
        # JSON.stringify writes half an emoji (a string cut inside it) as a lone surrogate.
        (with_property(GOOD, b'"cut \\ud83d"'), "unencodable"),
        # Python's json.dumps writes NaN and Infinity unless told not to.
        (with_property(GOOD, b"NaN"), "unencodable"),
        (with_property(GOOD, b"[-Infinity]"), "unencodable"),
        (with_property(GOOD, b"1e400"), "unencodable"),
        (nested(300), "invalid_message"),
    ]
    items = [orjson.dumps(FIRST), *(item for item, _ in hostile), orjson.dumps(LAST)]

    response = post(api, "/v1/batch", batch(*items))

    assert response.status_code == 200
    assert response.json()["rejected"] == [
        {"index": index, "code": code} for index, (_, code) in enumerate(hostile, start=1)
    ]
    assert stored_names() == ["First", "Last"]
    assert rejection_counts(source) == {"too_deep": 2, "unencodable": 4, "invalid_message": 1}


def test_an_item_nested_to_the_decoders_limit_around_a_nul_fails_alone(api, source):
    # 2 levels of batch, 2 of message and properties, 1,000 of arrays: the decoder takes 1,024.
    deep_nul = with_property(GOOD, nested(1000, b'"\\u0000"'))

    response = post(api, "/v1/batch", batch(orjson.dumps(FIRST), deep_nul))

    assert response.json() == {"success": True, "rejected": [{"index": 1, "code": "too_deep"}]}
    assert stored_names() == ["First"]
    assert Rejection.objects.get(source=source).example


def test_a_non_object_item_nested_to_the_decoders_limit_fails_alone(api, source):
    response = post(api, "/v1/batch", batch(orjson.dumps(FIRST), nested(1020)))

    assert response.json() == {
        "success": True,
        "rejected": [{"index": 1, "code": "invalid_message"}],
    }
    assert stored_names() == ["First"]
    assert Rejection.objects.get(source=source).example.startswith("[[")


def test_a_body_nested_past_the_decoders_limit_is_a_bad_request(api):
    response = post(api, "/v1/batch", batch(orjson.dumps(FIRST), nested(100_000)))

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"
    assert not Event.objects.exists()


def test_a_single_call_holding_nan_is_rejected_as_unencodable(api):
    response = post(api, "/v1/track", with_property({"userId": "u1", "event": "NaN"}, b"NaN"))

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "rejected": [{"index": 0, "code": "unencodable"}],
    }
    assert not Event.objects.exists()


def test_a_batch_context_nested_past_63_levels_is_a_bad_request(api):
    # The batch's context becomes each message's, one level down: 63 + 1 is the limit.
    envelope = b',"context":{"deep":' + nested(63) + b"}"

    response = post(api, "/v1/batch", batch(orjson.dumps(FIRST), envelope=envelope))

    assert response.status_code == 400
    assert "'context'" in response.json()["message"]
    assert not Event.objects.exists()


def test_a_batch_context_nested_63_levels_is_merged_into_each_message(api):
    envelope = b',"context":{"deep":' + nested(62) + b"}"

    response = post(api, "/v1/batch", batch(orjson.dumps(FIRST), envelope=envelope))

    assert response.json() == {"success": True}
    assert "deep" in Event.objects.get().payload["context"]


def test_a_batch_integrations_holding_nan_is_a_bad_request(api):
    envelope = b',"integrations":{"a":NaN}'

    response = post(api, "/v1/batch", batch(orjson.dumps(FIRST), envelope=envelope))

    assert response.status_code == 400
    assert "'integrations'" in response.json()["message"]
    assert not Event.objects.exists()


def test_a_body_write_key_holding_a_lone_surrogate_opens_no_source(anonymous_api):
    body = b'{"writeKey":"\\ud800","batch":[' + orjson.dumps(FIRST) + b"]}"

    response = post(anonymous_api, "/v1/batch", body)

    assert response.status_code == 401
    assert response.json()["code"] == "unknown_source"
