"""The delivery engine with a real worker, real Redis and the real database (SPEC §5.3-5.7)."""

from collections import Counter

from tests.delivery import scenario
from tests.delivery.conftest import wait_until


def test_2000_events_reach_three_destinations_each_exactly_once(
    live_server, source, start_worker, sinks
):
    billing_sink, analytics_sink, hook_sink = sinks(), sinks(), sinks()
    billing = scenario.metronome(source, billing_sink.url)
    analytics = scenario.aggregations(source, analytics_sink.url)
    hook = scenario.webhook(source, hook_sink.url)
    start_worker()

    ids = scenario.send_events(live_server.url, source, 2000)

    wait_until(lambda: scenario.all_delivered(billing, analytics, hook, count=2000), timeout=90)
    assert Counter(item["transaction_id"] for item in billing_sink.items()) == Counter(ids)
    assert Counter(item["messageId"] for item in analytics_sink.items()) == Counter(ids)
    assert Counter(item["messageId"] for item in hook_sink.items()) == Counter(ids)
    assert max(len(request.json()) for request in billing_sink.received) == 100
