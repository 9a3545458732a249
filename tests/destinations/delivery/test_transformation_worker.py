"""Transformations under a real Celery worker: events that loop forever or exhaust memory fail
alone, and the same worker processes go on delivering the rest, then new events."""

from collections import Counter

from destinations.models import Delivery
from destinations.services.transformations import create_transformation, set_destination_chain
from tests.destinations.delivery import scenario
from tests.destinations.delivery.conftest import wait_until

HOSTILE = """export function transformEvent(event) {
  const total = event.properties.total;
  if (total % 10 === 3) while (true) {}
  if (total % 10 === 7) event.properties.big = new Array(2 ** 27).fill(0);  // 1 GB of numbers
  event.properties.checked = true;
  return event;
}"""


def settled(destination, count: int) -> bool:
    statuses = scenario.statuses(destination)
    return statuses["delivered"] + statuses["failed"] == count


def test_a_worker_survives_endless_loops_and_memory_hogs_and_delivers_the_rest(
    live_server, source, start_worker, sinks
):
    sink = sinks()
    hook = scenario.webhook(source, sink.url)
    set_destination_chain(hook, [create_transformation("Hostile", HOSTILE)])
    worker = start_worker()

    ids = scenario.send_events(live_server.url, source, 100)
    wait_until(lambda: settled(hook, 100), timeout=90)

    failed = Delivery.objects.filter(destination=hook, status="failed")
    assert Counter(failed.values_list("error_code", flat=True)) == {
        "TRANSFORMATION_TIMEOUT": 10,
        "TRANSFORMATION_MEMORY": 10,
    }
    assert {d.event.payload["properties"]["total"] % 10 for d in failed} == {3, 7}
    healthy = [i for n, i in enumerate(ids) if n % 10 not in (3, 7)]
    assert Counter(item["messageId"] for item in sink.items()) == Counter(healthy)
    assert worker.process.poll() is None

    later = scenario.send_events(live_server.url, source, 20, prefix="later")
    wait_until(lambda: settled(hook, 120), timeout=60)
    delivered = {item["messageId"] for item in sink.items()}
    assert {i for n, i in enumerate(later) if n % 10 not in (3, 7)} <= delivered
