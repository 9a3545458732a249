"""Customer.io's Track API v2 batch endpoint, byte for byte.

Sources: https://docs.customer.io/api/track/ (Track v2 Overview, "Send multiple requests"
/api/v2/batch, "Track API limits", getRegion), and Segment's Customer.io destination,
packages/destination-actions/src/destinations/customerio/ (utils.ts buildPayload,
resolveIdentifiers, convertAttributeTimestamps; createUpdatePerson, trackEvent,
trackPageView, deletePerson), with the batch answers Customer.io's engineers read in
action-destinations pull request 3657 (`errors: [{batch_index, reason, field, message}]`).
"""

import hashlib

import orjson
import pytest

from destinations import triggers
from destinations.delivery.payloads import prepare
from destinations.integrations import customerio
from destinations.integrations.base import Answer, Config, ItemResult, Outcome
from destinations.models import Destination
from destinations.services.destinations import check_connection, create_destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, deliver

SITE_ID = "site-0001"
API_KEY = "track-key-0001"
# base64("site-0001:track-key-0001"): the site ID as the Basic user name, the key as password.
HEADERS = {"Authorization": "Basic c2l0ZS0wMDAxOnRyYWNrLWtleS0wMDAx"}
PATH = "/api/v2/batch"
SECONDS = 1772366400  # 2026-03-01T12:00:00Z, the samples' timestamp
PROPERTIES = {"endpoint": "/v1/search", "value": 3, "revenue": 12.5}
DELIVERED = ItemResult(Outcome.DELIVERED)
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def base32(number: int, length: int) -> str:
    return "".join(CROCKFORD[(number >> (5 * n)) & 31] for n in reversed(range(length)))


def ulid(message_id: str, seconds: int = SECONDS) -> str:
    """A ULID (github.com/ulid/spec): 10 characters of milliseconds, then 16 of 80 bits that
    here come from the message ID's SHA-256."""
    entropy = int.from_bytes(hashlib.sha256(message_id.encode()).digest()[:10])
    return base32(seconds * 1000, 10) + base32(entropy, 16)


def send(httpserver, action, sample_events, fields=None):
    return deliver(
        httpserver,
        "customerio",
        action,
        sample_events,
        settings={"base_url": httpserver.url_for("/")},
        secrets={"site_id": SITE_ID, "api_key": API_KEY},
        fields=fields,
    )


def entry(action, fields, event) -> dict:
    """The batch entry the action makes of the event, built without sending it."""
    payload = prepare(action, action.default_fields() | fields, event)
    return action.build(Config({}, Secrets({"site_id": "s", "api_key": "k"}), ""), [payload])


def tracked(number: int) -> dict:
    return {
        "type": "person",
        "action": "event",
        "identifiers": {"id": f"user-{number}"},
        "name": "API Call",
        "id": ulid(f"msg-{number:04d}"),
        "attributes": PROPERTIES,
        "timestamp": SECONDS,
    }


def body_of(action, event, **fields) -> dict:
    (request,) = entry(action, fields, event)
    return request.body


def test_an_identify_creates_or_updates_the_person(httpserver):
    """An identify entry: the person's identifiers, attributes, and the anonymous ID among
    the attributes so that Customer.io merges the anonymous activity (Segment's
    buildPayload); created_at under its own name, in seconds."""
    httpserver.expect_request(PATH).respond_with_json({})
    traits = {"email": "ada@example.com", "createdAt": "2025-01-01T00:00:00Z", "plan": "pro"}

    received, results = send(
        httpserver, "create_or_update_person", [events.identify(traits=traits)]
    )

    person = {
        "type": "person",
        "action": "identify",
        "identifiers": {"id": "user-1"},
        "attributes": {
            "email": "ada@example.com",
            "plan": "pro",
            "created_at": 1735689600,
            "anonymous_id": "anon-1",
        },
        "timestamp": SECONDS,
    }
    assert_json_request(received[0], "POST", PATH, {"batch": [person]}, HEADERS)
    assert results == [DELIVERED]


def test_a_track_event_becomes_an_event_entry(httpserver):
    httpserver.expect_request(PATH).respond_with_json({})

    received, results = send(httpserver, "track_event", [events.track(1)])

    assert_json_request(received[0], "POST", PATH, {"batch": [tracked(1)]}, HEADERS)
    assert received[0].get_json()["batch"][0]["id"] == "01KJMMA2G039MZHJXZSZP67HD2"
    assert results == [DELIVERED]


def test_an_events_id_is_a_ulid_made_from_its_message_id_the_same_on_every_retry():
    """An event's id deduplicates it and must be a ULID (Track API, customer events: "This
    value must be a ULID"); Segment's destination sends the messageId as it is."""
    first = orjson.loads(body_of(customerio.TRACK_EVENT, events.track(messageId="m-1")))
    again = orjson.loads(body_of(customerio.TRACK_EVENT, events.track(messageId="m-1")))
    other = orjson.loads(body_of(customerio.TRACK_EVENT, events.track(messageId="m-2")))
    given = events.track(messageId="01ARZ3NDEKTSV4RRFFQ69G5FAV")

    assert first["batch"][0]["id"] == again["batch"][0]["id"] == ulid("m-1")
    assert other["batch"][0]["id"] == ulid("m-2") != ulid("m-1")
    assert orjson.loads(body_of(customerio.TRACK_EVENT, given))["batch"][0]["id"] == (
        "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    )


def test_a_page_call_becomes_a_page_entry_named_by_its_url(httpserver):
    httpserver.expect_request(PATH).respond_with_json({})
    properties = {"url": "https://example.com/pricing", "title": "Pricing"}

    received, _ = send(httpserver, "track_page_view", [events.page(1, properties=properties)])

    page = {
        "type": "person",
        "action": "page",
        "identifiers": {"anonymous_id": "anon-1"},
        "name": "https://example.com/pricing",
        "id": ulid("pg-0001"),
        "attributes": properties,
        "timestamp": SECONDS,
    }
    assert_json_request(received[0], "POST", PATH, {"batch": [page]}, HEADERS)


def test_a_user_deleted_event_deletes_the_person(httpserver):
    httpserver.expect_request(PATH).respond_with_json({})

    received, _ = send(httpserver, "delete_person", [events.track(event="User Deleted")])

    delete = {"type": "person", "action": "delete", "identifiers": {"id": "user-1"}}
    assert_json_request(received[0], "POST", PATH, {"batch": [delete]}, HEADERS)


def test_a_full_batch_goes_in_one_request(httpserver):
    httpserver.expect_request(PATH).respond_with_json({})

    received, results = send(httpserver, "track_event", [events.track(n) for n in range(100)])

    assert len(received) == 1
    assert_json_request(
        received[0], "POST", PATH, {"batch": [tracked(n) for n in range(100)]}, HEADERS
    )
    assert results == [DELIVERED] * 100


def test_a_batch_over_500_kb_is_cut_into_requests_under_it(httpserver):
    """/batch takes requests of 500 KB at most (Track API limits, "v2 API Limits")."""
    httpserver.expect_request(PATH).respond_with_json({})
    big = [events.track(n, properties={"text": "x" * 30_000}) for n in range(40)]

    received, results = send(httpserver, "track_event", big)

    assert [len(request.get_data()) <= 500_000 for request in received] == [True, True, True]
    assert [len(request.get_json()["batch"]) for request in received] == [16, 16, 8]
    assert results == [DELIVERED] * 40


def test_an_entry_over_32_kb_fails_alone_and_is_not_sent(httpserver):
    """Each entry is limited as a /single request is: 32 KB (Track API limits)."""
    httpserver.expect_request(PATH).respond_with_json({})
    huge = events.track(2, properties={"text": "x" * 33_000})

    received, results = send(httpserver, "track_event", [events.track(1), huge])

    assert [item["id"] for item in received[0].get_json()["batch"]] == [ulid("msg-0001")]
    assert results[0] == DELIVERED
    assert (results[1].outcome, results[1].code) == (Outcome.FAILED, "PAYLOAD_TOO_LARGE")


def test_an_entry_with_no_one_to_attribute_it_to_fails_alone():
    sample = events.track(userId=None, anonymousId=None)
    payload = prepare(customerio.TRACK_EVENT, customerio.TRACK_EVENT.default_fields(), sample)

    result = customerio.TRACK_EVENT.refuse(payload)

    assert (result.outcome, result.code) == (Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED")
    assert entry(customerio.TRACK_EVENT, {}, sample) == []


def test_entries_customer_io_refuses_in_a_207_fail_alone(httpserver):
    answer = {"errors": [{"batch_index": 1, "reason": "invalid", "message": "Name is blank"}]}
    httpserver.expect_request(PATH).respond_with_json(answer, status=207)

    _, results = send(httpserver, "track_event", [events.track(n) for n in (1, 2, 3)])

    failed = ItemResult(
        Outcome.FAILED, "BAD_REQUEST", "Customer.io refused batch[1]: Name is blank"
    )
    assert results == [DELIVERED, failed, DELIVERED]


def test_a_200_that_still_lists_errors_fails_those_entries(httpserver):
    answer = {"errors": [{"batch_index": 0, "reason": "required", "field": "name"}]}
    httpserver.expect_request(PATH).respond_with_json(answer, status=200)

    _, results = send(httpserver, "track_event", [events.track(1), events.track(2)])

    message = "Customer.io refused batch[0] (name): required"
    assert results == [ItemResult(Outcome.FAILED, "BAD_REQUEST", message), DELIVERED]


def test_a_400_that_names_entries_fails_them_and_sends_the_others_again_at_once(httpserver):
    answer = {"errors": [{"batch_index": 1, "message": "id attribute must be a string"}]}
    httpserver.expect_request(PATH).respond_with_json(answer, status=400)

    received, results = send(httpserver, "track_event", [events.track(1), events.track(2)])

    assert len(received) == 1
    assert (results[0].outcome, results[0].retry_after) == (Outcome.RETRY, 0)
    assert (results[1].outcome, results[1].code) == (Outcome.FAILED, "BAD_REQUEST")


def test_a_400_that_names_no_entry_splits_the_batch(httpserver):
    """Customer.io's usual 400 is `{"meta": {"error": ...}}` (Invalid Track API requests)."""
    httpserver.expect_request(PATH).respond_with_json({"meta": {"error": "bad"}}, status=400)

    received, _ = send(httpserver, "track_event", [events.track(1), events.track(2)])

    assert len(received) == 3


@pytest.mark.parametrize("body", [b"", b"x", b"[]", b'{"errors": {}}', b"\xff"])
def test_an_answer_without_an_errors_list_is_judged_whole(body):
    for status in (200, 207, 400):
        assert customerio.TRACK_EVENT.read_response(Answer(status, {}, body), 2) is None


def test_errors_that_name_no_entry_of_the_batch_are_ignored():
    errors = [1, None, {}, {"batch_index": "0"}, {"batch_index": 2}, {"batch_index": -1}]
    body = orjson.dumps({"errors": errors})

    assert customerio.TRACK_EVENT.read_response(Answer(207, {}, body), 2) == [DELIVERED] * 2
    assert customerio.TRACK_EVENT.read_response(Answer(400, {}, body), 2) is None


def test_a_429_is_retried_after_the_retry_after_delay(httpserver):
    """The Track API's fair-use limit answers 429 (Track API limits)."""
    httpserver.expect_request(PATH).respond_with_data("", status=429, headers={"Retry-After": "7"})

    _, results = send(httpserver, "track_event", [events.track(1)])

    assert (results[0].outcome, results[0].retry_after) == (Outcome.RETRY, 7)


@pytest.mark.parametrize(
    ("person_id", "identifiers"),
    [
        ("42", {"id": "42"}),
        ("cio_abc123", {"cio_id": "abc123"}),
        ("ada@example.com", {"email": "ada@example.com"}),
    ],
)
def test_the_person_id_says_which_identifier_it_is(person_id, identifiers):
    """Segment's resolveIdentifiers: cio_ prefix, an email, or an ID."""
    body = body_of(customerio.TRACK_EVENT, events.track(userId=person_id))

    assert b'"identifiers":' + orjson.dumps(identifiers) in body


def test_timestamps_are_unix_seconds_and_iso_dates_in_attributes_too():
    """Customer.io takes Unix seconds; Segment's convert_timestamp converts ISO-8601 dates in
    the attributes, nested objects included, and leaves other strings."""
    data = {"at": "2025-01-01T00:00:00+01:00", "day": "2025-01-02", "nested": {"at": "2025-01-03"}}
    sample = events.track(properties={**data, "code": "2025"}, timestamp=1767225600123)

    converted = orjson.loads(body_of(customerio.TRACK_EVENT, sample))["batch"][0]
    kept = orjson.loads(body_of(customerio.TRACK_EVENT, sample, convert_timestamp=False))["batch"][
        0
    ]

    assert converted["timestamp"] == 1767225600
    assert converted["attributes"] == {
        "at": 1735686000,
        "day": 1735776000,
        "nested": {"at": 1735862400},
        "code": "2025",
    }
    assert kept["attributes"] == {**data, "code": "2025"}


def test_a_page_call_without_a_url_is_named_by_its_path():
    name = orjson.loads(body_of(customerio.TRACK_PAGE_VIEW, events.page()))
    assert name["batch"][0]["name"] == "/pricing"


def origin(settings: dict) -> str:
    """Where requests go for these settings, resolved as a saved destination resolves them."""
    return customerio.origin(Destination(kind="customerio", settings=settings).config())


@pytest.mark.parametrize(
    ("settings", "host"),
    [
        ({}, "https://track.customer.io"),
        ({"region": "US"}, "https://track.customer.io"),
        ({"region": "EU"}, "https://track-eu.customer.io"),
        ({"region": "EU", "base_url": "http://proxy:8080/"}, "http://proxy:8080"),
    ],
)
def test_the_region_picks_the_track_host_unless_a_base_url_was_typed(settings, host):
    """The regions differ only in the subdomain: track and track-eu (Track API overview)."""
    assert origin(settings) == host


def test_the_region_setting_chooses_the_host():
    region = next(s for s in customerio.KIND.settings if s.key == "region")

    assert region.chooses_host


@pytest.mark.parametrize(("status", "valid"), [(200, True), (401, False)])
def test_the_connection_test_asks_for_the_accounts_region(httpserver, db, status, valid):
    """GET /api/v1/accounts/region takes the Track API credentials and records nothing
    (Track API, "Find your account region")."""
    httpserver.expect_request("/api/v1/accounts/region", method="GET").respond_with_json(
        {"url": "https://track.customer.io", "data_center": "us"}, status=status
    )
    secrets = {"site_id": SITE_ID, "api_key": API_KEY}
    settings = {"base_url": httpserver.url_for("/")}
    destination = create_destination("customerio", "Journeys", settings, secrets)

    check = check_connection(destination)

    assert check.ok is valid
    assert httpserver.log[0][0].headers["Authorization"] == HEADERS["Authorization"]


@pytest.mark.parametrize(
    ("preset", "sample", "wanted"),
    [
        ("Create or update person", events.identify(), True),
        ("Track event", events.track(), True),
        ("Track event", events.track(event="User Deleted"), False),
        ("Track page view", events.page(), True),
        ("Delete person", events.track(event="User Deleted"), True),
        ("Delete person", events.track(), False),
    ],
)
def test_each_preset_takes_its_own_events_only(preset, sample, wanted):
    """User Deleted deletes the person and is not also tracked (Segment's Customer.io
    presets)."""
    trigger = next(p.trigger for p in customerio.KIND.presets if p.name == preset)

    assert triggers.matches(trigger, sample) is wanted
