"""Amplitude: events to the HTTP V2 API (or the Batch Event Upload API), their batching
and revenue, the regions and the connection test; users and groups (the Identify and Group
Identify APIs) are in test_amplitude_identify.py, the reading of Amplitude's answers in
test_amplitude_answers.py.

Sources: https://amplitude.com/docs/apis/analytics/http-v2 (limits, 400/413/429 answers),
https://amplitude.com/docs/apis/analytics/batch-event-upload, .../identify,
.../group-identify, .../dashboard-rest (user search), and Segment's Amplitude (Actions)
destination, packages/destination-actions/src/destinations/amplitude/ in
segmentio/action-destinations.
"""

import base64

import pytest

from destinations.delivery.batching import cut_into_requests
from destinations.integrations import amplitude
from destinations.integrations.base import Config
from destinations.models import Delivery
from destinations.services.destinations import check_connection, create_destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.amplitude_harness import (
    API_KEY,
    DELIVERED,
    SECRET_KEY,
    SECRETS,
    amplitude_event,
    built_event,
    config_for,
    send,
    url_of,
)
from tests.destinations.integrations.contract import assert_json_request


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

    by_count = cut_into_requests(small, amplitude.LOG_EVENT.max_batch_size, 900_000)
    by_size = cut_into_requests(large, 2000, amplitude.LOG_EVENT.max_batch_bytes)

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
