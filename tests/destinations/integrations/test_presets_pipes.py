"""The default mappings of the kinds that pass events on nearly as they are: the warehouse,
Aggregations.io, the webhook, the Segment forwarder, and Slack's messages (docs/destinations.md,
"Wire formats"). presets.py holds the harness; test_presets.py checks this table is complete.
"""

import pytest

from destinations.delivery.payloads import PayloadInvalid, prepare
from destinations.integrations import REGISTRY
from tests.destinations import events
from tests.destinations.events import CONTEXT
from tests.destinations.integrations.presets import (
    DEFAULT_MAPPINGS,
    ISO_TIME,
    assert_makes,
    rendering,
    without,
)

RENDERINGS = [
    rendering("postgres_warehouse", "Load every event", events.group(), {"event": events.group()}),
    rendering("aggregations_io", "Send events", events.page(), {"data": events.page()}),
    rendering(
        "webhook",
        "Send",
        events.track(),
        {
            "url": "https://hooks.example/orders",
            "method": "POST",
            "data": events.track(),
            "enable_batching": False,
        },
        added={"url": "https://hooks.example/orders"},
    ),
    rendering(
        "segment",
        "Forward track messages",
        events.track(),
        {
            "userId": "user-1",
            "anonymousId": "anon-1",
            "messageId": "msg-0001",
            "timestamp": ISO_TIME,
            "context": CONTEXT,
            "event": "API Call",
            "properties": {"endpoint": "/v1/search", "value": 3, "revenue": 12.5},
        },
    ),
    rendering(
        "segment",
        "Forward identify messages",
        events.identify(),
        {
            "userId": "user-1",
            "anonymousId": "anon-1",
            "messageId": "idf-0001",
            "timestamp": ISO_TIME,
            "context": CONTEXT,
            "traits": {"email": "ada@example.com", "plan": "pro"},
        },
    ),
    rendering(
        "segment",
        "Forward page messages",
        events.page(),
        {
            "anonymousId": "anon-1",
            "messageId": "pg-0001",
            "timestamp": ISO_TIME,
            "context": CONTEXT,
            "name": "Pricing",
            "properties": {"path": "/pricing", "title": "Pricing"},
        },
    ),
    rendering(
        "segment",
        "Forward screen messages",
        events.screen(),
        {
            "userId": "user-1",
            "messageId": "scr-0001",
            "timestamp": ISO_TIME,
            "context": CONTEXT,
            "name": "Home",
            "category": "App",
            "properties": {"orientation": "portrait"},
        },
    ),
    rendering(
        "segment",
        "Forward group messages",
        events.group(),
        {
            "userId": "user-1",
            "messageId": "grp-0001",
            "timestamp": ISO_TIME,
            "context": CONTEXT,
            "groupId": "acme-inc",
            "traits": {"name": "Acme Inc", "seats": 12},
        },
    ),
    rendering(
        "segment",
        "Send alias",
        events.alias(),
        {
            "userId": "user-1",
            "messageId": "als-0001",
            "timestamp": ISO_TIME,
            "context": CONTEXT,
            "previousId": "anon-1",
        },
    ),
    # Slack
    rendering("slack", "Post track events", events.track(), {"text": "*API Call* by user-1"}),
    rendering(
        "slack",
        "Post track events",
        without(events.track(event="<!channel> & <https://evil.example|win>"), "userId"),
        {"text": "*&lt;!channel&gt; &amp; &lt;https://evil.example|win&gt;* by anon-1"},
        case="an anonymous event whose name holds Slack markup",
    ),
]


@pytest.mark.parametrize(("kind", "name", "added", "event", "expected"), RENDERINGS)
def test_each_default_mapping_validates_and_makes_the_exact_payload(
    kind, name, added, event, expected
):
    assert_makes(kind, name, added, event, expected)


def test_the_webhook_default_mapping_cannot_send_until_a_url_is_added():
    action_key, fields = DEFAULT_MAPPINGS["webhook", "Send"]
    with pytest.raises(PayloadInvalid, match="field 'url' is required but missing") as raised:
        prepare(REGISTRY["webhook"].action(action_key), fields, events.track())
    assert raised.value.code == "PAYLOAD_VALIDATION_FAILED"
