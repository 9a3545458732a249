"""Mixpanel: events and aliases to /import, their batching and identifiers, the data
residency hosts and the connection test; user and group profiles (/engage, /groups) are in
test_mixpanel_profiles.py, the reading of Mixpanel's answers in test_mixpanel_answers.py.

Sources: https://docs.mixpanel.com/reference/import-events (limits, authentication, strict
validation, $insert_id, ip), the Ingestion API's OpenAPI (mixpanel/docs,
openapi/ingestion.openapi.yaml: hosts, /engage, /groups, responses),
https://docs.mixpanel.com/reference/user-profile-limits, .../identity-create-alias,
https://docs.mixpanel.com/docs/tracking-methods/id-management, and Segment's Mixpanel
(Actions) destination, packages/destination-actions/src/destinations/mixpanel/ in
segmentio/action-destinations.
"""

import uuid

import pytest

from destinations.delivery.batching import cut_into_requests
from destinations.delivery.payloads import prepare
from destinations.integrations import mixpanel
from destinations.models import Delivery
from destinations.services.destinations import check_connection, create_destination
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request
from tests.destinations.integrations.mixpanel_harness import (
    DELIVERED,
    IMPORT,
    SECRET,
    TIME,
    TOKEN,
    basic,
    built,
    config_for,
    imported_event,
    send,
)


def test_a_track_event_becomes_one_imported_event(httpserver):
    """The project secret authenticates as the Basic user name with no password."""
    answer = {"code": 200, "num_records_imported": 1, "status": "OK"}
    httpserver.expect_request("/import").respond_with_json(answer)

    received, results = send(httpserver, "track_event", [events.track(1)])

    assert_json_request(received[0], "POST", IMPORT, [imported_event(1)], basic(SECRET))
    assert results == [DELIVERED]


def test_a_service_account_signs_in_with_its_username_and_names_the_project(httpserver):
    """Import Events, Authentication: service account username and secret, project_id in
    the query."""
    httpserver.expect_request("/import").respond_with_json({"code": 200, "status": "OK"})
    settings = {"service_account_username": "sync.a1b2c3.mp-service-account"}

    received, _ = send(httpserver, "track_event", [events.track(1)], project_id=12345, **settings)

    headers = basic("sync.a1b2c3.mp-service-account", SECRET)
    path = f"{IMPORT}&project_id=12345"
    assert_json_request(received[0], "POST", path, [imported_event(1)], headers)


def test_without_a_secret_the_project_token_authenticates_import(httpserver):
    """Import Events, Authentication: "provide your token as the basic auth username value
    with an empty password"; Segment's getImportApiCredential falls back to it likewise."""
    httpserver.expect_request("/import").respond_with_json({"code": 200, "status": "OK"})

    received, _ = send(
        httpserver, "track_event", [events.track(1)], secrets={"project_token": TOKEN}
    )

    assert_json_request(received[0], "POST", IMPORT, [imported_event(1)], basic(TOKEN))


def test_a_full_batch_of_2000_events_goes_in_one_request(httpserver):
    httpserver.expect_request("/import").respond_with_json({"code": 200, "status": "OK"})

    received, results = send(httpserver, "track_event", [events.track(n) for n in range(2000)])

    assert len(received) == 1
    sent = received[0].get_json()
    assert [event["properties"]["distinct_id"] for event in sent] == [
        f"user-{n}" for n in range(2000)
    ]
    assert results == [DELIVERED] * 2000


def test_import_batches_stop_at_2000_events_and_under_10_mb():
    """Import Events: "up to 2000 events and 10MB uncompressed per request"."""
    small = [Delivery(payload_bytes=300) for _ in range(2001)]
    large = [Delivery(payload_bytes=4_000_000) for _ in range(3)]

    for action in (mixpanel.TRACK_EVENT, mixpanel.ALIAS):
        by_count = cut_into_requests(small, action.max_batch_size, action.max_batch_bytes)
        by_size = cut_into_requests(large, action.max_batch_size, action.max_batch_bytes)

        assert [len(group) for group in by_count] == [2000, 1]
        assert [len(group) for group in by_size] == [2, 1]


def test_profile_batches_stop_at_2000_updates_and_default_to_200():
    """User Profile API Limits: 2000 updates a request; "batches of 200 user profiles"."""
    for action in (mixpanel.IDENTIFY_USER, mixpanel.GROUP_IDENTIFY):
        assert (action.max_batch_size, action.default_batch_size) == (2000, 200)
        assert action.max_batch_bytes < 2 * 1024 * 1024


@pytest.mark.parametrize("message_id", ["msg-0001", "3f1c9e52-7a4b-4d2e-9c1f-0a8b7c6d5e4f"])
def test_a_message_id_mixpanel_accepts_is_the_insert_id(message_id):
    [event] = built(mixpanel.TRACK_EVENT, events.track(messageId=message_id))

    assert event["properties"]["$insert_id"] == message_id


@pytest.mark.parametrize(
    "message_id",
    [
        "ajs-next-1772366400000-3f1c9e52-7a4b-4d2e-9c1f-0a8b7c6d5e4f",
        "api_2RbJ",
        "null",
        "-1",
    ],
)
def test_a_message_id_mixpanel_refuses_becomes_the_same_uuid_on_every_retry(message_id):
    """$insert_id: at most 36 bytes of letters, digits and "-", not an ID Mixpanel refuses
    as distinct_id; Segment sends the messageId as it is and Mixpanel refuses the event."""
    [first] = built(mixpanel.TRACK_EVENT, events.track(messageId=message_id))
    [again] = built(mixpanel.TRACK_EVENT, events.track(messageId=message_id))

    insert_id = first["properties"]["$insert_id"]
    assert str(uuid.UUID(insert_id)) == insert_id
    assert again["properties"]["$insert_id"] == insert_id
    [other] = built(mixpanel.TRACK_EVENT, events.track(messageId=f"{message_id}_"))
    assert other["properties"]["$insert_id"] != insert_id


def test_an_event_without_an_ip_is_not_located_at_the_sending_server():
    """Import Events, GeoIP Enrichment: without ip, the request's address is used; "set the
    value of ip to 0" to skip it."""
    [event] = built(mixpanel.TRACK_EVENT, events.track(context={}))

    assert event["properties"]["ip"] == "0"


def test_an_anonymous_event_carries_its_device_id_for_simplified_id_merge():
    """ID Management: $device_id without $user_id is an anonymous user; Segment's default
    distinct_id is the userId, else the anonymousId."""
    [event] = built(mixpanel.TRACK_EVENT, events.track(userId=None))

    properties = event["properties"]
    assert (properties["distinct_id"], properties["$device_id"]) == ("anon-1", "anon-1")
    assert "$user_id" not in properties


def test_an_event_of_nobody_has_an_empty_distinct_id():
    """Import Events: "If the event is not associated with any user, set distinct_id to the
    empty string"."""
    [event] = built(mixpanel.TRACK_EVENT, events.track(userId=None, anonymousId=None))

    assert event["properties"]["distinct_id"] == ""


def test_event_properties_may_replace_defaults_but_not_what_identifies_the_event():
    properties = {"time": 1, "distinct_id": "x", "$insert_id": "y", "ip": "198.51.100.9"}
    context = {"ip": "203.0.113.7", "os": {"name": "iOS"}}
    event = events.track(properties=properties | {"$os": "visionOS"}, context=context)

    [sent] = built(mixpanel.TRACK_EVENT, event)

    assert sent["properties"] == {
        "time": TIME,
        "distinct_id": "user-1",
        "$insert_id": "msg-0001",
        "$device_id": "anon-1",
        "$user_id": "user-1",
        "ip": "198.51.100.9",
        "$os": "visionOS",
    }


def test_an_alias_call_creates_an_alias_through_import(httpserver):
    """Create Alias: event $create_alias with distinct_id, alias and token ("You can also use
    the import endpoint"); Segment's alias/index.ts maps alias to the userId and distinct_id
    to the previousId."""
    httpserver.expect_request("/import").respond_with_json({"code": 200, "status": "OK"})

    received, results = send(httpserver, "alias", [events.alias(1)])

    alias = {
        "event": "$create_alias",
        "properties": {
            "time": TIME,
            "distinct_id": "anon-1",
            "$insert_id": "als-0001",
            "alias": "user-1",
            "token": TOKEN,
        },
    }
    assert_json_request(received[0], "POST", IMPORT, [alias], basic(SECRET))
    assert results == [DELIVERED]


@pytest.mark.parametrize(
    ("settings", "host"),
    [
        ({}, "https://api.mixpanel.com"),
        ({"region": "EU"}, "https://api-eu.mixpanel.com"),
        ({"region": "IN"}, "https://api-in.mixpanel.com"),
        ({"region": {"IN": 1}}, "https://api.mixpanel.com"),
        ({"region": "EU", "base_url": "http://proxy:8080/mp/"}, "http://proxy:8080/mp"),
    ],
)
def test_each_data_residency_has_its_host_and_a_base_url_wins(settings, host):
    """Ingestion API servers: api, api-eu and api-in.mixpanel.com."""
    config = config_for(**settings)
    sample = events.track() | {"groupId": "acme-inc", "previousId": "anon-1"}
    urls = [
        action.build(config, [prepare(action, action.default_fields(), sample)])[0].url
        for action in mixpanel.KIND.actions
    ]

    assert urls == [
        f"{host}/import?strict=1",
        f"{host}/engage?verbose=1",
        f"{host}/groups?verbose=1",
        f"{host}/import?strict=1",
    ]
    assert mixpanel.test_request(config).url == f"{host}/import?strict=1"


def test_the_region_setting_chooses_the_host():
    region = next(s for s in mixpanel.KIND.settings if s.key == "region")

    assert region.chooses_host and region.choices == ("US", "EU", "IN")


def test_the_connection_test_imports_an_empty_batch_with_the_event_credentials():
    secrets = {"project_token": TOKEN, "api_secret": SECRET}
    settings = {"service_account_username": "sync", "project_id": "7"}

    request = mixpanel.test_request(config_for(secrets, **settings))

    assert (request.method, request.url, request.body) == (
        "POST",
        "https://api.mixpanel.com/import?strict=1&project_id=7",
        b"[]",
    )
    assert request.headers["Authorization"] == basic("sync", SECRET)["Authorization"]


@pytest.mark.parametrize(
    ("status", "valid"), [(200, True), (400, True), (401, False), (403, False)]
)
def test_the_connection_test_takes_a_refused_empty_batch_as_accepted_credentials(
    httpserver, db, status, valid
):
    """Import Events responses: 401 "Invalid credentials"; 400 is the empty batch refused."""
    httpserver.expect_request("/import").respond_with_json({"code": status}, status=status)
    settings = {"base_url": httpserver.url_for("/")}
    destination = create_destination("mixpanel", "Product", settings, {"project_token": TOKEN})

    check = check_connection(destination)

    assert check.ok is valid
    assert httpserver.log[0][0].headers["Authorization"] == basic(TOKEN)["Authorization"]
