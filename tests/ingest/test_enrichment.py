import uuid
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from ingest.models import Event

TRACK = {"userId": "u1", "event": "Signed Up"}


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_message_id_is_generated_when_absent(api):
    api.post("/v1/track", json=TRACK)

    event = Event.objects.get()
    assert uuid.UUID(event.message_id)
    assert event.payload["messageId"] == event.message_id


def test_received_at_is_the_server_time_in_utc_with_milliseconds(api):
    before = timezone.now()
    api.post("/v1/track", json=TRACK)
    after = timezone.now()

    event = Event.objects.get()
    received = event.payload["receivedAt"]
    assert received.endswith("Z") and len(received) == len("2024-01-01T00:00:00.000Z")
    assert before - timedelta(milliseconds=1) <= parse(received) <= after
    assert abs(event.received_at - parse(received)) < timedelta(milliseconds=1)


def test_clock_skew_is_corrected_from_sent_at(api):
    # The device clock runs one hour fast: it stamped the event 10 s before it sent it.
    device_now = timezone.now() + timedelta(hours=1)
    original = device_now - timedelta(seconds=10)
    body = TRACK | {"timestamp": iso(original), "sentAt": iso(device_now)}

    api.post("/v1/track", json=body)

    payload = Event.objects.get().payload
    received = parse(payload["receivedAt"])
    assert parse(payload["timestamp"]) == received - timedelta(seconds=10)
    assert payload["originalTimestamp"] == iso(original)
    assert payload["sentAt"] == iso(device_now)


def test_the_envelope_sent_at_corrects_the_skew_of_every_batch_item(api):
    device_now = timezone.now() - timedelta(days=2)
    items = [
        TRACK | {"type": "track", "timestamp": iso(device_now - timedelta(seconds=s))}
        for s in (5, 30)
    ]

    api.post("/v1/batch", json={"batch": items, "sentAt": iso(device_now)})

    for event in Event.objects.all():
        payload = event.payload
        skew = parse(payload["sentAt"]) - parse(payload["originalTimestamp"])
        assert parse(payload["timestamp"]) == parse(payload["receivedAt"]) - skew
        assert event.timestamp == parse(payload["timestamp"])


def test_without_sent_at_the_timestamp_is_the_original_one(api):
    api.post("/v1/track", json=TRACK | {"timestamp": "2024-05-01T10:00:00+02:00"})

    payload = Event.objects.get().payload
    assert payload["timestamp"] == payload["originalTimestamp"] == "2024-05-01T08:00:00.000Z"


def test_original_timestamp_is_read_when_timestamp_is_absent(api):
    api.post("/v1/track", json=TRACK | {"originalTimestamp": "2024-05-01T08:00:00.123456Z"})

    assert Event.objects.get().payload["timestamp"] == "2024-05-01T08:00:00.123Z"


def test_without_any_timestamp_it_is_the_received_time(api):
    api.post("/v1/track", json=TRACK)

    payload = Event.objects.get().payload
    assert payload["timestamp"] == payload["receivedAt"]
    assert "originalTimestamp" not in payload


def test_an_unparsable_timestamp_is_replaced_by_the_received_time(api):
    api.post("/v1/track", json=TRACK | {"timestamp": "yesterday", "sentAt": 12})

    payload = Event.objects.get().payload
    assert payload["timestamp"] == payload["receivedAt"]
    assert "sentAt" not in payload


def test_the_client_address_becomes_context_ip(api):
    api.post("/v1/track", json=TRACK)

    assert Event.objects.get().payload["context"]["ip"] == "127.0.0.1"


def test_a_context_ip_sent_by_the_client_is_kept(api):
    api.post("/v1/track", json=TRACK | {"context": {"ip": "203.0.113.9"}})

    assert Event.objects.get().payload["context"]["ip"] == "203.0.113.9"


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(api):
    api.post("/v1/track", json=TRACK, headers={"X-Forwarded-For": "198.51.100.7"})

    assert Event.objects.get().payload["context"]["ip"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("203.0.113.1, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
        ("not-an-ip", "127.0.0.1"),
    ],
)
def test_x_forwarded_for_names_the_client_behind_a_trusted_proxy(
    api, settings, forwarded, expected
):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]

    api.post("/v1/track", json=TRACK, headers={"X-Forwarded-For": forwarded})

    assert Event.objects.get().payload["context"]["ip"] == expected


def test_unknown_top_level_keys_are_kept(api):
    extra = {"_metadata": {"bundled": ["Segment.io"]}, "channel": "server", "version": 2}

    api.post("/v1/track", json=TRACK | extra)

    payload = Event.objects.get().payload
    assert {key: payload[key] for key in extra} == extra


def test_the_batch_envelope_context_and_integrations_merge_into_each_item(api):
    envelope = {
        "context": {"library": {"name": "analytics-ruby", "version": "2"}, "app": "shop"},
        "integrations": {"All": False, "Metronome": True},
    }
    items = [
        TRACK | {"type": "track", "messageId": "plain"},
        TRACK
        | {
            "type": "track",
            "messageId": "own",
            "context": {"library": {"version": "3"}, "locale": "fr"},
            "integrations": {"Metronome": False},
        },
    ]

    api.post("/v1/batch", json={"batch": items, **envelope})

    plain = Event.objects.get(message_id="plain").payload
    own = Event.objects.get(message_id="own").payload
    assert plain["context"] == envelope["context"] | {"ip": "127.0.0.1"}
    assert plain["integrations"] == envelope["integrations"]
    assert own["context"] == {
        "library": {"name": "analytics-ruby", "version": "3"},
        "app": "shop",
        "locale": "fr",
        "ip": "127.0.0.1",
    }
    assert own["integrations"] == {"All": False, "Metronome": False}
