import uuid

import orjson
import pytest

from destinations import triggers
from destinations.delivery.payloads import PayloadInvalid, prepare
from destinations.integrations import launchdarkly
from destinations.integrations.base import Config, ItemResult, Outcome
from destinations.models import Destination
from destinations.services.destinations import check_connection, create_destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, deliver

CLIENT_ID = "5f0c1d2e3a4b5c6d7e8f9a0b"
PATH = f"/events/bulk/{CLIENT_ID}"
HEADERS = {"X-LaunchDarkly-Event-Schema": "4"}
# 2026-03-01T12:00:00.000Z, the samples' timestamp.
CREATION_DATE = 1772366400000
TRACK = launchdarkly.TRACK_EVENT.default_fields()
ALIAS = launchdarkly.ALIAS_USER.default_fields()


def send(httpserver, action, sample_events, fields=None):
    settings = {"client_id": CLIENT_ID, "base_url": httpserver.url_for("/")}
    return deliver(
        httpserver, "launchdarkly", action, sample_events, settings=settings, fields=fields
    )


def without(event: dict, *keys: str) -> dict:
    return {key: value for key, value in event.items() if key not in keys}


def custom_event(number: int) -> dict:
    return {
        "kind": "custom",
        "key": "API Call",
        "contextKeys": {"unauthenticatedUser": f"anon-{number}", "user": f"user-{number}"},
        "creationDate": CREATION_DATE,
        "metricValue": 12.5,
        "data": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
    }


def alias_event(number: int) -> dict:
    return {
        "kind": "alias",
        "key": f"user-{number}",
        "previousKey": f"anon-{number}",
        "contextKind": "user",
        "previousContextKind": "anonymousUser",
        "creationDate": CREATION_DATE,
    }


def built_item(action, fields: dict, event: dict, settings: dict | None = None) -> dict:
    """The one item the action would send for this event, built without sending it."""
    config = Config({"client_id": CLIENT_ID, **(settings or {})}, Secrets({}), "https://unused")
    request = action.build(config, [prepare(action, fields, event)])[0]
    return orjson.loads(request.body)[0]


def track_item(event: dict, **fields) -> dict:
    return built_item(launchdarkly.TRACK_EVENT, TRACK | fields, event)


def events_url(settings: dict) -> str:
    """Where events go for these settings, resolved as a saved destination resolves them."""
    destination = Destination(kind="launchdarkly", settings={"client_id": CLIENT_ID, **settings})
    return launchdarkly.events_url(destination.config())


def test_one_track_event_becomes_one_custom_event(httpserver):
    httpserver.expect_request(PATH).respond_with_data("", status=202)

    received, results = send(httpserver, "track_event", [events.track(1)])

    assert_json_request(received[0], "POST", PATH, [custom_event(1)], HEADERS)
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_a_full_batch_of_100_track_events_goes_in_one_request(httpserver):
    httpserver.expect_request(PATH).respond_with_data("", status=202)

    received, results = send(httpserver, "track_event", [events.track(n) for n in range(1, 101)])

    assert len(received) == 1
    body = [custom_event(n) for n in range(1, 101)]
    assert_json_request(received[0], "POST", PATH, body, HEADERS)
    assert results == [ItemResult(Outcome.DELIVERED)] * 100


def test_one_identify_becomes_one_alias_event(httpserver):
    httpserver.expect_request(PATH).respond_with_data("", status=202)

    received, results = send(httpserver, "alias_user", [events.identify(1)])

    assert_json_request(received[0], "POST", PATH, [alias_event(1)], HEADERS)
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_a_full_batch_of_100_aliases_goes_in_one_request(httpserver):
    httpserver.expect_request(PATH).respond_with_data("", status=202)

    received, _ = send(httpserver, "alias_user", [events.identify(n) for n in range(1, 101)])

    assert len(received) == 1
    body = [alias_event(n) for n in range(1, 101)]
    assert_json_request(received[0], "POST", PATH, body, HEADERS)


def test_an_alias_call_aliases_the_previous_id_rather_than_the_anonymous_id():
    alias = events.identify(1, type="alias", previousId="legacy-1")

    item = built_item(launchdarkly.ALIAS_USER, ALIAS, alias)

    assert item["previousKey"] == "legacy-1"


def test_an_identify_without_a_user_id_cannot_become_an_alias():
    with pytest.raises(PayloadInvalid, match="'user_key' is required but missing"):
        prepare(launchdarkly.ALIAS_USER, ALIAS, without(events.identify(), "userId"))


def test_an_anonymous_track_event_is_keyed_by_its_anonymous_id():
    item = track_item(without(events.track(1), "userId"))

    assert item["contextKeys"] == {"unauthenticatedUser": "anon-1", "user": "anon-1"}


def test_the_metric_value_is_the_revenue_before_the_value():
    assert track_item(events.track(properties={"value": 3, "revenue": 7}))["metricValue"] == 7


def test_the_metric_value_is_the_value_when_there_is_no_revenue():
    assert track_item(events.track(properties={"value": 3, "revenue": None}))["metricValue"] == 3


def test_the_metric_value_is_left_out_when_there_is_neither_revenue_nor_value():
    item = track_item(events.track(properties={"endpoint": "/v1/search"}))

    assert "metricValue" not in item
    assert list(item) == ["kind", "key", "contextKeys", "creationDate", "data"]


def test_the_data_is_an_empty_object_when_the_event_has_no_properties():
    assert track_item(without(events.track(), "properties"))["data"] == {}


def test_additional_context_keys_are_sent_as_strings_and_null_ones_are_skipped():
    additional = {
        "organization": 42,
        "device": 3.0,
        "beta": True,
        "anonymous": {"@path": "$.anonymousId"},
        "missing": {"@path": "$.context.nothing"},
        "empty": None,
    }

    item = track_item(events.track(1), additional_context_keys=additional)

    assert item["contextKeys"] == {
        "organization": "42",
        "device": "3",
        "beta": "true",
        "anonymous": "anon-1",
        "user": "user-1",
    }


def test_the_context_kind_names_the_key_of_the_user_key():
    item = track_item(events.track(1), context_kind="account", additional_context_keys={})

    assert item["contextKeys"] == {"account": "user-1"}


def test_an_epoch_timestamp_becomes_the_creation_date_in_milliseconds():
    assert track_item(events.track(timestamp=1767225600123))["creationDate"] == 1767225600123


def test_an_event_without_a_timestamp_is_refused_rather_than_dated_at_sending():
    with pytest.raises(PayloadInvalid, match="'timestamp' is required but missing"):
        prepare(launchdarkly.TRACK_EVENT, TRACK, without(events.track(), "timestamp"))


def test_events_go_to_launchdarkly_by_default():
    assert events_url({}) == f"https://events.launchdarkly.com{PATH}"


def test_the_events_host_setting_changes_the_host():
    assert events_url({"events_host": "events.eu.example"}) == f"https://events.eu.example{PATH}"


def test_a_base_url_set_on_purpose_wins_over_the_events_host():
    settings = {"events_host": "events.eu.example", "base_url": "http://relay:8030"}

    assert events_url(settings) == f"http://relay:8030{PATH}"


@pytest.mark.parametrize(
    ("preset", "event", "wanted"),
    [
        ("Track events", events.track(), True),
        ("Track events", events.identify(), False),
        ("Track events", events.page(), False),
        ("Alias users", events.identify(), True),
        ("Alias users", events.identify(type="alias", previousId="legacy-1"), True),
        ("Alias users", events.track(), False),
        ("Alias users", events.page(), False),
    ],
)
def test_each_preset_takes_its_own_event_types_only(preset, event, wanted):
    trigger = next(p.trigger for p in launchdarkly.KIND.presets if p.name == preset)

    assert triggers.matches(trigger, event) is wanted


def test_a_default_base_url_saved_by_an_older_form_does_not_hide_the_events_host():
    settings = {
        "events_host": "events.eu.launchdarkly.com",
        "base_url": "https://events.launchdarkly.com",
    }

    assert events_url(settings) == f"https://events.eu.launchdarkly.com{PATH}"


def test_a_numeric_string_revenue_reaches_launchdarkly_as_a_number(httpserver):
    """Segment validates with AJV coerceTypes, so "14.99" is sent as the number 14.99."""
    httpserver.expect_request(PATH).respond_with_data("", status=202)
    properties = {"endpoint": "/v1/search", "revenue": "14.99"}

    received, results = send(httpserver, "track_event", [events.track(1, properties=properties)])

    item = custom_event(1) | {"metricValue": 14.99, "data": properties}
    assert_json_request(received[0], "POST", PATH, [item], HEADERS)
    assert b'"metricValue":14.99,' in received[0].get_data()
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_a_batch_carries_a_payload_id_that_its_retry_repeats(httpserver):
    """LaunchDarkly's SDKs send X-LaunchDarkly-Payload-ID, a UUID per batch, and send the same
    one again when they retry it (launchdarkly/java-server-sdk, test
    eventPayloadIdReusedOnRetry; ruby-server-sdk, impl/event_sender.rb)."""
    httpserver.expect_request(PATH).respond_with_data("", status=202)
    batch = [events.track(1), events.track(2)]

    first, _ = send(httpserver, "track_event", batch)
    retried, _ = send(httpserver, "track_event", batch)
    other, _ = send(httpserver, "track_event", [events.track(1), events.track(3)])

    ids = [request[0].headers["X-LaunchDarkly-Payload-ID"] for request in (first, retried, other)]
    assert str(uuid.UUID(ids[0])) == ids[0]
    assert ids[0] == ids[1]
    assert ids[2] != ids[0]


@pytest.mark.parametrize(("status", "valid"), [(200, True), (404, False)])
def test_the_connection_test_asks_the_client_side_sdk_about_the_client_id(
    httpserver, db, status, valid
):
    """No events API call checks an ID without recording events; Segment's LaunchDarkly
    destination (action-destinations, launchdarkly/index.ts, testAuthentication) sends HEAD
    /sdk/goals/{client-side ID}, 200 for a known environment and 404 otherwise."""
    httpserver.expect_request(f"/sdk/goals/{CLIENT_ID}", method="HEAD").respond_with_data(
        "", status=status
    )
    settings = {"client_id": CLIENT_ID, "base_url": httpserver.url_for("/")}
    destination = create_destination("launchdarkly", "Flags", settings)

    check = check_connection(destination)

    assert check.ok is valid
    assert len(httpserver.log) == 1  # and no event was sent


@pytest.mark.parametrize(
    ("events_host", "sdk_host"),
    [
        ("events.launchdarkly.com", "clientsdk.launchdarkly.com"),
        ("events.eu.launchdarkly.com", "clientsdk.eu.launchdarkly.com"),
        ("events.launchdarkly.us", "clientsdk.launchdarkly.us"),
    ],
)
def test_the_connection_test_asks_the_instance_of_the_events_host(events_host, sdk_host):
    destination = Destination(
        kind="launchdarkly", settings={"client_id": CLIENT_ID, "events_host": events_host}
    )

    request = launchdarkly.test_request(destination.config())

    assert (request.method, request.url) == ("HEAD", f"https://{sdk_host}/sdk/goals/{CLIENT_ID}")
