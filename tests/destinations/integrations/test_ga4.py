"""Google Analytics 4 (Measurement Protocol).

Sources: Google's protocol reference
(https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference), its
sending and validating guides (.../ga4/sending-events, .../ga4/validating-events), GA4's
event collection limits (https://support.google.com/analytics/answer/9267744), and Segment's
packages/destination-actions/src/destinations/google-analytics-4 (ga4-functions.ts,
ga4-properties.ts, customEvent/, purchase/, addToCart/, pageView/).
"""

from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from destinations import triggers
from destinations.delivery.payloads import PayloadInvalid, prepare
from destinations.delivery.transport import send_batch
from destinations.integrations import ga4
from destinations.integrations.base import Answer, Config, ItemResult, Outcome
from destinations.models import Destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.events import CONTEXT
from tests.destinations.integrations.contract import assert_json_request, config_for, deliver

MEASUREMENT_ID = "G-TEST123"
SECRET = "mp-secret-123"
PATH = f"/mp/collect?measurement_id={MEASUREMENT_ID}&api_secret={SECRET}"
# 2026-03-01T12:00:00.000Z, the samples' timestamp, in microseconds.
MICROS = 1_772_366_400_000_000
DELIVERED = ItemResult(Outcome.DELIVERED)
PAGE_CONTEXT = {
    **CONTEXT,
    "page": {
        "url": "https://shop.example/mugs",
        "referrer": "https://search.example/",
        "title": "Mugs",
    },
}
MUG = {"product_id": "p-1", "name": "Mug", "price": 10, "quantity": 2}
ORDER = {"order_id": "o-1", "currency": "EUR", "total": 20, "tax": 2, "products": [MUG]}
CUSTOM = ga4.CUSTOM_EVENT.default_fields()


def send(httpserver, action, sample_events, fields=None, settings=None):
    return deliver(
        httpserver,
        "ga4",
        action,
        sample_events,
        settings={"stream_id": MEASUREMENT_ID, **(settings or {})},
        secrets={"api_secret": SECRET},
        fields=fields,
    )


def collect(httpserver, status=204):
    httpserver.expect_request("/mp/collect", method="POST").respond_with_data("", status=status)


def api_call(number: int = 1, **params) -> dict:
    return {
        "name": "API_Call",
        "params": {"engagement_time_msec": 1, **params},
        "timestamp_micros": MICROS,
    }


def body(events_sent: list[dict], client: str = "anon-1", user: str | None = "user-1") -> dict:
    identity = {"client_id": client} | ({"user_id": user} if user else {})
    return {**identity, "events": events_sent}


def sent_bodies(received) -> list[dict]:
    return [orjson.loads(request.get_data()) for request in received]


def verdicts(httpserver, sample_events) -> list[ItemResult]:
    """Each event's verdict, in the events' order (refused ones come after the sent ones)."""
    config = config_for(httpserver, {"stream_id": MEASUREMENT_ID}, {"api_secret": SECRET})
    payloads = [prepare(ga4.CUSTOM_EVENT, CUSTOM, event) for event in sample_events]
    found = {}
    for item in send_batch(ga4.CUSTOM_EVENT, config, payloads):
        found |= dict(zip(item.request.items, item.results, strict=True))
    return [found[index] for index in range(len(payloads))]


def refusal(event: dict, fields: dict = CUSTOM, action=ga4.CUSTOM_EVENT) -> ItemResult | None:
    return action.refuse(prepare(action, fields, event))


def test_a_track_event_becomes_a_custom_event_named_with_underscores(httpserver):
    """Segment's customEvent: spaces become underscores, the case is kept, and
    engagement_time_msec is 1 so that GA4 counts the user as active."""
    collect(httpserver)

    received, results = send(httpserver, "custom_event", [events.track(1)])

    assert_json_request(received[0], "POST", PATH, body([api_call()]), {})
    assert results == [DELIVERED]


def test_event_parameters_mapped_from_the_properties_go_with_the_event(httpserver):
    collect(httpserver)
    fields = CUSTOM | {"params": {"@path": "$.properties"}, "lowercase": True}

    received, _ = send(httpserver, "custom_event", [events.track(1)], fields)

    event = api_call(endpoint="/v1/search", value=3, revenue=12.5) | {"name": "api_call"}
    assert_json_request(received[0], "POST", PATH, body([event]), {})


def test_a_page_becomes_a_page_view_with_location_referrer_and_title(httpserver):
    collect(httpserver)

    received, results = send(httpserver, "page_view", [events.page(1, context=PAGE_CONTEXT)])

    params = {
        "page_location": "https://shop.example/mugs",
        "page_referrer": "https://search.example/",
        "page_title": "Mugs",
        "engagement_time_msec": 1,
    }
    page_view = {"name": "page_view", "params": params, "timestamp_micros": MICROS}
    assert_json_request(received[0], "POST", PATH, body([page_view], user=None), {})
    assert results == [DELIVERED]


def test_an_order_becomes_a_purchase_with_its_items(httpserver):
    """GA4's purchase: transaction_id, currency, value and items (item_id, item_name, price,
    quantity); Segment maps value from the order's total."""
    collect(httpserver)

    received, results = send(
        httpserver, "purchase", [events.track(1, event="Order Completed", properties=ORDER)]
    )

    params = {
        "transaction_id": "o-1",
        "currency": "EUR",
        "value": 20,
        "tax": 2,
        "items": [{"item_id": "p-1", "item_name": "Mug", "price": 10, "quantity": 2}],
        "engagement_time_msec": 1,
    }
    purchase = {"name": "purchase", "params": params, "timestamp_micros": MICROS}
    assert_json_request(received[0], "POST", PATH, body([purchase]), {})
    assert results == [DELIVERED]


def test_a_product_added_becomes_add_to_cart_with_one_item(httpserver):
    collect(httpserver)
    added = events.track(1, event="Product Added", properties=MUG | {"currency": "EUR"})

    received, results = send(httpserver, "add_to_cart", [added])

    params = {
        "currency": "EUR",
        "value": 10,
        "items": [{"item_id": "p-1", "item_name": "Mug", "price": 10, "quantity": 2}],
        "engagement_time_msec": 1,
    }
    add_to_cart = {"name": "add_to_cart", "params": params, "timestamp_micros": MICROS}
    assert_json_request(received[0], "POST", PATH, body([add_to_cart]), {})
    assert results == [DELIVERED]


def test_user_properties_and_consent_go_once_per_request(httpserver):
    """user_properties are {"name": {"value": ...}}; consent holds ad_user_data and
    ad_personalization (protocol reference, "user_properties" and "consent")."""
    collect(httpserver)
    fields = CUSTOM | {
        "user_properties": {"plan": "pro"},
        "ad_user_data_consent": "GRANTED",
        "ad_personalization_consent": "DENIED",
    }

    received, _ = send(httpserver, "custom_event", [events.track(1)], fields)

    expected = body([api_call()]) | {
        "user_properties": {"plan": {"value": "pro"}},
        "consent": {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"},
    }
    expected["events"] = expected.pop("events")
    assert_json_request(received[0], "POST", PATH, expected, {})


def test_an_app_stream_sends_the_firebase_app_id_and_the_app_instance_id(httpserver):
    """App streams: firebase_app_id in the query, app_instance_id in the body. Firebase app
    IDs keep their colons in the URL, as in Google's examples and Segment's sendData."""
    collect(httpserver)
    app_id = "1:1234567890:android:321abc456def7890"
    fields = CUSTOM | {"client_id": {"@path": "$.context.device.id"}}
    sample = events.track(1, context={**CONTEXT, "device": {"id": "a1b2c3"}})

    received, _ = send(
        httpserver,
        "custom_event",
        [sample],
        fields,
        {"stream_type": "app", "stream_id": app_id},
    )

    path = f"/mp/collect?firebase_app_id={app_id}&api_secret={SECRET}"
    expected = {"app_instance_id": "a1b2c3", "user_id": "user-1", "events": [api_call()]}
    assert_json_request(received[0], "POST", path, expected, {})


def test_the_api_secret_travels_in_the_query_because_the_protocol_has_no_other_place():
    """GA4's design: api_secret and the stream ID are query parameters of /mp/collect."""
    config = Config({"stream_id": "G-X&Y"}, Secrets({"api_secret": "a+b/c=="}), "")
    payload = prepare(ga4.CUSTOM_EVENT, CUSTOM, events.track(1))

    (request,) = ga4.CUSTOM_EVENT.build(config, [payload])

    query = parse_qs(urlsplit(request.url).query)
    assert query == {"measurement_id": ["G-X&Y"], "api_secret": ["a+b/c=="]}
    assert request.headers == {"Content-Type": "application/json"}


def test_a_client_without_an_anonymous_id_is_keyed_by_its_user_id():
    """client_id comes from anonymousId (the device); a server-side event with only a userId
    falls back to it, as Segment's client_id default (userId, then anonymousId) would."""
    payload = prepare(ga4.CUSTOM_EVENT, CUSTOM, events.track(1, anonymousId=None))

    assert payload["client_id"] == "user-1"


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


def test_ga4_answers_2xx_even_to_events_it_drops_so_the_live_endpoint_fails_no_item(httpserver):
    """ "The Measurement Protocol always returns a 2xx status code if the HTTP request was
    received" (protocol reference, "Response codes"): there is no per-item error to read from
    the live endpoint, which is why the rules above are checked before sending."""
    httpserver.expect_request("/mp/collect").respond_with_json({"anything": True}, status=200)

    _, results = send(httpserver, "custom_event", [events.track(1), events.track(1)])

    assert results == [DELIVERED, DELIVERED]


def test_a_429_is_retried_after_the_retry_after_delay(httpserver):
    """No rate limit is documented for the protocol; a 429 follows the generic rules."""
    httpserver.expect_request("/mp/collect").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "30"}
    )

    _, results = send(httpserver, "custom_event", [events.track(1), events.track(2)])

    assert [(r.outcome, r.code, r.retry_after) for r in results] == [
        (Outcome.RETRY, "TOO_MANY_REQUESTS", 30.0)
    ] * 2


def test_a_server_error_is_retried(httpserver):
    collect(httpserver, status=503)

    _, results = send(httpserver, "custom_event", [events.track(1)])

    assert results[0].outcome is Outcome.RETRY


def stream_origin(settings: dict) -> str:
    destination = Destination(kind="ga4", settings={"stream_id": MEASUREMENT_ID, **settings})
    destination.set_secrets({"api_secret": SECRET})
    payload = prepare(ga4.CUSTOM_EVENT, CUSTOM, events.track(1))
    (request,) = ga4.CUSTOM_EVENT.build(destination.config(), [payload])
    return request.url.split("?")[0]


@pytest.mark.parametrize(
    ("settings", "url"),
    [
        ({}, "https://www.google-analytics.com/mp/collect"),
        (
            {"host": "region1.google-analytics.com"},
            "https://region1.google-analytics.com/mp/collect",
        ),
        (
            {"host": "region1.google-analytics.com", "base_url": "http://proxy:8080"},
            "http://proxy:8080/mp/collect",
        ),
    ],
)
def test_the_collection_host_is_global_or_the_eu_one_unless_a_base_url_is_set(settings, url):
    """ "If you want data collected in the EU, use region1.google-analytics.com" (protocol
    reference, "Transport")."""
    assert stream_origin(settings) == url


def test_the_host_setting_picks_the_server_so_it_binds_the_secrets():
    host = next(s for s in ga4.KIND.settings if s.key == "host")

    assert host.chooses_host
    assert host.choices == ("www.google-analytics.com", "region1.google-analytics.com")


def test_there_is_no_connection_test_because_no_call_checks_an_api_secret():
    """Google's validation server "does not validate api_secret or firebase_app_id"
    (validating-events guide), and the live endpoint answers 2xx to anything: a check could
    only record data or say nothing true about the secret."""
    assert ga4.KIND.connection_test is None


def validate(httpserver, answer: dict, sample_events: list[dict]):
    httpserver.expect_request("/debug/mp/collect", method="POST").respond_with_json(answer)
    config = config_for(httpserver, {"stream_id": MEASUREMENT_ID}, {"api_secret": SECRET})
    action = ga4.CUSTOM_EVENT.for_test()
    payloads = [prepare(action, CUSTOM, event) for event in sample_events]
    sent = send_batch(action, config, payloads)
    return httpserver.log[-1][0], [result for item in sent for result in item.results]


def test_test_mapping_sends_to_the_validation_server_with_strict_validation(httpserver):
    """Validating-events guide: the validation server is /debug/mp/collect, the request is
    otherwise the same, and validation_behavior ENFORCE_RECOMMENDATIONS makes it check what
    the live endpoint would silently drop."""
    received, results = validate(httpserver, {"validationMessages": []}, [events.track(1)])

    expected = body([api_call()]) | {"validation_behavior": "ENFORCE_RECOMMENDATIONS"}
    expected["events"] = expected.pop("events")
    path = f"/debug/mp/collect?measurement_id={MEASUREMENT_ID}&api_secret={SECRET}"
    assert_json_request(received, "POST", path, expected, {})
    assert results == [DELIVERED]


def test_validation_messages_fail_the_test_event_with_their_description(httpserver):
    answer = {
        "validationMessages": [
            {
                "fieldPath": "events",
                "description": "Event at index: [0] has invalid name [_bad].",
                "validationCode": "NAME_INVALID",
            }
        ]
    }

    _, results = validate(httpserver, answer, [events.track(1)])

    assert results == [
        ItemResult(
            Outcome.FAILED,
            "NAME_INVALID",
            "GA4 validation: Event at index: [0] has invalid name [_bad].",
        )
    ]


def test_a_validation_message_naming_one_event_fails_that_event_only():
    answer = {
        "validationMessages": [
            {
                "fieldPath": "events[1].params.currency",
                "description": "bad",
                "validationCode": "VALUE_INVALID",
            },
            {"fieldPath": "user_id", "description": "too long", "validationCode": "VALUE_INVALID"},
            "not a message",
        ]
    }

    results = ga4.read_validation(Answer(200, {}, orjson.dumps(answer)), 3)

    assert [r.message for r in results] == [
        "GA4 validation: too long",
        "GA4 validation: bad; too long",
        "GA4 validation: too long",
    ]


@pytest.mark.parametrize(
    "answer",
    [
        Answer(204, {}, b""),
        Answer(200, {}, b"not json"),
        Answer(200, {}, b"[]"),
        Answer(200, {}, b'{"validationMessages": "none"}'),
        Answer(500, {}, b'{"validationMessages": []}'),
    ],
)
def test_any_other_answer_is_judged_whole(answer):
    assert ga4.read_validation(answer, 2) is None


@pytest.mark.parametrize(
    ("preset", "event", "wanted"),
    [
        ("Page views", events.page(), True),
        ("Page views", events.track(), False),
        ("Purchases", events.track(event="Order Completed"), True),
        ("Purchases", events.track(), False),
        ("Products added to cart", events.track(event="Product Added"), True),
        ("Products added to cart", events.track(event="Order Completed"), False),
    ],
)
def test_each_preset_takes_its_own_events_only(preset, event, wanted):
    """Segment's defaultSubscriptions: type = "page", Order Completed, Product Added; Custom
    event has no preset, so that an order is not also sent as an "Order_Completed" event."""
    trigger = next(p.trigger for p in ga4.KIND.presets if p.name == preset)

    assert triggers.matches(trigger, event) is wanted
    assert "custom_event" not in {p.action for p in ga4.KIND.presets}
