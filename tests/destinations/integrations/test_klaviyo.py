"""Klaviyo's REST API (revision 2026-07-15), byte for byte.

Sources: Klaviyo's OpenAPI description, github.com/klaviyo/openapi, openapi/stable/apis/
bulk_create_events.json, create_or_update_profile.json, bulk_import_profiles.json and
get_accounts.json (paths, bodies, limits, error objects); https://developers.klaviyo.com/en/
docs/rate_limits_and_error_handling (429 and Retry-After); and Segment's Klaviyo destination,
packages/destination-actions/src/destinations/klaviyo/ (functions.ts sendBatchedTrackEvent,
handleKlaviyoAPIErrorResponse, constructBulkProfileImportPayload; properties.ts).
"""

import orjson
import pytest

from destinations import triggers
from destinations.delivery.payloads import prepare
from destinations.integrations import klaviyo
from destinations.integrations.base import Answer, Config, ItemResult, Outcome
from destinations.services.destinations import check_connection, create_destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, deliver

API_KEY = "pk_0123456789abcdef"
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {API_KEY}",
    "revision": "2026-07-15",
    "Accept": "application/json",
}
EVENTS_PATH = "/api/event-bulk-create-jobs"
IMPORT_PATH = "/api/profile-bulk-import-jobs"
STAMP = "2026-03-01T12:00:00.000Z"
PROPERTIES = {"endpoint": "/v1/search", "value": 3, "revenue": 12.5}
DELIVERED = ItemResult(Outcome.DELIVERED)
ADD_TO_LIST = klaviyo.ADD_TO_LIST.default_fields() | {"list_id": "XyZ123"}


def send(httpserver, action, sample_events, fields=None):
    return deliver(
        httpserver,
        "klaviyo",
        action,
        sample_events,
        secrets={"api_key": API_KEY},
        fields=fields,
    )


def event_entry(number: int) -> dict:
    profile = {"external_id": f"user-{number}", "anonymous_id": f"anon-{number}"}
    event = {
        "properties": PROPERTIES,
        "time": STAMP,
        "unique_id": f"msg-{number:04d}",
        "metric": {"data": {"type": "metric", "attributes": {"name": "API Call"}}},
    }
    return {
        "type": "event-bulk-create",
        "attributes": {
            "profile": {"data": {"type": "profile", "attributes": profile}},
            "events": {"data": [{"type": "event", "attributes": event}]},
        },
    }


def events_job(entries: list[dict]) -> dict:
    return {
        "data": {
            "type": "event-bulk-create-job",
            "attributes": {"events-bulk-create": {"data": entries}},
        }
    }


def import_job(profiles: list[dict], list_id: str = "XyZ123") -> dict:
    return {
        "data": {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": profiles}},
            "relationships": {"lists": {"data": [{"type": "list", "id": list_id}]}},
        }
    }


def profile(number: int) -> dict:
    return {"type": "profile", "attributes": {"external_id": f"user-{number}"}}


def pointer_error(path: str, detail: str = "Invalid input.") -> dict:
    return {
        "id": "e-1",
        "status": 400,
        "code": "invalid",
        "title": "Invalid input.",
        "detail": detail,
        "source": {"pointer": path},
    }


def test_track_events_go_as_a_bulk_create_job_with_an_entry_per_event(httpserver):
    """Bulk Create Events groups events by profile; an entry per event keeps the entries in
    the order of the batch. unique_id is the messageId (Segment's trackEvent default)."""
    httpserver.expect_request(EVENTS_PATH).respond_with_data("", status=202)

    received, results = send(httpserver, "track_event", [events.track(1), events.track(2)])

    body = events_job([event_entry(1), event_entry(2)])
    assert_json_request(received[0], "POST", EVENTS_PATH, body, HEADERS)
    assert results == [DELIVERED, DELIVERED]


def test_a_full_batch_of_1000_events_goes_in_one_job(httpserver):
    """Bulk Create Events accepts up to 1,000 events per request."""
    httpserver.expect_request(EVENTS_PATH).respond_with_data("", status=202)

    received, results = send(httpserver, "track_event", [events.track(n) for n in range(1000)])

    assert len(received) == 1
    body = events_job([event_entry(n) for n in range(1000)])
    assert_json_request(received[0], "POST", EVENTS_PATH, body, HEADERS)
    assert results == [DELIVERED] * 1000
    assert klaviyo.TRACK_EVENT.max_batch_size == 1000


def test_jobs_stay_under_5_mb(httpserver):
    """The maximum allowed payload size is 5MB (Bulk Create Events)."""
    httpserver.expect_request(EVENTS_PATH).respond_with_data("", status=202)
    big = [events.track(n, properties={"text": "x" * 90_000}) for n in range(60)]

    received, results = send(httpserver, "track_event", big)

    assert [len(request.get_data()) <= 5_000_000 for request in received] == [True, True]
    assert (
        sum(
            len(request.get_json()["data"]["attributes"]["events-bulk-create"]["data"])
            for request in received
        )
        == 60
    )
    assert results == [DELIVERED] * 60


def test_an_event_without_a_profile_identifier_fails_alone_and_is_not_sent(httpserver):
    """A profile needs at least one identifier (Bulk Create Events)."""
    httpserver.expect_request(EVENTS_PATH).respond_with_data("", status=202)
    nobody = events.track(2, userId=None, anonymousId=None)

    received, results = send(httpserver, "track_event", [events.track(1), nobody])

    entries = received[0].get_json()["data"]["attributes"]["events-bulk-create"]["data"]
    assert len(entries) == 1
    assert results[0] == DELIVERED
    assert (results[1].outcome, results[1].code) == (Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED")


def test_a_job_refused_for_some_events_fails_them_and_sends_the_others_at_once(httpserver):
    """A 400 points at the entries it refuses; the job recorded nothing, so Segment's
    destination retries the others (functions.ts, handleKlaviyoAPIErrorResponse)."""
    pointer = "/data/attributes/events-bulk-create/data/1/attributes/profile/data/attributes/email"
    answer = {"errors": [pointer_error(pointer, "Invalid email address")]}
    httpserver.expect_request(EVENTS_PATH).respond_with_json(answer, status=400)

    received, results = send(httpserver, "track_event", [events.track(n) for n in (1, 2, 3)])

    assert len(received) == 1
    refused = ItemResult(
        Outcome.FAILED, "BAD_REQUEST", f"Klaviyo refused {pointer}: Invalid email address"
    )
    assert results[1] == refused
    assert [(r.outcome, r.retry_after) for r in (results[0], results[2])] == [
        (Outcome.RETRY, 0),
        (Outcome.RETRY, 0),
    ]


def test_a_400_that_points_at_no_entry_splits_the_batch(httpserver):
    answer = {"errors": [pointer_error("/data/type")]}
    httpserver.expect_request(EVENTS_PATH).respond_with_json(answer, status=400)

    received, _ = send(httpserver, "track_event", [events.track(1), events.track(2)])

    assert len(received) == 3


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'{"errors": null}',
        b'{"errors": [1, {"source": "x"}, {"source": {"pointer": 3}}]}',
        b'{"errors": [{"source": {"pointer": "/data/attributes/events-bulk-create/data/7"}}]}',
    ],
)
def test_an_answer_that_points_at_no_entry_of_the_job_is_judged_whole(body):
    assert klaviyo.TRACK_EVENT.read_response(Answer(400, {}, body), 2) is None


def test_a_429_is_retried_after_the_retry_after_delay(httpserver):
    """Klaviyo answers a rate limit with 429 and Retry-After in seconds (rate limits and
    error handling)."""
    httpserver.expect_request(EVENTS_PATH).respond_with_json(
        {"errors": [{"status": 429, "code": "throttled"}]}, status=429, headers={"Retry-After": "9"}
    )

    _, results = send(httpserver, "track_event", [events.track(1)])

    assert (results[0].outcome, results[0].code, results[0].retry_after) == (
        Outcome.RETRY,
        "TOO_MANY_REQUESTS",
        9,
    )


def test_an_identify_upserts_the_profile_with_profile_import(httpserver):
    """Create or Update Profile, POST /api/profile-import: standard attributes by Klaviyo's
    names, custom ones in properties, absent fields left as they are."""
    httpserver.expect_request("/api/profile-import").respond_with_json({}, status=201)
    traits = {
        "email": "ada@example.com",
        "phone": "+447700900123",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "company": {"name": "Analytical Engines"},
        "address": {"city": "London", "country": "GB"},
        "plan": "pro",
    }

    received, results = send(httpserver, "upsert_profile", [events.identify(traits=traits)])

    attributes = {
        "email": "ada@example.com",
        "phone_number": "+447700900123",
        "external_id": "user-1",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "organization": "Analytical Engines",
        "location": {"city": "London", "country": "GB"},
        "properties": {"plan": "pro"},
    }
    body = {"data": {"type": "profile", "attributes": attributes}}
    assert_json_request(received[0], "POST", "/api/profile-import", body, HEADERS)
    assert results == [DELIVERED]


def test_profiles_are_upserted_one_request_each():
    fields = klaviyo.UPSERT_PROFILE.default_fields()
    payloads = [prepare(klaviyo.UPSERT_PROFILE, fields, events.identify(n)) for n in (1, 2)]

    requests = klaviyo.UPSERT_PROFILE.build(Config({}, Secrets({"api_key": "k"}), ""), payloads)

    assert [request.items for request in requests] == [(0,), (1,)]
    assert klaviyo.UPSERT_PROFILE.batching is False


def test_add_to_list_imports_the_profiles_into_the_list(httpserver):
    """Bulk Import Profiles with the list as the job's relationship, as Segment's Add to List
    batches (constructBulkProfileImportPayload): no profile IDs needed."""
    httpserver.expect_request(IMPORT_PATH).respond_with_data("", status=202)
    entered = [events.track(n, event="Audience Entered") for n in (1, 2)]

    received, results = send(httpserver, "add_to_list", entered, fields=ADD_TO_LIST)

    body = import_job([profile(1), profile(2)])
    assert_json_request(received[0], "POST", IMPORT_PATH, body, HEADERS)
    assert results == [DELIVERED, DELIVERED]


def test_add_to_list_sends_a_job_per_list(httpserver):
    httpserver.expect_request(IMPORT_PATH).respond_with_data("", status=202)
    fields = ADD_TO_LIST | {"list_id": {"@path": "$.properties.list"}}
    samples = [
        events.track(n, properties={"list": name}) for n, name in ((1, "A"), (2, "B"), (3, "A"))
    ]

    received, results = send(httpserver, "add_to_list", samples, fields=fields)

    assert [request.get_json() for request in received] == [
        import_job([profile(1), profile(3)], "A"),
        import_job([profile(2)], "B"),
    ]
    assert results == [DELIVERED] * 3


def test_a_list_import_refused_for_a_profile_fails_it_alone(httpserver):
    pointer = "/data/attributes/profiles/data/0/attributes/phone_number"
    answer = {"errors": [pointer_error(pointer, "Invalid phone number format")]}
    httpserver.expect_request(IMPORT_PATH).respond_with_json(answer, status=400)
    entered = [events.track(n, event="Audience Entered") for n in (1, 2)]

    _, results = send(httpserver, "add_to_list", entered, fields=ADD_TO_LIST)

    assert (results[0].outcome, results[0].code) == (Outcome.FAILED, "BAD_REQUEST")
    assert (results[1].outcome, results[1].retry_after) == (Outcome.RETRY, 0)


def test_add_to_list_batches_up_to_10000_profiles():
    """Bulk Import Profiles accepts up to 10,000 profiles per request."""
    assert (klaviyo.ADD_TO_LIST.max_batch_size, klaviyo.ADD_TO_LIST.batching) == (10_000, True)


def test_a_profile_needs_an_email_a_phone_number_or_an_external_id():
    payload = {"list_id": "XyZ123"}

    result = klaviyo.ADD_TO_LIST.refuse(payload)

    assert (result.outcome, result.code) == (Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED")
    assert klaviyo.UPSERT_PROFILE.refuse({"first_name": "Ada"}) is not None


def test_requests_go_to_klaviyos_one_host_unless_a_base_url_was_typed(db):
    config = create_destination("klaviyo", "CRM", {}, {"api_key": API_KEY}).config()
    proxied = create_destination(
        "klaviyo", "Proxy", {"base_url": "http://proxy:8080"}, {"api_key": API_KEY}
    ).config()

    assert klaviyo.test_request(config).url == "https://a.klaviyo.com/api/accounts"
    assert klaviyo.test_request(proxied).url == "http://proxy:8080/api/accounts"


@pytest.mark.parametrize(("status", "valid"), [(200, True), (401, False), (403, False)])
def test_the_connection_test_gets_the_account(httpserver, db, status, valid):
    """Get Accounts: "test if a Private API Key belongs to the correct account" (its
    reference page); Segment's Klaviyo testAuthentication calls it too."""
    httpserver.expect_request("/api/accounts", method="GET").respond_with_json(
        {"data": []}, status=status
    )
    destination = create_destination(
        "klaviyo", "CRM", {"base_url": httpserver.url_for("/")}, {"api_key": API_KEY}
    )

    check = check_connection(destination)

    assert check.ok is valid
    sent = httpserver.log[0][0]
    assert {name: sent.headers[name] for name in HEADERS} == HEADERS


def test_every_request_pins_the_revision():
    config = Config({}, Secrets({"api_key": API_KEY}), "https://a.klaviyo.com")
    payload = prepare(klaviyo.TRACK_EVENT, klaviyo.TRACK_EVENT.default_fields(), events.track())

    (request,) = klaviyo.TRACK_EVENT.build(config, [payload])

    assert request.headers["revision"] == klaviyo.REVISION == "2026-07-15"
    assert orjson.loads(request.body)["data"]["type"] == "event-bulk-create-job"


@pytest.mark.parametrize(
    ("preset", "sample", "wanted"),
    [
        ("Track events", events.track(), True),
        ("Track events", events.identify(), False),
        ("Upsert profiles", events.identify(), True),
        ("Upsert profiles", events.track(), False),
    ],
)
def test_each_preset_takes_its_own_events_only(preset, sample, wanted):
    trigger = next(p.trigger for p in klaviyo.KIND.presets if p.name == preset)

    assert triggers.matches(trigger, sample) is wanted


def test_add_to_list_has_no_preset_since_it_needs_a_list_id():
    assert "add_to_list" not in {preset.action for preset in klaviyo.KIND.presets}
    assert triggers.matches(
        klaviyo.ADD_TO_LIST.default_trigger, events.track(event="Audience Entered")
    )
