"""HubSpot's CRM batch upsert and custom event APIs, with a private app's token.

Vendor docs: https://developers.hubspot.com/docs/api/crm/contacts (batch upsert by email),
https://developers.hubspot.com/docs/api/analytics/events (send and send/batch),
https://developers.hubspot.com/docs/api/error-handling (207, 423, 429, 477) and
https://developers.hubspot.com/docs/api/usage-details (rate limit headers and 429 bodies).

Segment's counterpart is packages/destination-actions/src/destinations/hubspot/ (upsertContact,
upsertCompany, sendCustomBehavioralEvent). Where they differ the vendor wins: Segment reads
contacts before creating or updating them, three calls per batch; HubSpot's batch upsert does
it in one, and its events API takes batches (send/batch) where Segment sends one at a time.
"""

from datetime import UTC, datetime

import orjson
import pytest
from django.core.exceptions import ValidationError

from destinations.delivery.payloads import prepare
from destinations.integrations import hubspot, hubspot_rules
from destinations.integrations.base import Answer, Config, ItemResult, Outcome
from destinations.models import Destination
from destinations.services.destinations import check_connection, create_destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, deliver

TOKEN = "pat-na1-5f2c9e1a-7b3d-4c8e-a1f0-2d6b9e3c7a45"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONTACTS = "/crm/v3/objects/contacts/batch/upsert"
COMPANIES = "/crm/v3/objects/companies/batch/upsert"
EVENTS = "/events/v3/send/batch"
TIMESTAMP = "2026-03-01T12:00:00.000Z"
EVENT_NAME = "pe123456_api_call"
CONTACT = hubspot.UPSERT_CONTACT.default_fields()
COMPANY = hubspot.UPSERT_COMPANY.default_fields()
CUSTOM_EVENT = hubspot.SEND_CUSTOM_EVENT.default_fields() | {"event_name": EVENT_NAME}
# uuid5 of "msg-0001" in hubspot.EVENT_ID_NAMESPACE, written out so a change shows.
MSG_0001_UUID = "0b4bcf9b-7b0e-5183-bc40-6d390916291e"


def send(httpserver, action, sample_events, fields):
    settings = {"base_url": httpserver.url_for("/")}
    secrets = {"access_token": TOKEN}
    return deliver(
        httpserver,
        "hubspot",
        action,
        sample_events,
        settings=settings,
        secrets=secrets,
        fields=fields,
    )


def person(number: int, **traits) -> dict:
    return events.identify(number, traits={"email": f"user{number}@example.com", **traits})


def contact_input(number: int, position: int, **properties) -> dict:
    return {
        "idProperty": "email",
        "id": f"user{number}@example.com",
        "objectWriteTraceId": str(position),
        "properties": properties,
    }


def upserted(httpserver, path=CONTACTS):
    httpserver.expect_request(path).respond_with_json({"status": "COMPLETE", "results": []})


def test_an_identify_upserts_its_contact_by_email(httpserver):
    """POST /crm/v3/objects/contacts/batch/upsert with idProperty "email": HubSpot updates
    the contact with that email, or creates it."""
    upserted(httpserver)
    identify = person(1, first_name="Ada", last_name="Lovelace", phone="+44 20 7946 0000")

    received, results = send(httpserver, "upsert_contact", [identify], CONTACT)

    properties = {"firstname": "Ada", "lastname": "Lovelace", "phone": "+44 20 7946 0000"}
    body = {"inputs": [contact_input(1, 0, **properties)]}
    assert_json_request(received[0], "POST", CONTACTS, body, AUTH)
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_a_full_batch_of_100_contacts_goes_in_one_request(httpserver):
    upserted(httpserver)

    received, results = send(
        httpserver, "upsert_contact", [person(n) for n in range(1, 101)], CONTACT
    )

    assert len(received) == 1
    body = {"inputs": [contact_input(n, n - 1) for n in range(1, 101)]}
    assert_json_request(received[0], "POST", CONTACTS, body, AUTH)
    assert results == [ItemResult(Outcome.DELIVERED)] * 100


def test_batches_hold_at_most_100_inputs_as_hubspots_batch_endpoints_take(db):
    destination = create_destination("hubspot", "CRM", secrets={"access_token": TOKEN})
    mapping = destination.mappings.get(action="upsert_contact")
    mapping.batch_size = 101

    with pytest.raises(ValidationError, match="at most 100 per request"):
        mapping.save()
    for action in hubspot.KIND.actions:
        assert (action.default_batch_size, action.max_batch_size) == (100, 100)


def test_one_contact_twice_in_a_batch_is_upserted_in_two_requests_in_order(httpserver):
    """HubSpot refuses a batch that names one record twice ("Duplicate IDs found in batch
    input"), whatever the email's letter case: the repeat waits for the next request."""
    upserted(httpserver)
    first, other, again = person(1, plan="free"), person(2), person(1, plan="pro")
    again["traits"]["email"] = "USER1@example.com"
    fields = CONTACT | {"properties": {"plan": {"@path": "$.traits.plan"}}}

    received, results = send(httpserver, "upsert_contact", [first, other, again], fields)

    assert [orjson.loads(request.get_data()) for request in received] == [
        {"inputs": [contact_input(1, 0, plan="free"), contact_input(2, 1)]},
        {
            "inputs": [
                contact_input(1, 0, plan="pro") | {"id": "USER1@example.com"},
            ]
        },
    ]
    assert results == [ItemResult(Outcome.DELIVERED)] * 3


def test_a_207_answer_fails_only_the_inputs_its_errors_name(httpserver):
    """HubSpot's multi-status answer lists failed inputs by objectWriteTraceId in each
    error's context (RudderStack's rudder-transformer, src/v1/destinations/hubspot/
    networkHandler.ts, reads it the same way); the others were upserted."""
    answer = {
        "status": "COMPLETE",
        "results": [{"id": "101", "objectWriteTraceId": "0"}, {"id": "103"}],
        "numErrors": 1,
        "errors": [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "Property values were not valid: lifecyclestage 'vip'",
                "context": {"objectWriteTraceId": ["1"]},
            }
        ],
    }
    httpserver.expect_request(CONTACTS).respond_with_json(answer, status=207)

    _, results = send(httpserver, "upsert_contact", [person(1), person(2), person(3)], CONTACT)

    assert results[0] == results[2] == ItemResult(Outcome.DELIVERED)
    assert (results[1].outcome, results[1].code) == (Outcome.FAILED, "VALIDATION_ERROR")
    assert "lifecyclestage 'vip'" in results[1].message


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"errors": "none"}',
        b'{"errors": [{"message": "no context"}]}',
        b'{"errors": [{"context": {"objectWriteTraceId": ["7"]}}]}',
        b'{"errors": [{"context": {"objectWriteTraceId": ["x", 1]}}]}',
        b'{"errors": [{"context": {"objectWriteTraceId": "0"}}]}',
    ],
)
def test_a_207_answer_that_names_no_input_of_the_request_is_judged_whole(body):
    assert hubspot_rules.read_multi_status(Answer(207, {}, body), 3) is None


def test_an_answer_other_than_207_is_judged_whole():
    body = b'{"errors": [{"context": {"objectWriteTraceId": ["0"]}}]}'

    assert hubspot_rules.read_multi_status(Answer(400, {}, body), 1) is None


def test_contact_fields_follow_segments_defaults_and_other_properties_win():
    """Segment's upsertContact defaults (first_name or firstName, address.postalCode or
    postal_code...) and its flattenObject: lists as "a;b", objects as JSON text, nulls
    skipped (hubspot/utils.ts), null list items too (Segment writes "null"). HubSpot
    stores lifecycle stages by lowercase value."""
    traits = {
        "email": "ada@example.com",
        "firstName": "Ada",
        "company": "Analytical Engines",
        "address": {"city": "London", "postalCode": "SW1"},
        "interests": ["maths", "looms", None],
        "prefs": {"tea": True},
        "nickname": None,
    }
    fields = CONTACT | {
        "lifecyclestage": "Customer",
        "properties": {
            "interests": {"@path": "$.traits.interests"},
            "prefs": {"@path": "$.traits.prefs"},
            "nickname": {"@path": "$.traits.nickname"},
            "company": "Acme (overridden)",
        },
    }
    config = Config({}, Secrets({"access_token": TOKEN}), hubspot.DEFAULT_ORIGIN)
    payload = prepare(hubspot.UPSERT_CONTACT, fields, events.identify(1, traits=traits))

    [request] = hubspot.UPSERT_CONTACT.build(config, [payload])

    assert orjson.loads(request.body)["inputs"][0]["properties"] == {
        "firstname": "Ada",
        "company": "Acme (overridden)",
        "city": "London",
        "zip": "SW1",
        "lifecyclestage": "customer",
        "interests": "maths;looms",
        "prefs": '{"tea":true}',
    }


def test_a_group_upserts_its_company_by_the_unique_property_segment_filled(httpserver):
    """HubSpot's domain is not a unique property, so a company is upserted by one that is;
    Segment's upsertCompany kept the groupId in segment_group_id, which teams moving from
    Segment already have."""
    upserted(httpserver, COMPANIES)
    group = events.group(1, traits={"name": "Acme Inc", "website": "acme.example", "employees": 12})

    received, results = send(httpserver, "upsert_company", [group], COMPANY)

    company = {
        "idProperty": "segment_group_id",
        "id": "acme-inc",
        "objectWriteTraceId": "0",
        "properties": {"name": "Acme Inc", "domain": "acme.example", "numberofemployees": 12},
    }
    assert_json_request(received[0], "POST", COMPANIES, {"inputs": [company]}, AUTH)
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_a_company_can_be_upserted_by_another_unique_property(httpserver):
    upserted(httpserver, COMPANIES)
    fields = COMPANY | {"id_property": "acme_account_id"}

    received, _ = send(httpserver, "upsert_company", [events.group(1)], fields)

    [company] = orjson.loads(received[0].get_data())["inputs"]
    assert (company["idProperty"], company["id"]) == ("acme_account_id", "acme-inc")


def test_a_record_with_a_blank_identifier_fails_alone(httpserver):
    upserted(httpserver)
    blank = person(2)
    blank["traits"]["email"] = "  "

    received, results = send(httpserver, "upsert_contact", [person(1), blank], CONTACT)

    assert orjson.loads(received[0].get_data()) == {"inputs": [contact_input(1, 0)]}
    assert results[0] == ItemResult(Outcome.DELIVERED)
    assert (results[1].outcome, results[1].code) == (Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED")


def custom_event(number: int, **extra) -> dict:
    return {
        "eventName": EVENT_NAME,
        "occurredAt": TIMESTAMP,
        "email": f"user{number}@example.com",
        "properties": {},
        "uuid": hubspot.event_uuid(f"msg-{number:04d}"),
    } | extra


def tracked(number: int, **overrides) -> dict:
    context = {"traits": {"email": f"user{number}@example.com"}}
    return events.track(number, context=context) | overrides


def test_track_events_become_custom_event_occurrences_in_one_batch(httpserver):
    """POST /events/v3/send/batch {"inputs": [...]}, answered 204; each occurrence's uuid
    is its messageId as a UUID, and HubSpot keeps one occurrence per uuid."""
    httpserver.expect_request(EVENTS).respond_with_data("", status=204)
    fields = CUSTOM_EVENT | {"properties": {"endpoint": {"@path": "$.properties.endpoint"}}}

    received, results = send(httpserver, "send_custom_behavioral_event", [tracked(1)], fields)

    occurrence = custom_event(1, properties={"endpoint": "/v1/search"}) | {"uuid": MSG_0001_UUID}
    assert_json_request(received[0], "POST", EVENTS, {"inputs": [occurrence]}, AUTH)
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_a_full_batch_of_100_occurrences_goes_in_one_request(httpserver):
    httpserver.expect_request(EVENTS).respond_with_data("", status=204)
    sample = [tracked(n) for n in range(1, 101)]

    received, _ = send(httpserver, "send_custom_behavioral_event", sample, CUSTOM_EVENT)

    assert len(received) == 1
    body = {"inputs": [custom_event(n) for n in range(1, 101)]}
    assert_json_request(received[0], "POST", EVENTS, body, AUTH)


def test_an_occurrence_is_linked_by_user_token_or_object_id_too(httpserver):
    httpserver.expect_request(EVENTS).respond_with_data("", status=204)
    fields = CUSTOM_EVENT | {"email": None, "utk": "a1b2c3", "object_id": "512"}

    received, _ = send(httpserver, "send_custom_behavioral_event", [tracked(1)], fields)

    [occurrence] = orjson.loads(received[0].get_data())["inputs"]
    assert (occurrence.get("email"), occurrence["utk"], occurrence["objectId"]) == (
        None,
        "a1b2c3",
        "512",
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"event_name": "API Call"}, "fully qualified pe<Hub ID>_<name>"),
        ({"email": None}, "needs an email, a user token (utk) or an object ID"),
    ],
)
def test_an_occurrence_hubspot_would_refuse_fails_alone(httpserver, fields, reason):
    """Segment's sendCustomBehavioralEvent checks the same: a pe<HubID>_ name, and one of
    email, utk or objectId (HubSpot's "Link event occurrences to records")."""
    httpserver.expect_request(EVENTS).respond_with_data("", status=204)
    config = Config({}, Secrets({"access_token": TOKEN}), httpserver.url_for("/").rstrip("/"))
    good = prepare(hubspot.SEND_CUSTOM_EVENT, CUSTOM_EVENT, tracked(1))
    bad = prepare(hubspot.SEND_CUSTOM_EVENT, CUSTOM_EVENT | fields, tracked(2))

    refusal = hubspot.SEND_CUSTOM_EVENT.refuse(bad)
    [request] = hubspot.SEND_CUSTOM_EVENT.build(config, [good, bad])

    assert request.items == (0,)
    assert (refusal.outcome, refusal.code) == (Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED")
    assert reason in refusal.message


def rate_limited(httpserver, path, policy, headers):
    body = {
        "status": "error",
        "message": f"You have reached your {policy.lower()} limit.",
        "errorType": "RATE_LIMIT",
        "policyName": policy,
    }
    httpserver.expect_request(path).respond_with_json(body, status=429, headers=headers)


def test_a_batch_over_the_ten_second_limit_waits_for_the_interval_hubspot_gives(httpserver):
    """429 bodies name the limit (policyName) and X-HubSpot-RateLimit-Interval-Milliseconds
    the window; HubSpot sends no Retry-After to API calls."""
    headers = {
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Max": "100",
        "X-HubSpot-RateLimit-Remaining": "0",
    }
    rate_limited(httpserver, CONTACTS, "TEN_SECONDLY_ROLLING", headers)

    _, results = send(httpserver, "upsert_contact", [person(1), person(2)], CONTACT)

    assert {(r.outcome, r.code, r.retry_after) for r in results} == {
        (Outcome.RETRY, "TOO_MANY_REQUESTS", 10.0)
    }
    assert results[0].message == "HTTP 429: You have reached your ten_secondly_rolling limit."


def test_a_batch_over_the_daily_limit_waits_for_the_next_full_hour(httpserver):
    """The daily limit resets at midnight in the account's time zone, which the answer does
    not give (HubSpot's usage guidelines)."""
    rate_limited(httpserver, EVENTS, "DAILY", {"X-HubSpot-RateLimit-Daily-Remaining": "0"})
    before = datetime.now(UTC)

    _, [result] = send(httpserver, "send_custom_behavioral_event", [tracked(1)], CUSTOM_EVENT)

    assert (result.outcome, result.code) == (Outcome.RETRY, "TOO_MANY_REQUESTS")
    assert 0 < result.retry_after <= hubspot_rules.until_next_hour(before) <= 3600


@pytest.mark.parametrize(
    ("moment", "seconds"),
    [
        (datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC), 3600.0),
        (datetime(2026, 3, 1, 12, 59, 30, tzinfo=UTC), 30.0),
        (datetime(2026, 3, 1, 23, 45, 0, 500_000, tzinfo=UTC), 899.5),
    ],
)
def test_the_daily_wait_ends_at_the_next_full_hour(moment, seconds):
    assert hubspot_rules.until_next_hour(moment) == seconds


def test_a_429_without_hubspots_headers_gets_the_generic_backoff(httpserver):
    httpserver.expect_request(CONTACTS).respond_with_data("slow down", status=429)

    _, [result] = send(httpserver, "upsert_contact", [person(1)], CONTACT)

    assert (result.outcome, result.code, result.retry_after) == (
        Outcome.RETRY,
        "TOO_MANY_REQUESTS",
        None,
    )


def test_a_retry_after_header_wins_when_hubspot_sends_one(httpserver):
    headers = {"Retry-After": "7", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}
    rate_limited(httpserver, CONTACTS, "SECONDLY", headers)

    _, [result] = send(httpserver, "upsert_contact", [person(1)], CONTACT)

    assert (result.outcome, result.retry_after) == (Outcome.RETRY, 7.0)


def test_an_account_being_moved_is_retried_after_the_wait_hubspot_gives(httpserver):
    """477 Migration in Progress, with Retry-After in seconds (HubSpot's error handling)."""
    httpserver.expect_request(CONTACTS).respond_with_data(
        "", status=477, headers={"Retry-After": "3600"}
    )

    _, [result] = send(httpserver, "upsert_contact", [person(1)], CONTACT)

    assert (result.outcome, result.code, result.retry_after) == (
        Outcome.RETRY,
        "MIGRATION_IN_PROGRESS",
        3600.0,
    )


@pytest.mark.parametrize("answer", [Answer(429, {}, b"[1]"), Answer(429, {}, b"\xff")])
def test_a_rate_limit_answer_hubspot_never_gives_does_not_crash_the_reader(answer):
    assert hubspot_rules.read_error(answer) == ItemResult(
        Outcome.RETRY, "TOO_MANY_REQUESTS", "HTTP 429: rate limited", None
    )


def test_a_locked_record_is_retried():
    """423 Locked: "include a delay of at least 2 seconds" (HubSpot's error handling); the
    generic rules retry 423 with backoff."""
    assert hubspot_rules.read_error(Answer(423, {}, b"")) is None


def test_a_bad_token_fails_every_item_as_bad_credentials(httpserver):
    httpserver.expect_request(CONTACTS).respond_with_json(
        {"status": "error", "category": "INVALID_AUTHENTICATION"}, status=401
    )

    _, [result] = send(httpserver, "upsert_contact", [person(1)], CONTACT)

    assert (result.outcome, result.code) == (Outcome.FAILED, "INVALID_AUTHENTICATION")


def test_requests_go_to_api_hubapi_com_by_default():
    destination = Destination(kind="hubspot", settings={})
    destination.set_secrets({"access_token": TOKEN})
    config = destination.config()
    payload = prepare(hubspot.UPSERT_CONTACT, CONTACT, person(1))

    [request] = hubspot.UPSERT_CONTACT.build(config, [payload])

    assert request.url == f"https://api.hubapi.com{CONTACTS}"


@pytest.mark.parametrize(("status", "valid"), [(200, True), (401, False)])
def test_the_connection_test_reads_the_accounts_details(httpserver, db, status, valid):
    """GET /account-info/v3/details needs only the "oauth" scope every app has, so a token
    with only write scopes passes; a bad token gets 401."""
    httpserver.expect_request("/account-info/v3/details").respond_with_json(
        {"portalId": 123456}, status=status
    )
    settings = {"base_url": httpserver.url_for("/")}
    destination = create_destination("hubspot", "CRM", settings, {"access_token": TOKEN})

    check = check_connection(destination)

    [(request, _)] = httpserver.log
    assert (request.method, request.path) == ("GET", "/account-info/v3/details")
    assert request.headers["Authorization"] == AUTH["Authorization"]
    assert check.ok is valid


def test_presets_upsert_contacts_with_an_email_and_companies_of_groups():
    triggers = {preset.name: preset.trigger for preset in hubspot.KIND.presets}

    assert triggers == {
        "Upsert contacts": 'type = "identify" and traits.email != null',
        "Upsert companies": 'type = "group"',
    }


def test_test_mapping_writes_to_the_crm():
    """HubSpot's APIs have no test mode: "Send test event" upserts the record for real."""
    assert all(action.build_test is None for action in hubspot.KIND.actions)
