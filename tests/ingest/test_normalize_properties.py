"""The normaliser holds for any JSON a client can send, however deep, and for values JSON
cannot carry (what the lenient decoder or a table's row hands it): it accepts or rejects,
never crashes, and what it accepts can be stored."""

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.decoding import NotJson
from ingest.normalize import (
    MAX_NESTING_DEPTH,
    MESSAGE_TYPES,
    RequestContext,
    nested_deeper_than,
    normalize,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
message_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(sorted(MESSAGE_TYPES)) | json_values,
        "userId": st.text() | json_values,
        "anonymousId": st.text() | json_values,
        "event": st.text() | json_values,
        "groupId": st.text() | json_values,
        "previousId": st.text() | json_values,
        "messageId": st.text() | json_values,
        "timestamp": st.datetimes().map(datetime.isoformat) | json_values,
        "sentAt": st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat) | json_values,
        "properties": json_values,
        "traits": json_values,
        "context": json_values,
        "integrations": json_values,
    },
)
RECEIVED_AT = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXTS = {
    "batch": RequestContext(RECEIVED_AT, "192.0.2.1", 32 * 1024, measure_size=True),
    "single": RequestContext(RECEIVED_AT, "192.0.2.1", 32 * 1024, forced_type="track"),
}
each_context = pytest.mark.parametrize("ctx", CONTEXTS.values(), ids=CONTEXTS.keys())


@each_context
@settings(max_examples=400)
@given(items=st.lists(message_like | json_values, max_size=5))
def test_every_item_is_either_accepted_or_rejected_with_a_code(ctx, items):
    accepted, rejected = normalize(items, ctx)

    assert len(accepted) + len(rejected) == len(items)
    assert all(rejection.code for rejection in rejected)
    for item in accepted:
        orjson.dumps(item.message)  # storable as JSON
        assert item.message["type"] in MESSAGE_TYPES
        assert item.user_id or item.anonymous_id
        assert item.message["timestamp"].endswith("Z")
        assert len(item.message_id) <= 100


def nest(value, levels: int):
    for _ in range(levels):
        value = [value]
    return value


# Around the limit, past what orjson encodes (254 levels), near what it decodes (1,024).
deep_values = st.builds(nest, json_values, st.integers(55, 300) | st.just(1000))
unencodable_values = (
    st.integers(min_value=2**64)
    | st.integers(max_value=-(2**63) - 1)
    | st.text(st.characters(categories=["Cs"]), min_size=1)
    | st.sampled_from(["NaN", "Infinity", "1e400"]).map(NotJson)
)
hostile_values = st.recursive(
    json_values | deep_values | unencodable_values,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=6,
)
# Valid track calls but for the hostile values in them, so that only those decide.
track_holding_hostile = st.fixed_dictionaries(
    {
        "type": st.just("track"),
        "userId": st.just("u1"),
        "event": st.just("Hostile"),
        "properties": st.dictionaries(st.text(max_size=4), hostile_values, max_size=3),
    },
    optional={"context": st.dictionaries(st.text(max_size=4), hostile_values, max_size=2)},
)


@each_context
@settings(max_examples=200)
@given(items=st.lists(track_holding_hostile, min_size=1, max_size=4))
def test_hostile_values_reject_their_item_as_too_deep_or_unencodable_and_nothing_else(ctx, items):
    accepted, rejected = normalize(items, ctx)

    assert len(accepted) + len(rejected) == len(items)
    assert {rejection.code for rejection in rejected} <= {"too_deep", "unencodable"}
    for item in accepted:
        orjson.dumps(item.message)  # storable as JSON
        assert not nested_deeper_than(item.message, MAX_NESTING_DEPTH)
