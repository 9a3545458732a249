"""Amplitude: events to the HTTP V2 API (or the Batch Event Upload API), users to the Identify
API, groups to the Group Identify API.

Sources: https://amplitude.com/docs/apis/analytics/http-v2 (limits, 400/413/429 answers),
https://amplitude.com/docs/apis/analytics/batch-event-upload, .../identify,
.../group-identify, .../dashboard-rest (user search), and Segment's Amplitude (Actions)
destination, packages/destination-actions/src/destinations/amplitude/ in
segmentio/action-destinations.
"""

import base64
from urllib.parse import parse_qs, urlencode

import orjson
import pytest

from destinations.delivery.batching import request_groups
from destinations.delivery.payloads import prepare
from destinations.integrations import amplitude
from destinations.integrations.base import Answer, Config, ItemResult, Outcome
from destinations.models import Delivery, Destination
from destinations.services.destinations import check_connection, create_destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, deliver

API_KEY = "amp-api-key-123"
SECRET_KEY = "amp-secret-456"
SECRETS = {"api_key": API_KEY, "secret_key": SECRET_KEY}
# 2026-03-01T12:00:00.000Z, the samples' timestamp.
TIME = 1772366400000
DELIVERED = ItemResult(Outcome.DELIVERED)
LOG_EVENT = amplitude.LOG_EVENT.default_fields()
FORM = "application/x-www-form-urlencoded"


def send(httpserver, action, sample_events, **settings):
    """Deliver with the action's default fields (those of the Track, Identify and Group
    calls presets) to the test server."""
    settings = {"base_url": httpserver.url_for("/"), **settings}
    fields = amplitude.KIND.action(action).default_fields()
    return deliver(
        httpserver,
        "amplitude",
        action,
        sample_events,
        settings=settings,
        secrets=SECRETS,
        fields=fields,
    )


def amplitude_event(number: int, **changes) -> dict:
    """The event sent for events.track(number) with the Track calls preset."""
    return {
        "user_id": f"user-{number}",
        "device_id": f"anon-{number}",
        "event_type": "API Call",
        "time": TIME,
        "insert_id": f"msg-{number:04d}",
        "event_properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
        "ip": "203.0.113.7",
        "revenue": 12.5,
        "revenueType": "Purchase",
    } | changes


def built_event(event: dict, **fields) -> dict:
    config = Config({}, Secrets(SECRETS), "")
    payload = prepare(amplitude.LOG_EVENT, LOG_EVENT | fields, event)
    return orjson.loads(amplitude.build_events(config, [payload])[0].body)["events"][0]


def form(request) -> dict[str, str]:
    assert request.headers["Content-Type"] == FORM
    return {key: values[0] for key, values in parse_qs(request.get_data().decode()).items()}


def config_for(**settings) -> Config:
    """The config of a saved destination with these settings (defaults filled in)."""
    destination = Destination(kind="amplitude", settings=settings)
    destination.set_secrets(SECRETS)
    return destination.config()


def url_of(action, **settings) -> str:
    sample = events.track() | {"groupId": "acme-inc"}
    payload = prepare(action, action.default_fields(), sample)
    return action.build(config_for(**settings), [payload])[0].url


def test_a_track_event_becomes_one_http_v2_event(httpserver):
    """The API key travels in the JSON body: HTTP V2 has no other place for it."""
    answer = {"code": 200, "events_ingested": 1, "payload_size_bytes": 400}
    httpserver.expect_request("/2/httpapi").respond_with_json(answer)

    received, results = send(httpserver, "log_event", [events.track(1)])

    body = {"api_key": API_KEY, "events": [amplitude_event(1)]}
    assert_json_request(received[0], "POST", "/2/httpapi", body, {})
    assert "Authorization" not in received[0].headers
    assert results == [DELIVERED]


def test_the_batch_endpoint_setting_sends_the_same_body_to_batch(httpserver):
    """Segment's "Use Batch Endpoint"; /batch throttles a device at 1000 events a second."""
    httpserver.expect_request("/batch").respond_with_json({"code": 200})

    received, results = send(httpserver, "log_event", [events.track(1)], use_batch_endpoint=True)

    body = {"api_key": API_KEY, "events": [amplitude_event(1)]}
    assert_json_request(received[0], "POST", "/batch", body, {})
    assert results == [DELIVERED]


def test_a_full_batch_of_2000_events_goes_in_one_request(httpserver):
    httpserver.expect_request("/2/httpapi").respond_with_json({"code": 200})
    batch = [events.track(n, messageId=f"m-{n}") for n in range(2000)]

    received, results = send(httpserver, "log_event", batch)

    assert len(received) == 1
    sent = received[0].get_json()["events"]
    assert [event["insert_id"] for event in sent] == [f"m-{n}" for n in range(2000)]
    assert results == [DELIVERED] * 2000


def test_batches_stop_at_2000_events_and_under_1_mb():
    """HTTP V2: "under 1 MB with fewer than 2000 events per request", 413 past them."""
    small = [Delivery(payload_bytes=400) for _ in range(2001)]
    large = [Delivery(payload_bytes=300_000) for _ in range(4)]

    by_count = request_groups(small, amplitude.LOG_EVENT.max_batch_size, 900_000)
    by_size = request_groups(large, 2000, amplitude.LOG_EVENT.max_batch_bytes)

    assert amplitude.LOG_EVENT.max_batch_bytes == 900_000
    assert [len(group) for group in by_count] == [2000, 1]
    assert [len(group) for group in by_size] == [2, 2]


def test_the_minimum_id_length_setting_goes_in_the_request_options(httpserver):
    httpserver.expect_request("/2/httpapi").respond_with_json({"code": 200})

    received, _ = send(httpserver, "log_event", [events.track(1)], min_id_length=3.0)

    body = {"api_key": API_KEY, "events": [amplitude_event(1)], "options": {"min_id_length": 3}}
    assert_json_request(received[0], "POST", "/2/httpapi", body, {})


@pytest.mark.parametrize("value", [None, 0, -4, True, "3", 2.5e10, [3]])
def test_a_minimum_id_length_that_is_not_a_positive_number_is_left_out(value):
    assert amplitude.options(Config({"min_id_length": value}, Secrets({}), "")) == {}


def test_revenue_is_price_times_quantity_as_segment_computes_it():
    """logPurchase/index.ts, getRevenueProperties: price times quantity wins over revenue, the
    quantity is rounded as Math.round does, and the type defaults to Purchase."""
    event = events.track(properties={"price": 2.5, "quantity": 2.5, "revenue": 99, "productId": 7})

    sent = built_event(event)

    assert (sent["revenue"], sent["revenueType"], sent["price"]) == (6.25, "Purchase", 2.5)
    assert (sent["quantity"], sent["productId"]) == (3, "7")


def test_a_price_alone_is_the_revenue_because_amplitude_counts_a_missing_quantity_as_1():
    """Segment sends no revenue for a price alone; Amplitude's event keys say a missing
    quantity is 1, and the vendor wins."""
    sent = built_event(events.track(properties={"price": 4}))

    assert (sent["revenue"], sent["price"]) == (4, 4)
    assert "quantity" not in sent


@pytest.mark.parametrize("properties", [{}, {"revenue": 0}, {"price": 3, "quantity": 0}])
def test_an_event_without_revenue_carries_no_revenue_keys(properties):
    sent = built_event(events.track(properties=properties))

    assert not set(amplitude.REVENUE_KEYS) & set(sent)


def test_a_negative_half_quantity_rounds_up_as_javascript_does():
    sent = built_event(events.track(properties={"price": 1, "quantity": -2.5}))

    assert (sent["quantity"], sent["revenue"]) == (-2, -2.5)


def test_an_identify_becomes_a_form_encoded_identification(httpserver):
    """Identify API: api_key and identification (a JSON array) as form fields; Segment's
    identifyUser/index.ts sends the same."""
    httpserver.expect_request("/identify", method="POST").respond_with_data("success")

    received, results = send(httpserver, "identify_user", [events.identify(1)])

    identification = (
        '[{"user_id":"user-1","device_id":"anon-1",'
        '"user_properties":{"email":"ada@example.com","plan":"pro"}}]'
    )
    assert received[0].full_path == "/identify?"
    assert (
        received[0].get_data()
        == urlencode({"api_key": API_KEY, "identification": identification}).encode()
    )
    assert form(received[0])["identification"] == identification
    assert results == [DELIVERED]


def test_identifications_go_together_with_the_options(httpserver):
    httpserver.expect_request("/identify").respond_with_data("success")
    batch = [events.identify(n) for n in range(1, 4)]

    received, results = send(httpserver, "identify_user", batch, min_id_length=2)

    sent = form(received[0])
    assert [item["user_id"] for item in orjson.loads(sent["identification"])] == [
        "user-1",
        "user-2",
        "user-3",
    ]
    assert sent["options"] == '{"min_id_length":2}'
    assert results == [DELIVERED] * 3


def test_a_group_call_sets_the_group_properties(httpserver):
    """Group Identify API: identification holds group_type, group_value, group_properties."""
    httpserver.expect_request("/groupidentify").respond_with_data("success")

    received, results = send(httpserver, "group_identify", [events.group(1)])

    identification = (
        '[{"group_type":"company","group_value":"acme-inc",'
        '"group_properties":{"name":"Acme Inc","seats":12}}]'
    )
    assert (
        received[0].get_data()
        == urlencode({"api_key": API_KEY, "identification": identification}).encode()
    )
    assert results == [DELIVERED]


def test_form_encoded_batches_stay_under_a_third_of_1_mb():
    """Group Identify: 1024 identifications and 1 MB a request; URL encoding can triple JSON."""
    for action in (amplitude.IDENTIFY_USER, amplitude.GROUP_IDENTIFY):
        assert action.max_batch_size == 1024
        assert action.max_batch_bytes * 3 < 1_000_000


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


@pytest.mark.parametrize(
    ("settings", "host"),
    [
        ({}, "https://api2.amplitude.com"),
        ({"region": "US"}, "https://api2.amplitude.com"),
        ({"region": "EU"}, "https://api.eu.amplitude.com"),
        ({"region": ["EU"]}, "https://api2.amplitude.com"),
        ({"region": "EU", "base_url": "http://proxy:8080/amp/"}, "http://proxy:8080/amp"),
    ],
)
def test_each_region_has_its_ingestion_host_and_a_base_url_wins(settings, host):
    """HTTP V2 "Regions": api2.amplitude.com, or api.eu.amplitude.com for EU data residency."""
    assert url_of(amplitude.LOG_EVENT, **settings) == f"{host}/2/httpapi"
    assert url_of(amplitude.IDENTIFY_USER, **settings) == f"{host}/identify"
    assert url_of(amplitude.GROUP_IDENTIFY, **settings) == f"{host}/groupidentify"


def test_the_region_setting_chooses_the_host():
    region = next(s for s in amplitude.KIND.settings if s.key == "region")

    assert region.chooses_host and region.choices == ("US", "EU")


@pytest.mark.parametrize(
    ("region", "origin"),
    [("US", "https://amplitude.com"), ("EU", "https://analytics.eu.amplitude.com")],
)
def test_the_connection_test_searches_a_user_with_both_keys(region, origin):
    """Dashboard REST API, User search: Basic api_key:secret_key; Segment's amplitude/index.ts
    testAuthentication does the same."""
    request = amplitude.test_request(config_for(region=region))

    credentials = base64.b64encode(f"{API_KEY}:{SECRET_KEY}".encode()).decode()
    assert (request.method, request.url, request.body) == (
        "GET",
        f"{origin}/api/2/usersearch?user=switchyard-connection-test",
        b"",
    )
    assert request.headers == {"Authorization": f"Basic {credentials}"}


@pytest.mark.parametrize(("status", "valid"), [(200, True), (401, False), (403, False)])
def test_the_connection_test_trusts_only_a_2xx_search(httpserver, db, status, valid):
    httpserver.expect_request("/api/2/usersearch").respond_with_json(
        {"type": "nomatch", "matches": []}, status=status
    )
    settings = {"base_url": httpserver.url_for("/")}
    destination = create_destination("amplitude", "Analytics", settings, SECRETS)

    check = check_connection(destination)

    assert check.ok is valid
    assert len(httpserver.log) == 1  # and no event was sent
