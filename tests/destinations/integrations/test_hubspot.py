"""HubSpot's CRM batch upsert and custom event APIs, with a private app's token: contacts,
companies, settings and presets here; custom events in test_hubspot_events.py, the reading
of HubSpot's answers in test_hubspot_answers.py.

Vendor docs: https://developers.hubspot.com/docs/api/crm/contacts (batch upsert by email),
https://developers.hubspot.com/docs/api/analytics/events (send and send/batch),
https://developers.hubspot.com/docs/api/error-handling (207, 423, 429, 477) and
https://developers.hubspot.com/docs/api/usage-details (rate limit headers and 429 bodies).

Segment's counterpart is packages/destination-actions/src/destinations/hubspot/ (upsertContact,
upsertCompany, sendCustomBehavioralEvent). Where they differ the vendor wins: Segment reads
contacts before creating or updating them, three calls per batch; HubSpot's batch upsert does
it in one, and its events API takes batches (send/batch) where Segment sends one at a time.
"""

import orjson
import pytest
from django.core.exceptions import ValidationError

from destinations.delivery.payloads import prepare
from destinations.integrations import hubspot
from destinations.integrations.base import Config, ItemResult, Outcome
from destinations.models import Destination
from destinations.services.destinations import check_connection, create_destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request
from tests.destinations.integrations.hubspot_harness import (
    AUTH,
    COMPANIES,
    COMPANY,
    CONTACT,
    CONTACTS,
    TOKEN,
    contact_input,
    person,
    send,
    upserted,
)


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
