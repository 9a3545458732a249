"""Amplitude: users to the Identify API and groups to the Group Identify API, as
form-encoded identifications (https://amplitude.com/docs/apis/analytics/identify,
.../group-identify), as Segment's Amplitude (Actions) identifyUser/index.ts sends them.
"""

from urllib.parse import urlencode

import orjson

from destinations.integrations import amplitude
from tests.destinations import events
from tests.destinations.integrations.amplitude_harness import (
    API_KEY,
    DELIVERED,
    form,
    send,
)


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
