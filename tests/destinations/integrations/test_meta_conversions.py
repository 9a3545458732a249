"""Meta Conversions API.

Sources: Meta's Conversions API pages (developers.facebook.com/docs/marketing-api/
conversions-api/using-the-api, .../parameters/customer-information-parameters,
.../parameters/server-event, .../parameters/custom-data), the Graph API's error handling
and rate limiting guides (developers.facebook.com/docs/graph-api/guides/error-handling,
.../graph-api/overview/rate-limiting), Meta's Business SDK for Python
(facebook_business/adobjects/serverside/normalize.py and user_data.py), and Segment's
packages/destination-actions/src/destinations/facebook-conversions-api (shared/functions.ts,
shared/fields.ts).
"""

import hashlib

import orjson
import pytest
from werkzeug import Response

from destinations import triggers
from destinations.admin.forms import destination_form
from destinations.delivery.payloads import PayloadInvalid, prepare
from destinations.delivery.transport import send_batch
from destinations.integrations import meta_conversions as meta
from destinations.integrations import meta_conversions_rules as rules
from destinations.integrations.base import Answer, Config, ItemResult, Outcome
from destinations.models import Destination
from destinations.services.destinations import check_connection, create_destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.events import CONTEXT
from tests.destinations.integrations.contract import assert_json_request, config_for, deliver

PIXEL = "1234567890"
TOKEN = "EAAB-meta-token"
PATH = f"/v26.0/{PIXEL}/events"
# 2026-03-01T12:00:00.000Z, the samples' timestamp, in seconds.
EVENT_TIME = 1_772_366_400
DELIVERED = ItemResult(Outcome.DELIVERED)
ACCEPTED = {"events_received": 1, "messages": [], "fbtrace_id": "AbC"}
USER_AGENT = "Mozilla/5.0 (Macintosh)"
SHOPPER = {
    "email": " Person@Example.com ",
    "phone": "+44 844 412 4653",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "address": {"city": "Menlo Park", "state": "CA", "postalCode": "94025-1234", "country": "US"},
}
SHOP_CONTEXT = {
    **CONTEXT,
    "traits": SHOPPER,
    "userAgent": USER_AGENT,
    "page": {"url": "https://shop.example/checkout"},
}
ORDER = {
    "order_id": "o-1",
    "currency": "EUR",
    "revenue": 20,
    "products": [{"product_id": "p-1", "price": 10, "quantity": 2}],
}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def send(httpserver, action, sample_events, fields=None, settings=None):
    return deliver(
        httpserver,
        "meta_conversions",
        action,
        sample_events,
        settings={"pixel_id": PIXEL, **(settings or {})},
        secrets={"access_token": TOKEN},
        fields=fields,
    )


def verdicts(httpserver, action, sample_events) -> list[ItemResult]:
    """The last verdict on each event, in the events' order, as the dispatcher keeps it."""
    config = config_for(httpserver, {"pixel_id": PIXEL}, {"access_token": TOKEN})
    spec = meta.KIND.action(action)
    payloads = [prepare(spec, spec.default_fields(), event) for event in sample_events]
    last = {}
    for item in send_batch(spec, config, payloads):
        last |= dict(zip(item.request.items, item.results, strict=True))
    return [last[index] for index in range(len(payloads))]


def graph(httpserver, answer=None, status=200, headers=None):
    httpserver.expect_request(PATH, method="POST").respond_with_json(
        answer or ACCEPTED, status=status, headers=headers
    )


def graph_error(code: int, message: str = "error", subcode: int | None = None) -> dict:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Xyz"}
    return {"error": error | ({"error_subcode": subcode} if subcode else {})}


def base_event(name: str, number: int = 1, user: str = "user-1") -> dict:
    return {
        "event_name": name,
        "event_time": EVENT_TIME,
        "event_id": f"msg-{number:04d}",
        "action_source": "website",
        "user_data": {"external_id": sha256(user), "client_ip_address": "203.0.113.7"},
    }


def request_body(data: list[dict]) -> dict:
    return {"data": data, "access_token": TOKEN}


def built(action, event: dict, fields: dict | None = None, settings: dict | None = None):
    config = Config({"pixel_id": PIXEL, **(settings or {})}, Secrets({"access_token": TOKEN}), "")
    payload = prepare(action, fields or action.default_fields(), event)
    return action.build(config, [payload])


def user_data_of(event: dict) -> dict:
    (request,) = built(meta.PAGE_VIEW, event)
    return orjson.loads(request.body)["data"][0]["user_data"]


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


@pytest.mark.parametrize(
    ("traits", "key", "hashed_text"),
    [
        ({"email": "\tAda@Example.COM "}, "em", "ada@example.com"),
        ({"phone": "+1 (650) 555-1212"}, "ph", "16505551212"),
        ({"phone": "0044 844 412 4653"}, "ph", "448444124653"),
        ({"firstName": " Ada "}, "fn", "ada"),
        ({"lastName": "LOVELACE"}, "ln", "lovelace"),
        ({"gender": "Female"}, "ge", "f"),
        ({"gender": "m"}, "ge", "m"),
        ({"birthday": "1815-12-10"}, "db", "18151210"),
        ({"birthday": "1815-12-10T00:00:00.000Z"}, "db", "18151210"),
        ({"address": {"city": "St. Louis"}}, "ct", "stlouis"),
        ({"address": {"state": "N.Y."}}, "st", "ny"),
        ({"address": {"postalCode": "SW1A 1AA"}}, "zp", "sw1a1aa"),
        ({"address": {"country": "GB "}}, "country", "gb"),
    ],
)
def test_customer_information_is_normalized_before_hashing(traits, key, hashed_text):
    """Customer information parameters: em trimmed and lower-cased; ph digits only with the
    country code and no leading zeros; fn, ln lower-case; ge f or m; db YYYYMMDD; ct and st
    without spaces or punctuation (Meta's SDK drops digits, spaces, dots, dashes and
    brackets); zp without spaces, a ZIP+4 cut at the dash; country the 2-letter code."""
    user_data = user_data_of(events.page(1, context={**CONTEXT, "traits": traits}))

    assert user_data[key] == sha256(hashed_text)


def test_the_external_id_is_hashed_as_segment_hashes_it():
    """Meta recommends hashing external_id; Segment hashes it trimmed and lower-cased, so
    matching carries over from a Segment setup."""
    assert user_data_of(events.page(1, anonymousId=" Anon-1 "))["external_id"] == sha256("anon-1")


def test_a_value_that_already_is_a_sha256_digest_is_not_hashed_again():
    digest = sha256("person@example.com")
    traits = {"email": digest.upper(), "phone": digest}

    user_data = user_data_of(events.page(1, context={**CONTEXT, "traits": traits}))

    assert (user_data["em"], user_data["ph"]) == (digest, digest)


def test_values_that_normalize_to_nothing_are_left_out():
    traits = {"gender": "unknown", "phone": "n/a", "email": "  "}

    user_data = user_data_of(events.page(1, context={**CONTEXT, "traits": traits}))

    assert set(user_data) == {"external_id", "client_ip_address"}


def test_the_browser_identifiers_go_unhashed():
    """client_ip_address, client_user_agent, fbc and fbp: "Do not hash"."""
    page = events.page(
        1,
        context={**CONTEXT, "userAgent": USER_AGENT},
        properties={"fbc": "fb.1.1554763741205.AbCd", "fbp": "fb.1.1558571054389.1098115397"},
    )

    user_data = user_data_of(page)

    assert user_data["client_user_agent"] == USER_AGENT
    assert (user_data["fbc"], user_data["fbp"]) == (
        "fb.1.1554763741205.AbCd",
        "fb.1.1558571054389.1098115397",
    )


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


def test_an_error_naming_one_event_fails_it_and_retries_the_others_at_once(httpserver):
    """A parameter error names the event as $['data'][i] (seen in Meta's SDK issue #258:
    'Unexpected key "advertiser_tracking_enabled" on param "$['data'][0]"'); Meta processed
    none of the request, so the other events go again at once, without splitting."""
    message = 'Unexpected key "x" on param "$[\'data\'][1]".'
    graph(httpserver, graph_error(100, message, 2804019), status=400)

    received, results = send(httpserver, "page_view", [events.page(n) for n in (1, 2, 3)])

    assert len(received) == 1
    assert results[1].outcome is Outcome.FAILED
    assert results[1].code == "INVALID_PARAMETER"
    assert "Meta error 100/2804019" in results[1].message and "fbtrace_id Xyz" in results[1].message
    retried = ItemResult(Outcome.RETRY, "BATCH_REFUSED", "another event was invalid", 0)
    assert results[0] == results[2] == retried


def test_an_invalid_parameter_error_naming_no_event_splits_the_batch_to_find_it(httpserver):
    """Other parameter errors name no event ("The timestamp for this event is too far in the
    past" refuses the whole request): the generic rule splits the batch until the bad event
    stands alone and fails with Meta's message."""

    def answer(request):
        data = orjson.loads(request.get_data())["data"]
        if any(event["event_id"] == "pg-0002" for event in data):
            error = graph_error(100, "Invalid parameter", 2804003)
            error["error"]["error_user_msg"] = (
                "The timestamp for this event is too far in the past."
            )
            return Response(orjson.dumps(error), status=400, content_type="application/json")
        return Response(orjson.dumps(ACCEPTED), status=200, content_type="application/json")

    httpserver.expect_request(PATH, method="POST").respond_with_handler(answer)

    results = verdicts(httpserver, "page_view", [events.page(n) for n in (1, 2, 3, 4)])

    assert len(httpserver.log) == 5  # the batch, its halves, and the bad half's halves
    assert [r.outcome for r in results] == [
        Outcome.DELIVERED,
        Outcome.FAILED,
        Outcome.DELIVERED,
        Outcome.DELIVERED,
    ]
    assert results[1].code == "INVALID_PARAMETER"
    assert "too far in the past" in results[1].message


@pytest.mark.parametrize("code", [4, 17, 32, 613])
def test_rate_limit_codes_are_retried_when_meta_says_access_returns(httpserver, code):
    """Codes 4, 17, 32 and 613 are throttling; X-Business-Use-Case-Usage gives
    estimated_time_to_regain_access in minutes. A batch refused so is not split."""
    usage = {
        "987": [{"type": "ads_management", "call_count": 100, "estimated_time_to_regain_access": 5}]
    }
    headers = {"X-Business-Use-Case-Usage": orjson.dumps(usage).decode()}
    graph(httpserver, graph_error(code, "(#4) Application request limit reached"), 400, headers)

    received, results = send(httpserver, "page_view", [events.page(1), events.page(2)])

    assert len(received) == 1
    assert [(r.outcome, r.code, r.retry_after) for r in results] == [
        (Outcome.RETRY, "TOO_MANY_REQUESTS", 300.0)
    ] * 2


def test_a_rate_limit_without_a_usage_header_is_retried_with_the_usual_backoff():
    result = rules.read_error(Answer(400, {}, orjson.dumps(graph_error(17))))

    assert (result.outcome, result.code, result.retry_after) == (
        Outcome.RETRY,
        "TOO_MANY_REQUESTS",
        None,
    )


def test_a_plain_429_is_retried_after_its_retry_after(httpserver):
    httpserver.expect_request(PATH).respond_with_data("", status=429, headers={"Retry-After": "7"})

    _, results = send(httpserver, "page_view", [events.page(1)])

    assert (results[0].outcome, results[0].retry_after) == (Outcome.RETRY, 7.0)


def test_a_bad_token_fails_every_event_as_authentication_without_splitting(httpserver):
    """Code 190: the access token is invalid or expired; get a new one."""
    graph(httpserver, graph_error(190, "Invalid OAuth access token.", 463), status=400)

    received, results = send(httpserver, "page_view", [events.page(1), events.page(2)])

    assert len(received) == 1
    assert [(r.outcome, r.code) for r in results] == [
        (Outcome.FAILED, "INVALID_AUTHENTICATION")
    ] * 2
    assert TOKEN not in results[0].message


@pytest.mark.parametrize(
    ("error", "outcome", "code"),
    [
        (graph_error(100, "Invalid parameter"), Outcome.FAILED, "INVALID_PARAMETER"),
        (graph_error(2, "Service temporarily unavailable"), Outcome.RETRY, "SERVICE_UNAVAILABLE"),
        (
            graph_error(9999) | {"error": {"code": 9999, "is_transient": True}},
            Outcome.RETRY,
            "SERVICE_UNAVAILABLE",
        ),
        (graph_error(10, "Permission denied"), Outcome.FAILED, "INVALID_AUTHENTICATION"),
        (graph_error(200, "Permissions error"), Outcome.FAILED, "INVALID_AUTHENTICATION"),
    ],
)
def test_graph_errors_are_read_by_their_code(error, outcome, code):
    """Graph API error handling guide: 1 and 2 are transient, 10 and 200-299 permissions,
    100 an invalid parameter; is_transient marks any other passing error."""
    result = rules.read_error(Answer(400, {}, orjson.dumps(error)))

    assert (result.outcome, result.code) == (outcome, code)


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>", b"[]", b'{"error": "x"}', b'{"error": {"code": "4"}}', b'{"error": {}}'],
)
def test_an_answer_that_is_not_a_graph_error_is_left_to_the_generic_rules(body):
    answer = Answer(400, {"x-business-use-case-usage": "not json"}, body)

    assert rules.read_error(answer) is None
    assert rules.read_response(answer, 3) is None


def test_an_unknown_graph_error_code_is_left_to_the_generic_rules():
    answer = Answer(400, {}, orjson.dumps(graph_error(12345)))

    assert rules.read_error(answer) is None
    assert rules.read_response(answer, 2) is None


@pytest.mark.parametrize(
    "usage",
    [
        "[]",
        '{"1": "x"}',
        '{"1": [{"estimated_time_to_regain_access": "5"}]}',
        '{"1": [{"estimated_time_to_regain_access": true}]}',
        '{"1": [{"estimated_time_to_regain_access": -3}], "2": [7]}',
        '{"1": [{"estimated_time_to_regain_access": 1e30}]}',
    ],
)
def test_a_strange_usage_header_never_breaks_the_reading(usage):
    answer = Answer(400, {"x-business-use-case-usage": usage}, orjson.dumps(graph_error(4)))

    result = rules.read_error(answer)

    assert result.outcome is Outcome.RETRY
    assert result.retry_after is None or 0 <= result.retry_after <= 24 * 3600


def test_a_2xx_answer_delivers_every_event():
    assert rules.read_response(Answer(200, {}, orjson.dumps(ACCEPTED)), 2) is None


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
