"""The official analytics-python client, pointed at a live Switchyard."""

from datetime import UTC, datetime, timedelta

import pytest
from segment.analytics import Client

from ingest.models import Event

COUNT = 1000
START = datetime(2026, 1, 1, tzinfo=UTC)


def send_mixed_events(client: Client) -> dict[str, tuple[str, str, datetime]]:
    """Send COUNT events of every type; returns messageId -> (type, userId, timestamp)."""
    sent = {}
    calls = [
        lambda i, ts: client.track(f"user-{i}", "Order Completed", {"total": i}, timestamp=ts),
        lambda i, ts: client.identify(f"user-{i}", {"plan": "pro"}, timestamp=ts),
        lambda i, ts: client.page(f"user-{i}", "Docs", "Install", timestamp=ts),
        lambda i, ts: client.screen(f"user-{i}", "App", "Home", timestamp=ts),
        lambda i, ts: client.group(f"user-{i}", f"group-{i % 7}", {"seats": 3}, timestamp=ts),
        lambda i, ts: client.alias(f"anon-{i}", f"user-{i}", timestamp=ts),
    ]
    types = ["track", "identify", "page", "screen", "group", "alias"]
    for i in range(COUNT):
        timestamp = START + timedelta(seconds=i, milliseconds=i % 1000)
        success, message = calls[i % len(calls)](i, timestamp)
        assert success
        sent[message["messageId"]] = (types[i % len(calls)], f"user-{i}", timestamp)
    client.flush()
    return sent


@pytest.mark.parametrize(
    "options",
    [{"gzip": True, "upload_size": 100}, {"sync_mode": True}],
    ids=["batched-gzip", "sync-mode"],
)
def test_analytics_python_delivers_1000_events_with_types_ids_and_timestamps(
    live_server, source, options
):
    errors = []
    client = Client(
        source.write_key,
        host=live_server.url,
        on_error=lambda error, batch: errors.append(error),
        max_retries=1,
        **options,
    )

    sent = send_mixed_events(client)
    if not client.sync_mode:  # shutdown() fails in sync mode, which has no consumer threads
        client.shutdown()

    assert errors == []
    stored = {event.message_id: event for event in Event.objects.filter(source=source)}
    assert len(stored) == COUNT
    assert set(stored) == set(sent)
    for message_id, (message_type, user_id, timestamp) in sent.items():
        event = stored[message_id]
        assert (event.type, event.user_id) == (message_type, user_id)
        original = timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert event.payload["originalTimestamp"] == original
        # The client's clock is ours, so the skew correction moves it by milliseconds only.
        assert abs(event.timestamp - timestamp) < timedelta(seconds=5)
    assert stored[next(iter(sent))].payload["context"]["library"]["name"] == "analytics-python"
