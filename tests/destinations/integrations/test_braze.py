"""Braze's Track users endpoint, byte for byte: events, purchases, batching, user
identifiers and refusals, the instance endpoints, the connection test and the presets; user
attributes are in test_braze_profiles.py, the reading of Braze's answers in
test_braze_answers.py.

Sources: https://www.braze.com/docs/api/endpoints/user_data/post_user_track/ (request and
responses), https://www.braze.com/docs/api/api_limits/ (75 objects, 4 MB, rate-limit headers),
https://www.braze.com/docs/api/errors/ (fatal errors), and Segment's Braze destination,
packages/destination-actions/src/destinations/braze/ (utils.ts, trackPurchase/index.ts,
__tests__/multistatus.test.ts).
"""

import orjson
import pytest

from destinations import triggers
from destinations.delivery.payloads import prepare
from destinations.integrations import braze
from destinations.integrations.base import Config, Outcome
from destinations.models import Destination
from destinations.services.destinations import check_connection, create_destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.braze_harness import (
    API_KEY,
    DELIVERED,
    HEADERS,
    PATH,
    braze_event,
    built,
    order,
    purchase,
    send,
)
from tests.destinations.integrations.contract import assert_json_request


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
