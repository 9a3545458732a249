"""Mixpanel: user profiles set through /engage and group profiles through /groups, traits
with a reserved meaning under Mixpanel's names (the Ingestion API's OpenAPI, mixpanel/docs
openapi/ingestion.openapi.yaml, and https://docs.mixpanel.com/reference/user-profile-limits),
as Segment's Mixpanel (Actions) identifyUser and groupIdentifyUser map them.
"""

from destinations.integrations import mixpanel
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request
from tests.destinations.integrations.mixpanel_harness import (
    DELIVERED,
    TOKEN,
    built,
    send,
)


def test_an_identify_sets_the_profile_properties(httpserver):
    """/engage#profile-set: a JSON array of {$token, $distinct_id, $set}; verbose=1 answers
    {"status": 1} when Mixpanel took them. Segment renames the reserved traits
    (identifyUser/index.ts)."""
    httpserver.expect_request("/engage").respond_with_json({"status": 1, "error": None})

    received, results = send(httpserver, "identify_user", [events.identify(1)])

    update = {
        "$token": TOKEN,
        "$distinct_id": "user-1",
        "$ip": "203.0.113.7",
        "$set": {"plan": "pro", "$email": "ada@example.com"},
    }
    assert_json_request(received[0], "POST", "/engage?verbose=1", [update], {})
    assert "Authorization" not in received[0].headers
    assert results == [DELIVERED]


def test_traits_with_a_reserved_meaning_take_mixpanels_names():
    """Reserved Profile Properties; Segment's identifyUser/index.ts: $created is created,
    else createdAt, else created_at; $name is the name, else first and last names."""
    traits = {
        "email": "ada@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "phone": "+44 20 7946 0000",
        "username": "ada",
        "created_at": "2020-01-01",
        "createdAt": "2021-01-01",
        "plan": "pro",
    }

    [update] = built(mixpanel.IDENTIFY_USER, events.identify(traits=traits, context={}))

    assert update["$set"] == {
        "plan": "pro",
        "$email": "ada@example.com",
        "$phone": "+44 20 7946 0000",
        "$first_name": "Ada",
        "$last_name": "Lovelace",
        "$username": "ada",
        "$created": "2021-01-01",
        "$name": "Ada Lovelace",
    }
    assert update["$ip"] == "0"  # Geolocation: "$ip": "0" leaves the profile's place alone


def test_a_group_call_sets_the_group_profile(httpserver):
    """/groups#group-set: {$token, $group_key, $group_id, $set}; Segment's
    groupIdentifyUser/index.ts renames name to $name."""
    httpserver.expect_request("/groups").respond_with_json({"status": 1, "error": None})

    received, results = send(httpserver, "group_identify", [events.group(1)])

    update = {
        "$token": TOKEN,
        "$group_key": "$group_id",
        "$group_id": "acme-inc",
        "$set": {"seats": 12, "$name": "Acme Inc"},
    }
    assert_json_request(received[0], "POST", "/groups?verbose=1", [update], {})
    assert results == [DELIVERED]
