import hashlib
import hmac

import pytest

from destinations import triggers
from destinations.delivery.payloads import PayloadInvalid, prepare
from destinations.delivery.transport import send_batch
from destinations.integrations import get_kind
from destinations.integrations.base import ItemResult, Outcome
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, config_for, deliver

SECRET = "whsec-shared-secret"
SEND = get_kind("webhook").action("send")


def fields(url: object, **overrides: object) -> dict:
    return SEND.default_fields() | {"url": url} | overrides


def signature(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()


def send(httpserver, sample_events, mapping, secret=None):
    secrets = {"shared_secret": secret} if secret else {}
    return deliver(httpserver, "webhook", "send", sample_events, secrets=secrets, fields=mapping)


def test_one_event_is_posted_alone_as_the_whole_event_and_unsigned_without_a_secret(httpserver):
    httpserver.expect_request("/hooks/orders").respond_with_data("", status=200)

    received, results = send(
        httpserver, [events.track(1)], fields(httpserver.url_for("/hooks/orders"))
    )

    assert_json_request(received[0], "POST", "/hooks/orders", events.track(1), {})
    assert "X-Signature" not in received[0].headers
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_without_batching_each_event_gets_a_request_of_its_own(httpserver):
    httpserver.expect_request("/hook").respond_with_data("", status=204)
    samples = [events.track(n) for n in (1, 2, 3)]

    received, results = send(httpserver, samples, fields(httpserver.url_for("/hook")))

    assert len(received) == 3
    for request, sample in zip(received, samples, strict=True):
        assert_json_request(request, "POST", "/hook", sample, {})
    assert results == [ItemResult(Outcome.DELIVERED)] * 3


def test_a_single_event_is_signed_with_the_hmac_sha1_of_the_bytes_received(httpserver):
    httpserver.expect_request("/hook").respond_with_data("", status=200)

    received, _ = send(
        httpserver, [events.identify(1)], fields(httpserver.url_for("/hook")), SECRET
    )

    assert_json_request(received[0], "POST", "/hook", events.identify(1), {})
    assert received[0].headers["X-Signature"] == signature(received[0].get_data())


def test_a_batch_is_one_signed_json_array_of_the_data(httpserver):
    httpserver.expect_request("/hook").respond_with_data("", status=200)
    samples = [events.track(n) for n in range(1, 51)]
    mapping = fields(httpserver.url_for("/hook"), enable_batching=True)

    received, results = send(httpserver, samples, mapping, SECRET)

    assert len(received) == 1
    assert_json_request(received[0], "POST", "/hook", samples, {})
    assert received[0].headers["X-Signature"] == signature(received[0].get_data())
    assert results == [ItemResult(Outcome.DELIVERED)] * 50


def test_with_batching_even_one_event_is_sent_as_an_array(httpserver):
    httpserver.expect_request("/hook").respond_with_data("", status=200)
    mapping = fields(httpserver.url_for("/hook"), enable_batching=True)

    received, _ = send(httpserver, [events.page(1)], mapping)

    assert_json_request(received[0], "POST", "/hook", [events.page(1)], {})


def test_batches_are_split_by_url_method_and_headers(httpserver):
    httpserver.expect_request("/teams/a").respond_with_data("", status=200)
    httpserver.expect_request("/teams/b").respond_with_data("", status=200)
    mapping = fields(
        {"@template": httpserver.url_for("/teams/") + "{{properties.team}}"},
        method={"@path": "$.properties.method"},
        headers={"X-Tier": {"@path": "$.properties.tier"}},
        data={"@path": "$.messageId"},
        enable_batching=True,
    )
    samples = [
        events.track(1, properties={"team": "a", "method": "POST"}),
        events.track(2, properties={"team": "b", "method": "POST"}),
        events.track(3, properties={"team": "a", "method": "POST"}),
        events.track(4, properties={"team": "a", "method": "PUT"}),
        events.track(5, properties={"team": "a", "method": "POST", "tier": "gold"}),
    ]

    received, results = send(httpserver, samples, mapping)

    sent = [(r.method, r.path, r.headers.get("X-Tier"), r.get_json()) for r in received]
    assert sent == [
        ("POST", "/teams/a", None, ["msg-0001", "msg-0003"]),
        ("POST", "/teams/b", None, ["msg-0002"]),
        ("PUT", "/teams/a", None, ["msg-0004"]),
        ("POST", "/teams/a", "gold", ["msg-0005"]),
    ]
    assert results == [ItemResult(Outcome.DELIVERED)] * 5


def test_a_failing_url_holds_back_only_the_events_sent_to_it(httpserver):
    httpserver.expect_request("/up").respond_with_data("", status=200)
    httpserver.expect_request("/down").respond_with_data("busy", status=503)
    mapping = fields(
        {"@template": httpserver.url_for("/") + "{{properties.target}}"}, enable_batching=True
    )
    targets = ["up", "down", "up"]
    samples = [events.track(n, properties={"target": t}) for n, t in enumerate(targets, 1)]
    payloads = [prepare(SEND, mapping, sample) for sample in samples]

    sent = send_batch(SEND, config_for(httpserver, {}, {}), payloads)

    outcomes = {i: r.outcome for s in sent for i, r in zip(s.request.items, s.results, strict=True)}
    assert outcomes == {0: Outcome.DELIVERED, 1: Outcome.RETRY, 2: Outcome.DELIVERED}


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_put_and_patch_are_sent_with_that_method(httpserver, method):
    httpserver.expect_request("/users/1", method=method).respond_with_data("", status=200)
    mapping = fields(httpserver.url_for("/users/1"), method=method, data={"@path": "$.traits"})

    received, results = send(httpserver, [events.identify(1)], mapping)

    assert_json_request(received[0], method, "/users/1", events.identify(1)["traits"], {})
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_mapped_headers_are_sent_beside_the_json_content_type(httpserver):
    httpserver.expect_request("/hook").respond_with_data("", status=200)
    headers = {"Authorization": "Bearer abc", "X-Library": {"@path": "$.context.library.name"}}
    mapping = fields(httpserver.url_for("/hook"), headers=headers)

    received, _ = send(httpserver, [events.track(1)], mapping)

    expected = {"Authorization": "Bearer abc", "X-Library": "analytics-python"}
    assert_json_request(received[0], "POST", "/hook", events.track(1), expected)


def test_header_values_that_are_not_strings_are_sent_as_text_and_null_leaves_one_out(
    httpserver,
):
    httpserver.expect_request("/hook").respond_with_data("", status=200)
    headers = {
        "X-Attempt": 3,
        "X-Weight": 1.0,
        "X-Debug": True,
        "X-Meta": {"tags": ["a", 1]},
        "X-Absent": None,
    }
    mapping = fields(httpserver.url_for("/hook"), headers=headers)

    received, _ = send(httpserver, [events.track(1)], mapping)

    expected = {"X-Attempt": "3", "X-Weight": "1", "X-Debug": "true", "X-Meta": '{"tags":["a",1]}'}
    assert_json_request(received[0], "POST", "/hook", events.track(1), expected)
    assert "X-Absent" not in received[0].headers


def test_a_mapped_content_type_replaces_the_default_but_a_mapped_signature_is_ignored(
    httpserver,
):
    httpserver.expect_request("/hook").respond_with_data("", status=200)
    headers = {"content-type": "application/vnd.acme+json", "x-signature": "forged"}
    mapping = fields(httpserver.url_for("/hook"), headers=headers)

    received, _ = send(httpserver, [events.track(1)], mapping, SECRET)

    assert received[0].headers.getlist("Content-Type") == ["application/vnd.acme+json"]
    assert received[0].headers.getlist("X-Signature") == [signature(received[0].get_data())]


@pytest.mark.parametrize(
    "url", ["ftp://example.com/hook", "file:///etc/passwd", "example.com/hook", "https://", ""]
)
def test_a_url_that_is_not_http_or_https_fails_validation(url):
    with pytest.raises(PayloadInvalid) as raised:
        prepare(SEND, fields(url), events.track(1))

    assert raised.value.code == "PAYLOAD_VALIDATION_FAILED"
    assert raised.value.message == f"field 'url' must be an http(s) URL, got {url!r}"


@pytest.mark.parametrize("method", ["GET", "DELETE", "post"])
def test_a_method_other_than_post_put_or_patch_fails_validation(method):
    with pytest.raises(PayloadInvalid) as raised:
        prepare(SEND, fields("https://example.com/hook", method=method), events.track(1))

    assert raised.value.code == "PAYLOAD_VALIDATION_FAILED"
    assert "field 'method' must be one of ['POST', 'PUT', 'PATCH']" in raised.value.message


def test_the_default_trigger_matches_track_events_only():
    assert triggers.matches(SEND.default_trigger, events.track(1))
    for other in (events.identify(1), events.page(1), events.screen(1), events.group(1)):
        assert not triggers.matches(SEND.default_trigger, other)


def test_batches_default_to_one_event_and_hold_up_to_4000():
    assert (SEND.batching, SEND.default_batch_size, SEND.max_batch_size) == (True, 1, 4000)
