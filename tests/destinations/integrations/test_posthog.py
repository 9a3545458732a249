"""PostHog's batch capture endpoint: https://posthog.com/docs/api/capture

Segment's counterpart is packages/destination-actions/src/destinations/posthog/ (event/ and
identify/). Where they differ the vendor wins: PostHog's docs say an event is processed
without a person profile when $process_person_profile is false, and Segment's Track Event
sends that property set to its "anonymous event capture" field, false by default, so every
event it sends is anonymous; here the property is sent, as false, only when asked for.
Segment's identify posts to /i/v0/e/ one at a time; PostHog's /batch/ takes $identify too.
"""

import uuid
from types import SimpleNamespace

import orjson
import pytest
from werkzeug import Request, Response

from destinations.delivery.batching import cut_into_requests
from destinations.delivery.payloads import prepare
from destinations.delivery.transport import send_batch
from destinations.integrations import posthog
from destinations.integrations.base import Config, ItemResult, Outcome
from destinations.models import Destination
from destinations.services.destinations import check_connection, create_destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, deliver

API_KEY = "phc_9k2LmQ7vT3xR8sN4bW6yZ1aD5fG0hJ"
PROPERTIES = {"endpoint": "/v1/search", "value": 3, "revenue": 12.5}
TIMESTAMP = "2026-03-01T12:00:00.000Z"
# uuid5 of "msg-0001" in posthog.MESSAGE_ID_NAMESPACE, written out so a change shows.
MSG_0001_UUID = "a9f4c5e6-16f3-511d-bb7c-ad122352af8e"
CAPTURE = posthog.CAPTURE_EVENT.default_fields()
IDENTIFY = posthog.IDENTIFY.default_fields()


def send(httpserver, action, sample_events, fields=None, **settings):
    """Sent with the action's default fields unless others are given (the contract's
    deliver would take the first preset with fields of its own: Page views)."""
    settings = {"host": httpserver.url_for("/"), **settings}
    secrets = {"api_key": API_KEY}
    fields = fields or posthog.KIND.action(action).default_fields()
    return deliver(
        httpserver,
        "posthog",
        action,
        sample_events,
        settings=settings,
        secrets=secrets,
        fields=fields,
    )


def accept(httpserver):
    httpserver.expect_request("/batch/").respond_with_json({"status": "Ok"})


def batch(*captured, historical_migration=False):
    return {
        "api_key": API_KEY,
        "historical_migration": historical_migration,
        "batch": list(captured),
    }


def track_event(number: int) -> dict:
    return {
        "event": "API Call",
        "distinct_id": f"user-{number}",
        "properties": PROPERTIES,
        "timestamp": TIMESTAMP,
        "uuid": posthog.event_uuid(f"msg-{number:04d}"),
    }


def built_event(action, fields, event, **settings) -> dict:
    config = Config(
        {"host": "https://us.i.posthog.com", **settings}, Secrets({"api_key": API_KEY}), ""
    )
    [request] = action.build(config, [prepare(action, fields, event)])
    return orjson.loads(request.body)["batch"][0]


def test_a_track_event_is_captured_through_the_batch_endpoint(httpserver):
    """The project API key goes in the body (PostHog's capture API takes no header), the
    distinct_id beside the event, and the messageId as the event's uuid."""
    accept(httpserver)

    received, results = send(httpserver, "capture_event", [events.track(1)])

    event = {
        "event": "API Call",
        "distinct_id": "user-1",
        "properties": PROPERTIES,
        "timestamp": TIMESTAMP,
        "uuid": MSG_0001_UUID,
    }
    assert_json_request(received[0], "POST", "/batch/", batch(event), {})
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_an_identify_sets_person_properties_and_merges_the_anonymous_person(httpserver):
    """https://posthog.com/docs/api/capture "Identify": $identify with $set; PostHog's
    handbook, "Person processing": $anon_distinct_id merges the anonymous person, as
    posthog-js's identify() does."""
    accept(httpserver)

    received, results = send(httpserver, "identify", [events.identify(1)])

    event = {
        "event": "$identify",
        "distinct_id": "user-1",
        "properties": {
            "$set": {"email": "ada@example.com", "plan": "pro"},
            "$anon_distinct_id": "anon-1",
        },
        "timestamp": TIMESTAMP,
        "uuid": posthog.event_uuid("idf-0001"),
    }
    assert_json_request(received[0], "POST", "/batch/", batch(event), {})
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_an_identify_whose_anonymous_id_is_its_user_id_merges_nothing():
    event = built_event(posthog.IDENTIFY, IDENTIFY, events.identify(1, anonymousId="user-1"))

    assert "$anon_distinct_id" not in event["properties"]


def test_a_full_batch_of_100_events_goes_in_one_request(httpserver):
    accept(httpserver)

    received, results = send(httpserver, "capture_event", [events.track(n) for n in range(1, 101)])

    assert len(received) == 1
    assert_json_request(
        received[0], "POST", "/batch/", batch(*(track_event(n) for n in range(1, 101))), {}
    )
    assert results == [ItemResult(Outcome.DELIVERED)] * 100


def test_batches_stay_under_5_mib_as_posthogs_own_sdk_keeps_them():
    """PostHog/posthog-python posthog/consumer.py: BATCH_SIZE_LIMIT = 5 MiB, "the maximum
    request body size is currently 20MiB, let's be conservative"; flush_at=100."""
    action = posthog.CAPTURE_EVENT
    assert (action.default_batch_size, action.max_batch_size) == (100, 1000)
    assert action.max_batch_bytes == 5 * 1024 * 1024
    deliveries = [SimpleNamespace(payload_bytes=600 * 1024) for _ in range(20)]

    groups = cut_into_requests(deliveries, action.max_batch_size, action.max_batch_bytes)

    assert [len(group) for group in groups] == [8, 8, 4]


def test_page_and_screen_presets_send_posthogs_own_events(httpserver):
    """$pageview with $current_url and $screen with $screen_name, as PostHog's docs write
    them ("Pageview", "Screen view")."""
    accept(httpserver)
    presets = {preset.name: preset.fields for preset in posthog.KIND.presets}
    page = events.page(1, context={"page": {"url": "https://acme.example/pricing"}})

    [page_request], _ = send(httpserver, "capture_event", [page], presets["Page views"])
    [screen_request], _ = send(
        httpserver, "capture_event", [events.screen(1)], presets["Screen views"]
    )

    pageview = {
        "event": "$pageview",
        "distinct_id": "anon-1",
        "properties": {
            "path": "/pricing",
            "title": "Pricing",
            "$current_url": "https://acme.example/pricing",
        },
        "timestamp": TIMESTAMP,
        "uuid": posthog.event_uuid("pg-0001"),
    }
    screen = {
        "event": "$screen",
        "distinct_id": "user-1",
        "properties": {"orientation": "portrait", "$screen_name": "Home"},
        "timestamp": TIMESTAMP,
        "uuid": posthog.event_uuid("scr-0001"),
    }
    assert_json_request(page_request, "POST", "/batch/", batch(pageview), {})
    assert_json_request(screen_request, "POST", "/batch/", batch(screen), {})


def test_an_anonymous_event_is_captured_without_a_person_profile():
    """https://posthog.com/docs/api/capture "Events without person profiles"."""
    fields = CAPTURE | {"anonymous_event": True}

    event = built_event(posthog.CAPTURE_EVENT, fields, events.track(1))

    assert event["properties"] == PROPERTIES | {"$process_person_profile": False}


def test_an_event_of_a_visitor_without_user_id_is_keyed_by_the_anonymous_id():
    event = built_event(posthog.CAPTURE_EVENT, CAPTURE, events.track(1) | {"userId": None})

    assert event["distinct_id"] == "anon-1"


def test_a_message_id_that_is_a_uuid_is_the_events_uuid_as_posthog_writes_it():
    message_id = "6F9619FF-8B86-D011-B42D-00C04FC964FF"

    event = built_event(posthog.CAPTURE_EVENT, CAPTURE, events.track(1, messageId=message_id))

    assert event["uuid"] == "6f9619ff-8b86-d011-b42d-00c04fc964ff"


def test_a_message_id_that_is_not_a_uuid_always_becomes_the_same_uuid():
    """PostHog's capture reads uuid as a UUID and refuses the whole request for one that is
    not (PostHog/posthog rust/common/types/src/event.rs, RawEvent.uuid: Option<Uuid>), and
    its events table keeps one row per uuid: a retry must repeat it."""
    first = built_event(posthog.CAPTURE_EVENT, CAPTURE, events.track(1))
    again = built_event(posthog.CAPTURE_EVENT, CAPTURE, events.track(1))
    other = built_event(posthog.CAPTURE_EVENT, CAPTURE, events.track(2))

    assert first["uuid"] == again["uuid"] == MSG_0001_UUID
    assert uuid.UUID(first["uuid"]).version == 5
    assert other["uuid"] != first["uuid"]


def test_an_event_without_a_message_id_lets_posthog_pick_its_uuid():
    event = built_event(posthog.CAPTURE_EVENT, CAPTURE, events.track(1) | {"messageId": None})

    assert "uuid" not in event


def test_historical_migration_marks_the_batch(httpserver):
    """https://posthog.com/docs/api/capture "Historical migrations"."""
    accept(httpserver)

    received, _ = send(httpserver, "capture_event", [events.track(1)], historical_migration=True)

    body = batch(track_event(1), historical_migration=True)
    assert_json_request(received[0], "POST", "/batch/", body, {})


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"event": "  "}, "the event name is empty"),
        ({"userId": " ", "anonymousId": None}, "the distinct_id is blank"),
        ({"properties": {"blob": "x" * 900 * 1024}}, "over PostHog's limit of 900 KiB"),
    ],
)
def test_an_event_posthog_would_refuse_the_batch_for_fails_alone(httpserver, overrides, reason):
    """Capture answers 400 to the whole request for an event with an empty name or
    distinct_id (rust/capture/src/api.rs MissingEventName, EmptyDistinctId); PostHog's SDK
    drops an event over 900 KiB (posthog-python consumer.py MAX_MSG_SIZE)."""
    accept(httpserver)
    bad = events.track(2) | overrides

    received, results = send(httpserver, "capture_event", [events.track(1), bad, events.track(3)])

    assert_json_request(received[0], "POST", "/batch/", batch(track_event(1), track_event(3)), {})
    assert results[:2] == [ItemResult(Outcome.DELIVERED)] * 2
    assert results[2].outcome is Outcome.FAILED
    assert reason in results[2].message


def test_a_batch_capture_refuses_for_its_content_is_split_to_find_the_bad_event(httpserver):
    """Capture judges a request whole (400 for one bad event): the batch is halved until the
    bad event stands alone and the others are delivered."""

    def judge(request: Request) -> Response:
        bad = any(event["properties"].get("bad") for event in request.get_json()["batch"])
        return Response("{}", status=400 if bad else 200)

    httpserver.expect_request("/batch/").respond_with_handler(judge)
    sample = [events.track(n, properties={"bad": n == 3}) for n in range(1, 5)]
    config = Config({"host": httpserver.url_for("/")}, Secrets({"api_key": API_KEY}), "")
    payloads = [prepare(posthog.CAPTURE_EVENT, CAPTURE, event) for event in sample]

    sent = send_batch(posthog.CAPTURE_EVENT, config, payloads)

    last_verdicts = {
        item: result.outcome
        for s in sent
        for item, result in zip(s.request.items, s.results, strict=True)
    }
    assert last_verdicts == {
        0: Outcome.DELIVERED,
        1: Outcome.DELIVERED,
        2: Outcome.FAILED,
        3: Outcome.DELIVERED,
    }


def test_a_rate_limited_batch_is_retried_after_retry_after(httpserver):
    """Capture answers 429 when rate limited (rust/capture/src/api.rs RateLimited)."""
    httpserver.expect_request("/batch/").respond_with_data(
        "rate limited", status=429, headers={"Retry-After": "12"}
    )

    _, results = send(httpserver, "capture_event", [events.track(1), events.track(2)])

    assert {(r.outcome, r.code, r.retry_after) for r in results} == {
        (Outcome.RETRY, "TOO_MANY_REQUESTS", 12.0)
    }


def test_a_malformed_api_key_fails_every_event_as_bad_credentials(httpserver):
    """Capture answers 401 for a key of the wrong form (TokenValidationError)."""
    httpserver.expect_request("/batch/").respond_with_data("API key is not valid", status=401)

    _, [result] = send(httpserver, "capture_event", [events.track(1)])

    assert (result.outcome, result.code) == (Outcome.FAILED, "INVALID_AUTHENTICATION")


def posthog_config(settings: dict) -> Config:
    destination = Destination(kind="posthog", settings=settings)
    destination.set_secrets({"api_key": API_KEY})
    return destination.config()


@pytest.mark.parametrize(
    ("settings", "url"),
    [
        ({}, "https://us.i.posthog.com/batch/"),
        ({"host": "https://eu.i.posthog.com"}, "https://eu.i.posthog.com/batch/"),
        ({"host": "https://posthog.acme.example/"}, "https://posthog.acme.example/batch/"),
        (
            {"host": "https://eu.i.posthog.com", "base_url": "http://proxy:8080"},
            "http://proxy:8080/batch/",
        ),
    ],
    ids=["US Cloud by default", "EU Cloud", "self-hosted", "a base URL typed on purpose"],
)
def test_the_host_setting_chooses_the_cloud_region_or_a_self_hosted_instance(settings, url):
    config = posthog_config(settings)
    payload = prepare(posthog.CAPTURE_EVENT, CAPTURE, events.track(1))

    [request] = posthog.CAPTURE_EVENT.build(config, [payload])

    assert request.url == url
    assert posthog.KIND.settings[1].chooses_host


@pytest.mark.parametrize(("status", "valid"), [(200, True), (401, False)])
def test_the_connection_test_asks_flags_which_checks_the_project_key(httpserver, db, status, valid):
    """/batch/ answers 200 to any well-formed key (its events are then dropped); /flags
    looks the key up and answers 401 for an unknown one (rust/feature-flags FlagError::
    TokenValidationError), and records no event (https://posthog.com/docs/api/flags)."""
    httpserver.expect_request("/flags").respond_with_json({"flags": {}}, status=status)
    settings = {"host": httpserver.url_for("/")}
    destination = create_destination("posthog", "Analytics", settings, {"api_key": API_KEY})

    check = check_connection(destination)

    [(request, _)] = httpserver.log
    body = {"api_key": API_KEY, "distinct_id": "switchyard-connection-test"}
    assert_json_request(request, "POST", "/flags?v=2", body, {})
    assert check.ok is valid


def test_test_mapping_captures_a_real_event():
    """PostHog's capture API has no test mode: "Send test event" records the event."""
    assert posthog.CAPTURE_EVENT.for_test() is posthog.CAPTURE_EVENT
