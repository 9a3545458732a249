"""Exact rules of message normalization (docs/tracking-api.md, "Validation" and "Enrichment"):
non-object integrations, numeric ids as JavaScript writes them, millisecond timestamps; pure
functions in ingest/normalize.py.
"""

from datetime import UTC, datetime, timedelta

import pytest

from ingest.normalize import Accepted, RequestContext, normalize

TRACK = {"type": "track", "userId": "u1", "event": "Signed Up"}
# Microseconds that are not whole milliseconds, so that truncating them shows.
RECEIVED_AT = datetime(2026, 1, 1, 12, 0, 0, 654321, tzinfo=UTC)


def accept(item: dict, **request) -> Accepted:
    ctx = RequestContext(RECEIVED_AT, None, 32 * 1024, **request)
    accepted, rejected = normalize([item], ctx)
    assert rejected == []
    return accepted[0]


# --- integrations that are not an object -----------------------------------------------------

NOT_OBJECTS = [["Segment.io"], "none", 7, True]


@pytest.mark.parametrize("integrations", NOT_OBJECTS, ids=repr)
def test_integrations_that_are_not_an_object_become_an_empty_object(integrations):
    message = accept(TRACK | {"integrations": integrations}).message

    assert message["integrations"] == {}


@pytest.mark.parametrize("integrations", NOT_OBJECTS, ids=repr)
def test_integrations_that_are_not_an_object_leave_the_envelope_integrations_whole(integrations):
    envelope = {"All": False, "Mixpanel": True}

    message = accept(TRACK | {"integrations": integrations}, envelope_integrations=envelope).message

    assert message["integrations"] == envelope


# --- numeric message ids -------------------------------------------------------------------


@pytest.mark.parametrize("number", [42, 42.0], ids=["int", "float"])
def test_a_numeric_message_id_is_kept_as_its_javascript_text(number):
    accepted = accept(TRACK | {"messageId": number})

    assert accepted.message_id == accepted.message["messageId"] == "42"


def test_a_numeric_message_id_sent_twice_gives_the_same_dedup_key_both_times():
    # Storage deduplicates on Accepted.message_id (ingest/services.py store_events, storage.py).
    first = accept(TRACK | {"messageId": 7})
    again = accept(TRACK | {"messageId": 7.0, "event": "Retry"})

    assert first.message_id == again.message_id == "7"


# --- floats written as JavaScript writes them --------------------------------------------------


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1e22, "1e+22"),
        (-1e21, "-1e+21"),
    ],
)
def test_a_float_id_is_written_out_in_full_below_1e21_and_in_exponent_form_from_it(number, text):
    accepted = accept(TRACK | {"messageId": number, "userId": number})

    assert (accepted.message_id, accepted.user_id) == (text, text)
    assert (accepted.message["messageId"], accepted.message["userId"]) == (text, text)


# --- the event's timestamp, to the millisecond -------------------------------------------------


def test_a_timestamp_of_its_own_is_truncated_to_the_millisecond():
    accepted = accept(TRACK | {"timestamp": "2024-05-01T08:00:00.123456Z"})

    assert accepted.timestamp == datetime(2024, 5, 1, 8, 0, 0, 123000, tzinfo=UTC)
    assert accepted.message["timestamp"] == "2024-05-01T08:00:00.123Z"


def test_a_skew_corrected_timestamp_is_truncated_to_the_millisecond():
    sent = {"timestamp": "2024-05-01T08:00:00.000Z", "sentAt": "2024-05-01T08:00:10.000Z"}

    accepted = accept(TRACK | sent)

    assert accepted.timestamp == (RECEIVED_AT - timedelta(seconds=10)).replace(microsecond=654000)


def test_the_received_time_used_as_timestamp_is_truncated_to_the_millisecond():
    accepted = accept(TRACK)

    assert accepted.timestamp == RECEIVED_AT.replace(microsecond=654000)
    assert accepted.message["timestamp"] == "2026-01-01T12:00:00.654Z"
