import pytest

from destinations.integrations.base import ItemResult, Outcome
from tests.destinations import events
from tests.destinations.integrations.contract import assert_json_request, deliver

TOKEN = "mtr-secret-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def metronome_event(number: int) -> dict:
    return {
        "transaction_id": f"msg-{number:04d}",
        "customer_id": "acme-inc",
        "timestamp": "2026-03-01T12:00:00.000Z",
        "event_type": "API Call",
        "properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
    }


def send(httpserver, sample_events):
    return deliver(
        httpserver, "metronome", "send_event", sample_events, secrets={"api_token": TOKEN}
    )


def test_one_track_event_becomes_a_one_item_ingest_array(httpserver):
    httpserver.expect_request("/v1/ingest").respond_with_data("", status=200)

    received, results = send(httpserver, [events.track(1)])

    assert_json_request(received[0], "POST", "/v1/ingest", [metronome_event(1)], HEADERS)
    assert results == [ItemResult(Outcome.DELIVERED)]


def test_a_full_batch_of_100_goes_in_one_request(httpserver):
    httpserver.expect_request("/v1/ingest").respond_with_data("", status=200)

    received, results = send(httpserver, [events.track(n) for n in range(1, 101)])

    assert len(received) == 1
    body = [metronome_event(n) for n in range(1, 101)]
    assert_json_request(received[0], "POST", "/v1/ingest", body, HEADERS)
    assert results == [ItemResult(Outcome.DELIVERED)] * 100


def test_epoch_and_offset_timestamps_are_sent_as_rfc3339_utc_milliseconds(httpserver):
    httpserver.expect_request("/v1/ingest").respond_with_data("", status=200)
    samples = [
        events.track(1, timestamp=1767225600123),
        events.track(2, timestamp="2026-01-01T02:00:00+02:00"),
    ]

    received, _ = send(httpserver, samples)

    stamps = [item["timestamp"] for item in received[0].get_json()]
    assert stamps == ["2026-01-01T00:00:00.123Z", "2026-01-01T00:00:00.000Z"]


@pytest.mark.parametrize(("status", "valid"), [(400, True), (403, False)])
def test_the_connection_test_reads_400_as_a_valid_token(httpserver, db, status, valid):
    from destinations.services.destinations import check_connection, create_destination

    httpserver.expect_request("/v1/ingest", method="POST", json=[]).respond_with_data(
        "", status=status
    )
    destination = create_destination(
        "metronome", "Billing", {"base_url": httpserver.url_for("/")}, {"api_token": TOKEN}
    )

    check = check_connection(destination)

    assert check.ok is valid
    assert httpserver.log[0][0].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("properties", [{}, {"properties": None}])
def test_a_track_without_properties_is_sent_without_the_key(httpserver, properties):
    """properties is optional in Metronome's ingest API (docs.metronome.com/api-reference/
    usage/ingest-events; their Ruby SDK's Usage has `properties: nil`), and Segment's
    metronome sendEvent sends its payload as is, so an absent field is an absent key."""
    httpserver.expect_request("/v1/ingest").respond_with_data("", status=200)
    event = {k: v for k, v in events.track(1).items() if k != "properties"} | properties

    received, results = send(httpserver, [event])

    item = {k: v for k, v in metronome_event(1).items() if k != "properties"}
    assert_json_request(received[0], "POST", "/v1/ingest", [item], HEADERS)
    assert results == [ItemResult(Outcome.DELIVERED)]
