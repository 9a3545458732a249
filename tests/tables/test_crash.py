"""A worker killed in the middle of a run, then a rerun: every row reaches the webhook once.

The webhook refuses (503) while the first worker lives: a worker killed between a request and
recording its answer sends that batch again (at least once, as documented), and what is
tested here is the run, not that window."""

from collections import Counter

from django.utils import timezone

from destinations.models import Delivery
from tables.models import Run
from tables.services import request_run, schedule_runs
from tests.destinations.delivery import scenario
from tests.destinations.delivery.conftest import wait_until
from tests.destinations.delivery.sinks import always

ROWS = 60
# Ten rows a chunk, a tenth of a second a row: a run lasts about 6 s, long enough to kill.
SLOW_SCORES = (
    "SELECT customer_id, email, churn_score, pg_sleep(0.1) AS pause FROM customer_scores "
    "ORDER BY customer_id"
)


def test_a_run_killed_between_chunks_then_run_again_sends_every_row_exactly_once(
    warehouse, table_source, start_worker, sinks, settings
):
    settings.TABLE_SOURCE_GRACE_SECONDS = 1
    warehouse.scores(
        [(n, f"customer-{n}@example.com", n / 1000, "mid", timezone.now()) for n in range(ROWS)]
    )
    table = table_source(table="", query=SLOW_SCORES, columns="churn_score", timeout_seconds=2)
    sink = sinks(answer=always(503))
    quick = {"retry_base_seconds": 0.2, "retry_cap_seconds": 1, "breaker_cooldown_seconds": 1}
    hook = scenario.webhook(table.source, sink.url, **quick)
    worker = start_worker("w1", TABLE_SOURCE_CHUNK_ROWS="10")

    first = request_run(table)
    wait_until(lambda: Run.objects.get(pk=first.pk).rows_read >= 20, timeout=30)
    worker.kill()
    sink.answer = always(200)
    killed = Run.objects.get(pk=first.pk)
    assert killed.status == "running" and killed.rows_read < ROWS

    wait_until(lambda: schedule_runs() is not None and status_of(first) == "failed", timeout=30)
    assert Run.objects.get(pk=first.pk).error_kind == "worker_lost"
    start_worker("w2", TABLE_SOURCE_CHUNK_ROWS="10")
    second = request_run(table)

    wait_until(lambda: status_of(second) == "succeeded", timeout=120)
    wait_until(lambda: scenario.all_delivered(hook, count=ROWS), timeout=60)
    received = Counter(item["userId"] for item in sink.items())
    assert received == Counter(f"customer-{n}@example.com" for n in range(ROWS))
    assert Delivery.objects.filter(destination=hook).count() == ROWS
    finished = Run.objects.get(pk=second.pk)
    assert killed.events + finished.events == ROWS


def status_of(run: Run) -> str:
    return Run.objects.get(pk=run.pk).status
