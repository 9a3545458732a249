"""Meta Conversions API: the actions' requests, refusals, settings and presets; the hashing
of customer information is in test_meta_conversions_hashing.py, the reading of Graph API
answers in test_meta_conversions_answers.py.

Sources: Meta's Conversions API pages (developers.facebook.com/docs/marketing-api/
conversions-api/using-the-api, .../parameters/customer-information-parameters,
.../parameters/server-event, .../parameters/custom-data), the Graph API's error handling
and rate limiting guides (developers.facebook.com/docs/graph-api/guides/error-handling,
.../graph-api/overview/rate-limiting), Meta's Business SDK for Python
(facebook_business/adobjects/serverside/normalize.py and user_data.py), and Segment's
packages/destination-actions/src/destinations/facebook-conversions-api (shared/functions.ts,
shared/fields.ts).
"""

import orjson
import pytest

from destinations import triggers
from destinations.admin.forms import destination_form
from destinations.delivery.payloads import PayloadInvalid, prepare
from destinations.integrations import meta_conversions as meta
from destinations.integrations.base import Outcome
from destinations.models import Destination
from destinations.services.destinations import check_connection, create_destination
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, config_for
from tests.destinations.integrations.meta_conversions_harness import (
    DELIVERED,
    EVENT_TIME,
    ORDER,
    PATH,
    PIXEL,
    SHOP_CONTEXT,
    TOKEN,
    USER_AGENT,
    base_event,
    built,
    graph,
    graph_error,
    request_body,
    send,
    sha256,
    verdicts,
)


def test_an_order_becomes_a_purchase_with_hashed_customer_information(httpserver):
    """Purchase: currency and value in custom_data, contents with id, quantity and
    item_price, event_id from the messageId (for deduplication with the pixel), event_time in
    seconds, action_source "website". Contact details are normalized and hashed with
    SHA-256; the IP address, user agent, fbc and fbp are not. Meta's own example sends the
    access token in the POST body, so it stays out of the URL."""
    graph(httpserver)
    order = events.track(1, event="Order Completed", properties=ORDER, context=SHOP_CONTEXT)

    received, results = send(httpserver, "purchase", [order])

    purchase = {
        "event_name": "Purchase",
        "event_time": EVENT_TIME,
        "event_id": "msg-0001",
        "event_source_url": "https://shop.example/checkout",
        "action_source": "website",
        "user_data": {
            # Published vectors for these normalizations (Snap's Conversions API parameters
            # page uses the same rules): "person@example.com" and "448444124653".
            "em": "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345",
            "ph": "dc008fda46e2e64002cf2f82a4906236282d431c4f75e5b60bfe79fc48546383",
            "fn": sha256("ada"),
            "ln": sha256("lovelace"),
            "ct": sha256("menlopark"),
            "st": sha256("ca"),
            "zp": sha256("94025"),
            "country": sha256("us"),
            "external_id": sha256("user-1"),
            "client_ip_address": "203.0.113.7",
            "client_user_agent": USER_AGENT,
        },
        "custom_data": {
            "currency": "EUR",
            "value": 20,
            "order_id": "o-1",
            "contents": [{"id": "p-1", "quantity": 2, "item_price": 10}],
        },
    }
    assert_json_request(received[0], "POST", PATH, request_body([purchase]), {})
    assert TOKEN not in received[0].full_path
    assert results == [DELIVERED]


def test_a_product_added_becomes_add_to_cart(httpserver):
    graph(httpserver)
    added = events.track(
        1, event="Product Added", properties={"product_id": "p-1", "price": 10, "currency": "EUR"}
    )

    received, _ = send(httpserver, "add_to_cart", [added])

    add_to_cart = base_event("AddToCart") | {
        "custom_data": {
            "currency": "EUR",
            "value": 10,
            "contents": [{"id": "p-1", "item_price": 10}],
        }
    }
    assert_json_request(received[0], "POST", PATH, request_body([add_to_cart]), {})


def test_a_page_becomes_a_page_view_without_custom_data(httpserver):
    graph(httpserver)

    received, _ = send(httpserver, "page_view", [events.page(1)])

    page_view = base_event("PageView", user="anon-1") | {"event_id": "pg-0001"}
    assert_json_request(received[0], "POST", PATH, request_body([page_view]), {})


def test_a_custom_event_keeps_its_name_and_takes_custom_data(httpserver):
    graph(httpserver)
    fields = meta.CUSTOM_EVENT.default_fields() | {"custom_data": {"@path": "$.properties"}}

    received, _ = send(httpserver, "custom_event", [events.track(1)], fields)

    custom = base_event("API Call") | {
        "custom_data": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5}
    }
    assert_json_request(received[0], "POST", PATH, request_body([custom]), {})


def test_a_full_batch_of_1000_goes_in_one_request(httpserver):
    """ "You can send up to 1,000 events in data" (Using the API)."""
    graph(httpserver)
    batch = [events.page(n) for n in range(1000)]

    received, results = send(httpserver, "page_view", batch)

    assert len(received) == 1
    assert len(orjson.loads(received[0].get_data())["data"]) == 1000
    assert results == [DELIVERED] * 1000
    assert (meta.PURCHASE.max_batch_size, meta.PURCHASE.default_batch_size) == (1000, 100)


def test_an_event_without_customer_information_fails_alone_and_the_rest_are_sent(httpserver):
    """Meta refuses an event with no customer information parameter, and with it the whole
    request; such an event stays out of the request."""
    graph(httpserver)
    anonymous = events.page(2, anonymousId=None, context={})

    results = verdicts(httpserver, "page_view", [events.page(1), anonymous, events.page(3)])

    sent = orjson.loads(httpserver.log[0][0].get_data())["data"]
    assert [event["event_id"] for event in sent] == ["pg-0001", "pg-0003"]
    assert results[0] == results[2] == DELIVERED
    assert (results[1].outcome, results[1].code) == (Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED")


def test_a_product_without_an_id_fails_its_event_alone():
    """Segment's validateContents: every contents entry needs an id."""
    added = events.track(1, event="Product Added", properties={"price": 10})
    payload = prepare(meta.ADD_TO_CART, meta.ADD_TO_CART.default_fields(), added)

    result = meta.ADD_TO_CART.refuse(payload)

    assert result.message == "contents[0] has no id; Meta requires one per product"


def test_a_purchase_needs_a_currency_and_a_value():
    """Meta's custom_data reference: currency and value are required for Purchase events."""
    fields = meta.PURCHASE.default_fields()
    for missing in ("currency", "revenue"):
        properties = {k: v for k, v in ORDER.items() if k != missing}
        with pytest.raises(PayloadInvalid, match="is required but missing"):
            prepare(meta.PURCHASE, fields, events.track(1, properties=properties))


def test_test_mapping_adds_the_test_event_code_and_the_real_send_never_does(httpserver):
    """test_event_code in the main body (Main Body Parameters): the event then shows among
    Events Manager's test events. Only Test mapping sends it."""
    graph(httpserver)
    settings = {"pixel_id": PIXEL, "test_event_code": "TEST123"}
    config = config_for(httpserver, settings, {"access_token": TOKEN})
    payload = prepare(meta.PAGE_VIEW, meta.PAGE_VIEW.default_fields(), events.page(1))

    (test_request,) = meta.PAGE_VIEW.for_test().build(config, [payload])
    (real_request,) = meta.PAGE_VIEW.build(config, [payload])

    assert orjson.loads(test_request.body)["test_event_code"] == "TEST123"
    assert "test_event_code" not in orjson.loads(real_request.body)


@pytest.mark.parametrize(
    ("version", "path"),
    [(None, "/v26.0/"), ("v24.0", "/v24.0/"), ("25.0", "/v25.0/")],
)
def test_the_graph_api_version_is_pinned_and_a_setting_can_change_it(version, path):
    """v26.0 is the newest version in Meta's Graph API changelog (July 29, 2026)."""
    settings = {"api_version": version} if version else {}

    (request,) = built(meta.PAGE_VIEW, events.page(1), settings=settings)

    assert request.url == f"https://graph.facebook.com{path}{PIXEL}/events"


def test_the_admin_form_saves_no_version_nobody_typed():
    """Otherwise a destination would stay on the version of the day it was saved."""
    assert destination_form("meta_conversions")().fields["api_version"].initial is None


def test_a_pixel_id_cannot_move_the_request_elsewhere():
    (request,) = built(meta.PAGE_VIEW, events.page(1), settings={"pixel_id": "x/../../y?z#"})

    assert request.url == "https://graph.facebook.com/v26.0/x%2F..%2F..%2Fy%3Fz%23/events"


def test_there_is_one_host_and_a_base_url_replaces_it():
    destination = Destination(
        kind="meta_conversions", settings={"pixel_id": PIXEL, "base_url": "http://proxy:81"}
    )
    destination.set_secrets({"access_token": TOKEN})
    payload = prepare(meta.PAGE_VIEW, meta.PAGE_VIEW.default_fields(), events.page(1))

    (request,) = meta.PAGE_VIEW.build(destination.config(), [payload])

    assert request.url == f"http://proxy:81/v26.0/{PIXEL}/events"


@pytest.mark.parametrize(("status", "valid"), [(200, True), (400, False)])
def test_the_connection_test_reads_the_pixel_with_the_token_as_a_bearer(
    httpserver, db, status, valid
):
    """GET /<version>/<pixel_id> records nothing; a bad token answers 400 with code 190. The
    token goes in the Authorization header, as Segment's destination sends it, not the URL."""
    answer = {"id": PIXEL} if valid else graph_error(190)
    httpserver.expect_request(f"/v26.0/{PIXEL}", method="GET").respond_with_json(
        answer, status=status
    )
    settings = {"pixel_id": PIXEL, "base_url": httpserver.url_for("/")}
    destination = create_destination("meta_conversions", "Ads", settings, {"access_token": TOKEN})

    check = check_connection(destination)

    assert check.ok is valid
    ((request, _),) = httpserver.log
    assert request.full_path == f"/v26.0/{PIXEL}?fields=id"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_the_action_source_is_website_unless_the_mapping_says_otherwise():
    """action_source is required for every event (Server Event Parameters)."""
    fields = meta.CUSTOM_EVENT.default_fields()

    assert fields["action_source"] == "website"
    payload = prepare(meta.CUSTOM_EVENT, fields | {"action_source": "app"}, events.track(1))
    assert payload["action_source"] == "app"
    with pytest.raises(PayloadInvalid, match="must be one of"):
        prepare(meta.CUSTOM_EVENT, fields | {"action_source": "web"}, events.track(1))


@pytest.mark.parametrize(
    ("preset", "event", "wanted"),
    [
        ("Purchases", events.track(event="Order Completed"), True),
        ("Purchases", events.track(), False),
        ("Products added to cart", events.track(event="Product Added"), True),
        ("Products added to cart", events.page(), False),
        ("Page views", events.page(), True),
        ("Page views", events.screen(), False),
    ],
)
def test_each_preset_takes_its_own_events_only(preset, event, wanted):
    """Segment's defaultSubscriptions; the custom event has no preset, so that an order is
    not also sent as an "Order Completed" custom event."""
    trigger = next(p.trigger for p in meta.KIND.presets if p.name == preset)

    assert triggers.matches(trigger, event) is wanted
    assert "custom_event" not in {p.action for p in meta.KIND.presets}
