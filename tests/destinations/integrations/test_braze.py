"""Braze's Track users endpoint, byte for byte.

Sources: https://www.braze.com/docs/api/endpoints/user_data/post_user_track/ (request and
responses), https://www.braze.com/docs/api/api_limits/ (75 objects, 4 MB, rate-limit headers),
https://www.braze.com/docs/api/errors/ (fatal errors), and Segment's Braze destination,
packages/destination-actions/src/destinations/braze/ (utils.ts, trackPurchase/index.ts,
__tests__/multistatus.test.ts).
"""

import time

import orjson
import pytest

from destinations import triggers
from destinations.delivery.payloads import prepare
from destinations.integrations import braze
from destinations.integrations.base import Answer, Config, ItemResult, Outcome, Request
from destinations.models import Destination
from destinations.services.destinations import check_connection, create_destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, deliver

API_KEY = "braze-rest-key-0001"
HEADERS = {"Authorization": f"Bearer {API_KEY}"}
PATH = "/users/track"
STAMP = "2026-03-01T12:00:00.000Z"
PROPERTIES = {"endpoint": "/v1/search", "value": 3, "revenue": 12.5}
DELIVERED = ItemResult(Outcome.DELIVERED)


def send(httpserver, action, sample_events, fields=None, **settings):
    return deliver(
        httpserver,
        "braze",
        action,
        sample_events,
        settings={"base_url": httpserver.url_for("/"), **settings},
        secrets={"api_key": API_KEY},
        fields=fields,
    )


def braze_event(number: int) -> dict:
    return {
        "external_id": f"user-{number}",
        "name": "API Call",
        "time": STAMP,
        "properties": PROPERTIES,
        "_update_existing_only": False,
    }


def order(number: int, products: int) -> dict:
    items = [
        {"product_id": f"sku-{number}-{n}", "price": 10.0 + n, "quantity": n, "name": f"Item {n}"}
        for n in range(1, products + 1)
    ]
    properties = {"order_id": f"ord-{number}", "currency": "EUR", "products": items}
    return events.track(number, event="Order Completed", properties=properties)


def purchase(number: int, n: int) -> dict:
    return {
        "external_id": f"user-{number}",
        "time": STAMP,
        "product_id": f"sku-{number}-{n}",
        "currency": "EUR",
        "price": 10.0 + n,
        "quantity": n,
        "properties": {"name": f"Item {n}", "order_id": f"ord-{number}", "currency": "EUR"},
        "_update_existing_only": False,
    }


def built(action, event, fields=None, **settings) -> list[Request]:
    config = Config(settings, Secrets({"api_key": API_KEY}), "")
    payload = prepare(action, fields or action.default_fields(), event)
    return action.build(config, [payload])


def refused(index: int, array: str, message: str) -> ItemResult:
    return ItemResult(Outcome.FAILED, "BAD_REQUEST", f"Braze refused {array}[{index}]: {message}")


def test_a_track_event_becomes_one_braze_event_object(httpserver):
    httpserver.expect_request(PATH).respond_with_json({"message": "success"}, status=201)

    received, results = send(httpserver, "track_event", [events.track(1)])

    assert_json_request(received[0], "POST", PATH, {"events": [braze_event(1)]}, HEADERS)
    assert results == [DELIVERED]


def test_a_full_batch_of_75_events_goes_in_one_request(httpserver):
    """Up to 75 event objects per request (Braze API limits, Batching User Track requests)."""
    httpserver.expect_request(PATH).respond_with_json({"message": "success"}, status=201)

    received, results = send(httpserver, "track_event", [events.track(n) for n in range(75)])

    assert len(received) == 1
    body = {"events": [braze_event(n) for n in range(75)]}
    assert_json_request(received[0], "POST", PATH, body, HEADERS)
    assert results == [DELIVERED] * 75


def test_every_action_batches_75_objects_by_default_and_at_most():
    for action in braze.KIND.actions:
        assert (action.batching, action.default_batch_size, action.max_batch_size) == (
            True,
            75,
            75,
        )


def test_the_app_id_setting_goes_with_events_and_purchases():
    event_body = orjson.loads(built(braze.TRACK_EVENT, events.track(1), app_id="app-7")[0].body)
    order_body = orjson.loads(built(braze.TRACK_PURCHASE, order(1, 1), app_id="app-7")[0].body)

    assert event_body["events"][0]["app_id"] == "app-7"
    assert order_body["purchases"][0]["app_id"] == "app-7"


def test_an_order_becomes_one_purchase_per_product(httpserver):
    """Segment's trackPurchase splits `products`: the product's other keys and the event's
    properties (without products) are the purchase's properties (utils.ts,
    sendBatchedTrackPurchase)."""
    httpserver.expect_request(PATH).respond_with_json({"message": "success"}, status=201)

    received, results = send(httpserver, "track_purchase", [order(1, 2)])

    body = {"purchases": [purchase(1, 1), purchase(1, 2)]}
    assert_json_request(received[0], "POST", PATH, body, HEADERS)
    assert results == [DELIVERED]


def test_a_product_without_a_currency_takes_the_orders_then_usd():
    plain = order(1, 1)
    plain["properties"].pop("currency")
    own = order(2, 1)
    own["properties"]["products"][0]["currency"] = "JPY"

    currencies = [
        orjson.loads(built(braze.TRACK_PURCHASE, sample)[0].body)["purchases"][0]["currency"]
        for sample in (order(3, 1), plain, own)
    ]

    assert currencies == ["EUR", "USD", "JPY"]


def test_purchases_count_against_the_75_objects_so_orders_split_between_requests(httpserver):
    """The limit counts objects of the purchases array, not events (Braze API limits); an
    order's purchases always go in one request."""
    httpserver.expect_request(PATH).respond_with_json({"message": "success"}, status=201)

    orders = [order(1, 40), order(2, 35), order(3, 1)]

    received, results = send(httpserver, "track_purchase", orders)

    sizes = [len(request.get_json()["purchases"]) for request in received]
    assert sizes == [75, 1]
    firsts = [request.get_json()["purchases"][0]["product_id"] for request in received]
    assert firsts == ["sku-1-1", "sku-3-1"]
    assert results == [DELIVERED] * 3


def test_a_purchase_braze_refuses_fails_only_the_order_it_came_from(httpserver):
    """A 201 with errors drops only the objects named by their index in input_array
    (Track users, "Successful message with non-fatal errors"); the index counts purchases, so
    it maps back to the order of that purchase."""
    answer = {
        "message": "success",
        "errors": [{"type": "Invalid price", "input_array": "purchases", "index": 2}],
    }
    httpserver.expect_request(PATH).respond_with_json(answer, status=201)

    _, results = send(httpserver, "track_purchase", [order(1, 2), order(2, 1), order(3, 2)])

    assert results == [
        DELIVERED,
        refused(2, "purchases", "Invalid price"),
        DELIVERED,
    ]


def test_events_braze_refuses_in_a_201_fail_alone(httpserver):
    """Segment's multistatus test: 201, errors [{type, input_array: events, index: 1}]."""
    answer = {
        "events_processed": 2,
        "message": "success",
        "errors": [{"type": "a test error occurred", "input_array": "events", "index": 1}],
    }
    httpserver.expect_request(PATH).respond_with_json(answer, status=201)

    _, results = send(httpserver, "track_event", [events.track(n) for n in (1, 2, 3)])

    assert results == [
        DELIVERED,
        refused(1, "events", "a test error occurred"),
        DELIVERED,
    ]


def test_a_400_that_names_objects_fails_them_and_sends_the_others_again_at_once(httpserver):
    """A fatal error records nothing (Braze API errors, "Fatal errors"): the objects it names
    fail, the others go again without waiting and without splitting the batch."""
    answer = {
        "message": "Valid data must be provided in the 'attributes', 'events', or 'purchases'.",
        "errors": [{"type": "bad time", "input_array": "events", "index": 0}],
    }
    httpserver.expect_request(PATH).respond_with_json(answer, status=400)

    received, results = send(httpserver, "track_event", [events.track(1), events.track(2)])

    assert len(received) == 1
    assert results[0] == refused(0, "events", "bad time")
    assert (results[1].outcome, results[1].retry_after) == (Outcome.RETRY, 0)


def test_a_400_that_names_no_object_splits_the_batch_to_find_the_bad_ones(httpserver):
    httpserver.expect_request(PATH).respond_with_json({"message": "Bad Request"}, status=400)

    received, results = send(httpserver, "track_event", [events.track(1), events.track(2)])

    assert len(received) == 3  # the batch, then each half
    assert [result.outcome for result in results[-2:]] == [Outcome.FAILED, Outcome.FAILED]


def test_a_429_waits_until_brazes_rate_limit_window_resets(httpserver):
    """X-RateLimit-Reset is the UTC epoch second the window resets (Braze API limits,
    "Monitoring your rate limits")."""
    reset = int(time.time()) + 30
    httpserver.expect_request(PATH).respond_with_json(
        {"message": "Rate limit exceeded"}, status=429, headers={"X-RateLimit-Reset": str(reset)}
    )

    _, results = send(httpserver, "track_event", [events.track(1), events.track(2)])

    assert [(r.outcome, r.code) for r in results] == [(Outcome.RETRY, "TOO_MANY_REQUESTS")] * 2
    assert 27 <= results[0].retry_after <= 30


def test_a_429_with_retry_after_waits_that_long(httpserver):
    httpserver.expect_request(PATH).respond_with_data(
        "", status=429, headers={"Retry-After": "12", "X-RateLimit-Reset": "1"}
    )

    _, results = send(httpserver, "track_event", [events.track(1)])

    assert (results[0].outcome, results[0].retry_after) == (Outcome.RETRY, 12)


@pytest.mark.parametrize("reset", ["", "soon", "nan", "inf"])
def test_a_429_without_a_usable_reset_is_left_to_the_generic_rules(reset):
    answer = Answer(429, {"x-ratelimit-reset": reset}, b"")

    assert braze.TRACK_EVENT.read_error(answer) is None


def test_a_user_profile_becomes_one_attributes_object(httpserver):
    """Standard attributes by Braze's names, custom ones beside them (Track users, user
    attributes object); Segment's firstName, lastName and avatar traits are not sent again as
    custom attributes (Segment's utils.ts, updateBatchedUserProfile)."""
    httpserver.expect_request(PATH).respond_with_json({"message": "success"}, status=201)
    traits = {
        "email": "ada@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "avatar": "https://example.com/ada.png",
        "gender": "Female",
        "plan": "pro",
        "address": {"city": "London"},
    }
    location = {"country": "GB", "latitude": 51.5, "longitude": -0.12}
    sample = events.identify(1, traits=traits, context={**events.CONTEXT, "location": location})

    received, results = send(httpserver, "update_user_profile", [sample])

    attributes = {
        "plan": "pro",
        "address": {"city": "London"},
        "external_id": "user-1",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "gender": "F",
        "country": "GB",
        "home_city": "London",
        "image_url": "https://example.com/ada.png",
        "current_location": {"latitude": 51.5, "longitude": -0.12},
        "_update_existing_only": False,
    }
    assert_json_request(received[0], "POST", PATH, {"attributes": [attributes]}, HEADERS)
    assert results == [DELIVERED]


@pytest.mark.parametrize(
    ("gender", "code"),
    [("male", "M"), ("Woman", "F"), ("other", "O"), ("not applicable", "N"), ("P", "P")],
)
def test_gender_words_become_brazes_codes(gender, code):
    sample = events.identify(traits={"gender": gender})

    body = orjson.loads(built(braze.UPDATE_USER_PROFILE, sample)[0].body)

    assert body["attributes"][0]["gender"] == code


def test_a_date_of_birth_is_sent_as_a_date():
    """dob: "YYYY-MM-DD" (user attributes object)."""
    fields = braze.UPDATE_USER_PROFILE.default_fields() | {"dob": {"@path": "$.traits.birthday"}}
    sample = events.identify(traits={"birthday": "1815-12-10T00:00:00Z"})

    body = orjson.loads(built(braze.UPDATE_USER_PROFILE, sample, fields)[0].body)

    assert body["attributes"][0]["dob"] == "1815-12-10"


def test_update_existing_only_goes_as_the_mapping_says():
    """_update_existing_only: false lets Braze create the user (alias-only users need it)."""
    fields = braze.TRACK_EVENT.default_fields() | {"_update_existing_only": True}

    body = orjson.loads(built(braze.TRACK_EVENT, events.track(), fields)[0].body)

    assert body["events"][0]["_update_existing_only"] is True


def test_a_user_alias_counts_only_with_its_name_and_label():
    alias = {"alias_name": "device-1", "alias_label": "device_id", "extra": 1}
    fields = braze.TRACK_EVENT.default_fields() | {"user_alias": alias, "external_id": None}
    half = fields | {"user_alias": {"alias_name": "device-1"}}

    body = orjson.loads(built(braze.TRACK_EVENT, events.track(), fields)[0].body)

    assert body["events"][0]["user_alias"] == {"alias_name": "device-1", "alias_label": "device_id"}
    assert built(braze.TRACK_EVENT, events.track(), half) == []


def test_an_event_with_no_user_identifier_fails_alone_and_is_not_sent(httpserver):
    """One of external_id, user_alias, braze_id, email or phone is required (Track users)."""
    httpserver.expect_request(PATH).respond_with_json({"message": "success"}, status=201)
    anonymous = events.track(2, userId=None)

    received, results = send(httpserver, "track_event", [events.track(1), anonymous])

    assert [item["external_id"] for item in received[0].get_json()["events"]] == ["user-1"]
    assert results[0] == DELIVERED
    assert (results[1].outcome, results[1].code) == (Outcome.FAILED, "PAYLOAD_VALIDATION_FAILED")


@pytest.mark.parametrize(
    ("products", "code"),
    [
        ([], "PAYLOAD_VALIDATION_FAILED"),
        (["sku-1"], "PAYLOAD_VALIDATION_FAILED"),
        ([{"price": 1}], "PAYLOAD_VALIDATION_FAILED"),
        ([{"product_id": f"sku-{n}"} for n in range(76)], "PAYLOAD_TOO_LARGE"),
    ],
)
def test_an_order_braze_could_not_take_fails_alone(products, code):
    payload = prepare(
        braze.TRACK_PURCHASE,
        braze.TRACK_PURCHASE.default_fields(),
        events.track(event="Order Completed", properties={"products": products}),
    )

    assert braze.TRACK_PURCHASE.refuse(payload).code == code
    assert braze.TRACK_PURCHASE.build(Config({}, Secrets({"api_key": "k"}), ""), [payload]) == []


@pytest.mark.parametrize("body", [b"", b"null", b"[]", b'{"errors": "x"}', b"\xff"])
def test_an_answer_without_an_errors_list_is_judged_whole(body):
    for status in (201, 400):
        assert braze.TRACK_EVENT.read_response(Answer(status, {}, body), 2) is None


def test_errors_that_name_no_object_of_the_request_are_ignored():
    errors = [1, None, {"index": "1"}, {"index": 9}, {"index": -1}, {"index": True}]
    body = orjson.dumps({"message": "success", "errors": errors})

    assert braze.TRACK_EVENT.read_response(Answer(201, {}, body), 2) == [DELIVERED] * 2
    assert braze.TRACK_EVENT.read_response(Answer(400, {}, body), 2) is None


def test_errors_about_another_array_are_not_this_requests():
    body = orjson.dumps({"errors": [{"type": "x", "input_array": "purchases", "index": 0}]})

    assert braze.TRACK_EVENT.read_response(Answer(201, {}, body), 1) == [DELIVERED]


def track_url(settings: dict) -> str:
    """Where requests go for these settings, resolved as a saved destination resolves them."""
    return braze.track_url(Destination(kind="braze", settings=settings).config())


def test_requests_go_to_the_us_01_instance_by_default():
    assert track_url({}) == "https://rest.iad-01.braze.com/users/track"


@pytest.mark.parametrize(
    "endpoint", ["https://rest.fra-02.braze.eu", "https://rest.au-01.braze.com"]
)
def test_the_endpoint_setting_picks_the_instance(endpoint):
    assert track_url({"endpoint": endpoint}) == f"{endpoint}/users/track"


def test_a_base_url_someone_typed_wins_over_the_endpoint():
    settings = {"endpoint": "https://rest.fra-01.braze.eu", "base_url": "http://proxy:8080/"}

    assert track_url(settings) == "http://proxy:8080/users/track"


def test_the_endpoint_setting_chooses_the_host():
    endpoint = next(s for s in braze.KIND.settings if s.key == "endpoint")

    assert endpoint.chooses_host
    assert "https://rest.kr-01.braze.com" in endpoint.choices


@pytest.mark.parametrize(("status", "valid"), [(400, True), (201, True), (401, False)])
def test_the_connection_test_sends_an_empty_track_call(httpserver, db, status, valid):
    """Braze answers an unknown key with 401 and a known one's empty body with 400 (Braze API
    errors, "Fatal errors"); the empty call records nothing."""
    httpserver.expect_request(PATH, method="POST", data=b"{}").respond_with_json(
        {"message": "x"}, status=status
    )
    destination = create_destination(
        "braze", "Engagement", {"base_url": httpserver.url_for("/")}, {"api_key": API_KEY}
    )

    check = check_connection(destination)

    assert check.ok is valid
    assert httpserver.log[0][0].headers["Authorization"] == HEADERS["Authorization"]


@pytest.mark.parametrize(
    ("preset", "sample", "wanted"),
    [
        ("Track calls", events.track(), True),
        ("Track calls", events.track(event="Order Completed"), False),
        ("Order completed calls", events.track(event="Order Completed"), True),
        ("Order completed calls", events.identify(), False),
        ("Identify calls", events.identify(), True),
        ("Identify calls", events.track(), False),
    ],
)
def test_each_preset_takes_its_own_events_only(preset, sample, wanted):
    """An Order Completed goes as purchases, not also as a custom event (Segment's Braze
    trackEvent defaultSubscription)."""
    trigger = next(p.trigger for p in braze.KIND.presets if p.name == preset)

    assert triggers.matches(trigger, sample) is wanted
