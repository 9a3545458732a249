"""Google Analytics 4: events batched by client, at most 25 and under 130 kB a request,
and the events GA4 would drop without an error (event names, parameters, user properties,
purchases without items) failed alone before sending. Sources: Google's protocol reference
(https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference), GA4's
event collection limits (https://support.google.com/analytics/answer/9267744), and Segment's
google-analytics-4 (ga4-functions.ts, purchase/).
"""

import orjson
import pytest

from destinations.delivery.payloads import PayloadInvalid, prepare
from destinations.integrations import ga4
from destinations.integrations.base import Config, Outcome
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request
from tests.destinations.integrations.ga4_harness import (
    CUSTOM,
    DELIVERED,
    MEASUREMENT_ID,
    ORDER,
    PATH,
    SECRET,
    api_call,
    body,
    collect,
    refusal,
    send,
    sent_bodies,
    verdicts,
)


def test_a_full_batch_of_25_events_of_one_client_goes_in_one_request(httpserver):
    """Up to 25 events per request (protocol reference, events[]); the events of one
    request share its client_id and user_id, so same-client events travel together, each
    with its own timestamp_micros (an event's timestamp wins over the request's)."""
    collect(httpserver)
    batch = [events.track(1, messageId=f"m-{n}") for n in range(25)]

    received, results = send(httpserver, "custom_event", batch)

    assert len(received) == 1
    assert_json_request(received[0], "POST", PATH, body([api_call()] * 25), {})
    assert results == [DELIVERED] * 25
    assert ga4.CUSTOM_EVENT.max_batch_size == 25


def test_more_than_25_events_of_one_client_are_split_at_25():
    config = Config({"stream_id": MEASUREMENT_ID}, Secrets({"api_secret": SECRET}), "")
    payloads = [prepare(ga4.CUSTOM_EVENT, CUSTOM, events.track(1)) for _ in range(26)]

    requests = ga4.CUSTOM_EVENT.build(config, payloads)

    assert [len(request.items) for request in requests] == [25, 1]
    assert requests[1].items == (25,)


def test_events_of_different_clients_or_users_go_in_separate_requests(httpserver):
    """Segment sends one event per request; here only events that share client, user, user
    properties and consent share a request."""
    collect(httpserver)
    batch = [
        events.track(1),
        events.track(2),
        events.track(1, messageId="again"),
        events.track(1, userId="someone-else"),
    ]

    received, results = send(httpserver, "custom_event", batch)

    assert sent_bodies(received) == [
        body([api_call(), api_call()]),
        body([api_call()], "anon-2", "user-2"),
        body([api_call()], user="someone-else"),
    ]
    assert results == [DELIVERED] * 4


def test_a_request_stays_under_130_kb():
    """ "The JSON POST body must be smaller than 130kB" (protocol reference)."""
    config = Config({"stream_id": MEASUREMENT_ID}, Secrets({"api_secret": SECRET}), "")
    fields = CUSTOM | {"params": {"@path": "$.properties"}}
    big = {f"p{n}": "x" * 2000 for n in range(20)}  # about 40 kB per event
    payloads = [
        prepare(ga4.CUSTOM_EVENT, fields, events.track(1, properties=big)) for _ in range(5)
    ]

    requests = ga4.CUSTOM_EVENT.build(config, payloads)

    assert [len(request.items) for request in requests] == [3, 2]
    assert all(len(request.body) < 130_000 for request in requests)


def test_an_event_too_large_for_one_request_fails_alone():
    fields = CUSTOM | {"params": {"@path": "$.properties"}}
    huge = {f"p{n}": "x" * 6000 for n in range(24)}

    result = refusal(events.track(1, properties=huge), fields)

    assert result.outcome is Outcome.FAILED
    assert "GA4 takes under 130000" in result.message


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("1st_visit", "must start with a letter"),
        ("checkout-step", "only letters, digits and _"),
        ("a" * 41, "longer than GA4's 40 characters"),
        ("session_start", "reserves"),
        ("first_visit", "reserves"),
        ("firebase_thing", "reserves"),
        ("google_thing", "reserves"),
        ("ga_thing", "reserves"),
    ],
)
def test_an_event_name_ga4_would_drop_fails_the_event_alone(name, problem):
    """Event names: up to 40 characters, letters, digits and underscores, starting with a
    letter; reserved names and the firebase_, google_ and ga_ prefixes are refused (protocol
    reference, "Reserved names"; Firebase's Event reference). GA4 drops such events without
    an error, so they fail here, with the reason, rather than normalized into other names."""
    result = refusal(events.track(1, event=name))

    assert (result.outcome, result.code) == (Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED")
    assert problem in result.message


def test_letters_of_any_script_make_a_valid_event_name():
    assert refusal(events.track(1, event="café commandé")) is None


@pytest.mark.parametrize(
    ("properties", "problem"),
    [
        ({"nested": {"a": 1}}, "parameter 'nested' is an object or array"),
        ({"tags": ["a"]}, "parameter 'tags' is an object or array"),
        ({"b" * 41: 1}, "longer than GA4's 40 characters"),
        ({"firebase_conversion": 1}, "reserves"),
        ({f"p{n}": n for n in range(25)}, "26 parameter entries; GA4 keeps at most 25"),
        ({"currency": "dollars"}, "not a 3-letter ISO 4217 code"),
        ({"items": [{"price": 3}]}, "items[0] needs an item_id or an item_name"),
        ({"items": "p-1"}, "items must be an array"),
    ],
)
def test_parameters_ga4_would_drop_fail_the_event_alone(properties, problem):
    """Parameters: 25 per event (engagement_time_msec counts), names as event names, values
    text or numbers (Segment's verifyParams refuses objects and arrays too), items each with
    an item_id or item_name, currency a 3-letter code."""
    fields = CUSTOM | {"params": {"@path": "$.properties"}}

    result = refusal(events.track(1, properties=properties), fields)

    assert problem in result.message


def test_long_parameter_values_are_sent_as_they_are():
    """GA4 caps values at 100 characters on standard properties and 500 on GA4 360
    ("Event collection limits"): the property decides, so nothing is cut or refused here."""
    fields = CUSTOM | {"params": {"@path": "$.properties"}}

    assert refusal(events.track(1, properties={"query": "q" * 300}), fields) is None


def test_null_parameters_are_left_out():
    config = Config({"stream_id": MEASUREMENT_ID}, Secrets({"api_secret": SECRET}), "")
    fields = CUSTOM | {"params": {"@path": "$.properties"}}
    payload = prepare(ga4.CUSTOM_EVENT, fields, events.track(1, properties={"coupon": None}))

    (request,) = ga4.CUSTOM_EVENT.build(config, [payload])

    assert orjson.loads(request.body)["events"] == [api_call()]


@pytest.mark.parametrize(
    ("user_properties", "problem"),
    [
        ({"first_open_time": 1}, "reserves"),
        ({"c" * 25: 1}, "longer than GA4's 24 characters"),
        ({"plan": {"tier": 1}}, "is an object or array"),
    ],
)
def test_user_properties_ga4_would_drop_fail_the_event_alone(user_properties, problem):
    """User properties: names up to 24 characters, reserved names refused, 25 per request."""
    result = refusal(events.track(1), CUSTOM | {"user_properties": user_properties})

    assert problem in result.message


def test_only_the_bad_events_of_a_batch_fail_and_the_others_are_sent(httpserver):
    collect(httpserver)
    batch = [events.track(1), events.track(1, event="session_start"), events.track(1)]

    results = verdicts(httpserver, batch)

    assert sent_bodies(request for request, _ in httpserver.log) == [body([api_call(), api_call()])]
    assert [r.outcome for r in results] == [Outcome.DELIVERED, Outcome.FAILED, Outcome.DELIVERED]
    assert "reserves" in results[1].message


def test_a_purchase_without_items_or_an_order_id_cannot_be_sent():
    """Segment's purchase requires transaction_id, currency and items; GA4's purchase
    reference does too."""
    action = ga4.PURCHASE
    fields = action.default_fields()
    order = events.track(1, event="Order Completed", properties=ORDER)

    assert prepare(action, fields, order)
    for missing in ("order_id", "currency", "products"):
        properties = {k: v for k, v in ORDER.items() if k != missing}
        with pytest.raises(PayloadInvalid, match="is required but missing"):
            prepare(action, fields, events.track(1, properties=properties))
