"""Google Analytics 4 (Measurement Protocol): the actions' requests, the collection
host, the connection test and the presets; batching and GA4's collection limits are in
test_ga4_limits.py, the reading of GA4's answers and of its validation server in
test_ga4_answers.py.

Sources: Google's protocol reference
(https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference), its
sending and validating guides (.../ga4/sending-events, .../ga4/validating-events), GA4's
event collection limits (https://support.google.com/analytics/answer/9267744), and Segment's
packages/destination-actions/src/destinations/google-analytics-4 (ga4-functions.ts,
ga4-properties.ts, customEvent/, purchase/, addToCart/, pageView/).
"""

from urllib.parse import parse_qs, urlsplit

import pytest

from destinations import triggers
from destinations.delivery.payloads import prepare
from destinations.integrations import ga4
from destinations.integrations.base import Config
from destinations.models import Destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.events import CONTEXT
from tests.destinations.integrations.contract import assert_json_request
from tests.destinations.integrations.ga4_harness import (
    CUSTOM,
    DELIVERED,
    MEASUREMENT_ID,
    MICROS,
    MUG,
    ORDER,
    PAGE_CONTEXT,
    PATH,
    SECRET,
    api_call,
    body,
    collect,
    send,
)


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
