"""The delivery engine with real workers, real Redis and the real database (docs/delivery.md).

Each test starts Celery worker processes (with beat) on the test database and sends events
through the live Tracking API to destinations that point at local sinks.
"""

import threading
import time
from collections import Counter

import redis
from django.conf import settings

from destinations.delivery.routing import route_new_events
from destinations.models import Delivery, DeliveryAttempt
from destinations.services.replays import replay_deliveries
from tests.destinations.delivery import scenario
from tests.destinations.delivery.conftest import wait_until
from tests.destinations.delivery.sinks import always

# Quick retries, so that recovery shows within seconds.
FAST_RETRIES = {"retry_base_seconds": 0.2, "retry_cap_seconds": 1.0}


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


def test_an_outage_of_one_destination_neither_loses_its_events_nor_slows_the_others(
    live_server, source, start_worker, sinks
):
    failing_sink, analytics_sink, hook_sink = sinks(), sinks(), sinks()
    failing = scenario.metronome(source, failing_sink.url, **FAST_RETRIES)
    analytics = scenario.aggregations(source, analytics_sink.url)
    hook = scenario.webhook(source, hook_sink.url)
    start_worker()
    calm = scenario.send_events(live_server.url, source, 600, prefix="calm", pause=0.1)
    wait_until(lambda: scenario.all_delivered(failing, analytics, hook, count=600))

    failing_sink.answer = always(503)
    stormy = scenario.send_events(live_server.url, source, 600, prefix="storm", pause=0.1)
    wait_until(lambda: scenario.all_delivered(analytics, hook, count=1200))
    outage_failures = Delivery.objects.filter(destination=failing, status="retrying").count()
    failing_sink.answer = always(200)

    wait_until(lambda: scenario.all_delivered(failing, count=1200), timeout=90)
    assert outage_failures > 0
    assert Counter(item["transaction_id"] for item in failing_sink.items()) == Counter(
        calm + stormy
    )
    for healthy in (analytics, hook):
        before = scenario.p95(scenario.latencies(healthy, calm))
        during = scenario.p95(scenario.latencies(healthy, stormy))
        assert during <= 2 * before, (healthy.name, before, during)


def test_a_worker_killed_mid_batch_loses_nothing_once_a_new_worker_runs(
    live_server, source, start_worker, sinks
):
    held = threading.Event()

    def slow_then_fine(request):
        held.set()
        time.sleep(2)
        return 200, {}, b"{}"

    sink = sinks(answer=slow_then_fine)
    billing = scenario.metronome(source, sink.url)
    first = start_worker("first")
    ids = scenario.send_events(live_server.url, source, 500)
    assert held.wait(30)

    first.kill()
    in_flight = Delivery.objects.filter(destination=billing, status="in_flight").count()
    sink.answer = always(200)
    start_worker("second")

    wait_until(lambda: scenario.all_delivered(billing, count=500), timeout=90)
    assert in_flight > 0
    received = Counter(item["transaction_id"] for item in sink.items())
    assert set(received) == set(ids)
    # Only the batch cut off by the kill may have gone twice (docs/delivery.md, "At least once").
    assert sum(received.values()) - len(ids) <= 100


def test_flushing_redis_mid_run_loses_nothing(live_server, source, start_worker, sinks):
    sink = sinks()
    billing = scenario.metronome(source, sink.url, name="Billing")
    start_worker()
    flusher = threading.Timer(1.0, lambda: redis.Redis.from_url(settings.REDIS_URL).flushall())
    flusher.start()

    ids = scenario.send_events(live_server.url, source, 1500, pause=0.1)

    flusher.join()
    wait_until(lambda: scenario.all_delivered(billing, count=1500), timeout=90)
    assert Counter(item["transaction_id"] for item in sink.items()) == Counter(ids)


def test_a_429_with_retry_after_2_is_retried_no_sooner_than_2_seconds_later(
    live_server, source, start_worker, sinks
):
    answers = iter([(429, {"Retry-After": "2"}, b"slow down")])
    sink = sinks(answer=lambda request: next(answers, (200, {}, b"{}")))
    billing = scenario.metronome(source, sink.url)
    start_worker()

    scenario.send_events(live_server.url, source, 1)

    wait_until(lambda: scenario.all_delivered(billing, count=1))
    first, second = sink.received
    assert second.at - first.at >= 2.0
    assert Delivery.objects.get().attempts == 2


def test_a_permanent_400_fails_after_one_attempt_with_the_answer_recorded(
    live_server, source, start_worker, sinks
):
    sink = sinks(answer=lambda request: (400, {}, b'{"error": "unknown customer"}'))
    billing = scenario.metronome(source, sink.url)
    start_worker()

    scenario.send_events(live_server.url, source, 1)

    wait_until(lambda: scenario.statuses(billing) == Counter({"failed": 1}))
    time.sleep(1.5)  # a sweep or two: nothing more may go out
    delivery = Delivery.objects.get()
    assert (delivery.attempts, delivery.error_code) == (1, "BAD_REQUEST")
    assert len(sink.received) == 1
    attempt = DeliveryAttempt.objects.get()
    assert attempt.response_body == '{"error": "unknown customer"}'
    assert list(attempt.deliveries.all()) == [delivery]


def test_two_workers_side_by_side_never_send_a_delivery_twice(
    live_server, source, start_worker, sinks
):
    sink = sinks()
    billing = scenario.metronome(source, sink.url)
    billing.mappings.update(batch_size=10)
    start_worker("one")
    start_worker("two", beat=False)

    ids = scenario.send_events(live_server.url, source, 1000, pause=0.05)

    wait_until(lambda: scenario.all_delivered(billing, count=1000), timeout=90)
    assert Counter(item["transaction_id"] for item in sink.items()) == Counter(ids)
    assert len(sink.received) == 100  # 1,000 events in batches of 10, no request twice


def test_a_destination_that_never_recovers_fails_after_the_window_and_3_attempts(
    live_server, source, start_worker, sinks
):
    sink = sinks(answer=always(503))
    billing = scenario.metronome(
        source, sink.url, retry_window_seconds=2, breaker_threshold=1000, **FAST_RETRIES
    )
    start_worker()

    scenario.send_events(live_server.url, source, 1)

    wait_until(lambda: scenario.statuses(billing) == Counter({"failed": 1}), timeout=30)
    delivery = Delivery.objects.get()
    assert delivery.attempts >= 3
    assert (delivery.last_attempt_at - delivery.first_attempt_at).total_seconds() >= 2
    assert delivery.error_code == "SERVICE_UNAVAILABLE"


def test_failed_deliveries_replayed_after_the_destination_recovers_are_delivered(
    live_server, source, start_worker, sinks
):
    sink = sinks(answer=always(400))
    billing = scenario.metronome(source, sink.url)
    start_worker()
    ids = scenario.send_events(live_server.url, source, 5)
    wait_until(lambda: scenario.statuses(billing) == Counter({"failed": 5}))
    sink.answer = always(200)

    replayed = replay_deliveries(list(Delivery.objects.values_list("pk", flat=True)))

    assert replayed == 5
    wait_until(lambda: Delivery.objects.filter(replay=True, status="delivered").count() == 5)
    assert Counter(item["transaction_id"] for item in sink.items()) == Counter(ids)
    assert scenario.statuses(billing) == Counter({"failed": 5, "delivered": 5})


def test_a_disabled_destination_keeps_its_deliveries_until_it_is_enabled_again(
    live_server, source, start_worker, sinks
):
    sink = sinks()
    billing = scenario.metronome(source, sink.url)
    ids = scenario.send_events(live_server.url, source, 50)
    route_new_events()
    billing.enabled = False
    billing.save()
    start_worker()

    time.sleep(3)
    assert scenario.statuses(billing) == Counter({"pending": 50})
    assert sink.received == []

    billing.enabled = True
    billing.save()
    wait_until(lambda: scenario.all_delivered(billing, count=50))
    assert Counter(item["transaction_id"] for item in sink.items()) == Counter(ids)
