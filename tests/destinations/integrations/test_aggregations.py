import pytest

from destinations import triggers
from destinations.integrations import aggregations
from destinations.integrations.base import Config, ItemResult, Outcome
from destinations.services.destinations import check_connection, create_destination
from infra.encryption import Secrets
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, deliver

API_KEY = "agg-secret-key"
INGEST_ID = "ingest-42"
HEADERS = {"x-api-token": API_KEY}


def send(httpserver, sample_events):
    return deliver(
        httpserver,
        "aggregations_io",
        "send_events",
        sample_events,
        settings={"ingest_id": INGEST_ID},
        secrets={"api_key": API_KEY},
    )


def screen(number: int = 1) -> dict:
    return events.page(number, type="screen", messageId=f"scr-{number:04d}")


def test_one_track_event_is_sent_whole_in_a_one_item_array(httpserver):
    httpserver.expect_request(f"/{INGEST_ID}").respond_with_data("", status=200)

    received, results = send(httpserver, [events.track(1)])

    assert_json_request(received[0], "POST", f"/{INGEST_ID}", [events.track(1)], HEADERS)
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_a_full_batch_of_300_goes_in_one_request(httpserver):
    httpserver.expect_request(f"/{INGEST_ID}").respond_with_data("", status=200)
    samples = [events.track(n) for n in range(1, 301)]

    received, results = send(httpserver, samples)

    assert len(received) == 1
    assert_json_request(received[0], "POST", f"/{INGEST_ID}", samples, HEADERS)
    assert results == [ItemResult(Outcome.DELIVERED)] * 300


def test_page_and_screen_events_are_sent_whole_too(httpserver):
    httpserver.expect_request(f"/{INGEST_ID}").respond_with_data("", status=200)
    samples = [events.page(1), screen(2)]

    received, _ = send(httpserver, samples)

    assert_json_request(received[0], "POST", f"/{INGEST_ID}", samples, HEADERS)


def test_a_refused_api_key_fails_every_item_as_invalid_authentication(httpserver):
    httpserver.expect_request(f"/{INGEST_ID}").respond_with_data("bad key", status=401)

    _, results = send(httpserver, [events.track(1), events.track(2)])

    assert [result.code for result in results] == ["INVALID_AUTHENTICATION"] * 2


def test_an_ingest_id_stays_one_path_segment():
    config = Config({"ingest_id": "a/b c"}, Secrets({"api_key": API_KEY}), "https://ingest.test")

    assert aggregations.ingest_url(config) == "https://ingest.test/a%2Fb%20c"


def test_there_is_no_preset_and_batches_stay_under_one_megabyte():
    action = aggregations.KIND.action("send_events")

    assert aggregations.KIND.presets == ()
    assert (action.max_batch_size, action.default_batch_size) == (300, 300)
    assert action.max_batch_bytes == 1_000_000


@pytest.mark.parametrize(
    ("event", "wanted"),
    [
        (events.track(), True),
        (events.page(), True),
        (screen(), True),
        (events.identify(), False),
        (events.page(type="group"), False),
    ],
)
def test_the_default_trigger_takes_track_page_and_screen_events_only(event, wanted):
    trigger = aggregations.KIND.action("send_events").default_trigger

    assert triggers.matches(trigger, event) is wanted


PING = "/api/v1/organization/ping-w"


@pytest.mark.parametrize(("status", "valid"), [(200, True), (401, False)])
def test_the_connection_test_pings_the_ingest_with_the_key_and_sends_no_event(
    httpserver, db, status, valid
):
    """Segment's Aggregations.io destination (action-destinations aggregations-io/index.ts,
    testAuthentication) checks a key with GET ping-w for the ingest and its array schema."""
    query = f"ingest_id={INGEST_ID}&schema=ARRAY_OF_EVENTS"
    httpserver.expect_request(PING, method="GET", query_string=query).respond_with_data(
        "{}", status=status
    )
    settings = {"ingest_id": INGEST_ID, "base_url": httpserver.url_for("/")}
    destination = create_destination("aggregations_io", "Agg", settings, {"api_key": API_KEY})

    check = check_connection(destination)

    assert check.ok is valid
    (received,) = [request for request, _ in httpserver.log]
    assert received.headers["x-api-token"] == API_KEY
    assert received.get_data() == b""


def test_the_connection_test_goes_to_the_app_host_when_the_ingest_host_is_the_default():
    """The ingest is ingest.aggregations.io, the ping app.aggregations.io (same source)."""
    config = Config(
        {"ingest_id": "a/b"}, Secrets({"api_key": API_KEY}), aggregations.KIND.default_base_url
    )

    request = aggregations.KIND.connection_test.request(config)

    assert (
        request.url == f"https://app.aggregations.io{PING}?ingest_id=a%2Fb&schema=ARRAY_OF_EVENTS"
    )
