"""The normaliser holds for any JSON a client can send: it accepts or rejects, never crashes."""

from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.normalize import MESSAGE_TYPES, RequestContext, normalize

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
CONTEXT = RequestContext(
    received_at=datetime(2026, 1, 1, tzinfo=UTC),
    client_ip="192.0.2.1",
    max_message_bytes=32 * 1024,
    measure_size=True,
)


@settings(max_examples=400)
@given(st.lists(message_like | json_values, max_size=5))
def test_every_item_is_either_accepted_or_rejected_with_a_code(items):
    accepted, rejected = normalize(items, CONTEXT)

    assert len(accepted) + len(rejected) == len(items)
    assert all(rejection.code for rejection in rejected)
    for item in accepted:
        orjson.dumps(item.message)  # storable as JSON
        assert item.message["type"] in MESSAGE_TYPES
        assert item.user_id or item.anonymous_id
        assert item.message["timestamp"].endswith("Z")
        assert len(item.message_id) <= 100
