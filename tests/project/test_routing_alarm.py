"""The alarm for events the router has not reached (docs/operations.md, "Health checks"): /metrics
gives the oldest one's age, /healthz says "degraded" and names it once it is older than
UNROUTED_ALARM_SECONDS. Retention keeps such events; this is how someone hears of them."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from destinations.delivery.gauges import oldest_unrouted_age
from infra import partitions
from ingest.models import Event
from tests.destinations.clock import receive_at
from tests.destinations.delivery import scenario
from tests.project.test_observability import TOKEN, samples, scrape

GAUGE = ("switchyard_oldest_unrouted_event_age_seconds", ())
MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


@pytest.fixture(autouse=True)
def alarm(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.UNROUTED_ALARM_SECONDS = 15 * 60


def waiting_since(source, *minutes_ago: int) -> None:
    """Events the router never reached, received that many minutes ago, and routed ones older
    still (those must not count)."""
    scenario.ingest_and_route(source, scenario.track(100))
    receive_at(Event.objects.all(), timezone.now() - 60 * MINUTE)
    scenario.ingest(source, *(scenario.track(n) for n in range(len(minutes_ago))))
    for n, minutes in enumerate(minutes_ago):
        when = timezone.now() - minutes * MINUTE
        receive_at(Event.objects.filter(message_id=f"msg-{n:05d}"), when)


def test_healthz_is_degraded_and_names_the_age_of_an_unrouted_event_past_the_alarm(client, source):
    waiting_since(source, 20, 5)

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert re.fullmatch(r"oldest unrouted event received (\d+) s ago", body["routing"])
    assert 20 * 60 <= int(body["routing"].split()[4]) < 21 * 60


def test_healthz_is_ok_while_unrouted_events_are_younger_than_the_alarm(client, source):
    waiting_since(source, 5)

    body = client.get("/healthz").json()

    assert (body["status"], body["routing"]) == ("ok", "ok")


def test_metrics_give_the_oldest_unrouted_event_s_age(anonymous_api, source):
    waiting_since(source, 20, 5)

    age = samples(scrape(anonymous_api))[GAUGE]

    assert 20 * 60 <= age < 21 * 60


def test_metrics_give_zero_when_no_event_waits_for_the_router(anonymous_api, source):
    scenario.ingest_and_route(source, scenario.track(0))

    assert samples(scrape(anonymous_api))[GAUGE] == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_the_oldest_unrouted_event_is_found_through_the_partial_index_alone(source):
    partitions.ensure_partitions(start=timezone.now() - 12 * timedelta(days=1))
    waiting_since(source, 20)
    with CaptureQueriesContext(connection) as queries:
        assert oldest_unrouted_age() is not None
    [query] = [q["sql"] for q in queries.captured_queries]

    with connection.cursor() as cursor:
        # As on a table too big to read whole: only the index of unrouted events may serve.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {query}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename LIKE 'ingest_event%%' "
            "AND indexdef LIKE '%%WHERE (routed_at IS NULL)'"
        )
        unrouted_indexes = {row[0] for row in cursor.fetchall()}

    used = set(re.findall(r"Index (?:Only )?Scan using (\S+)", plan))
    # One entry per partition, in id order, and the first wins: not every unrouted row.
    assert plan.startswith("Limit"), plan
    assert "Seq Scan" not in plan and "Bitmap" not in plan, plan
    assert used and used <= unrouted_indexes, plan
