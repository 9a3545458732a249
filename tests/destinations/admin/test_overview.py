"""The operator's overview (issue 19): its figures equal the exact counts of the rows the
pipeline wrote, counts of what waits stop at the cap, and it costs a constant handful of
queries, each served by an index."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from destinations.delivery.batching import DUE
from destinations.delivery.dispatch import dispatch_mapping
from destinations.delivery.routing import route_new_events
from destinations.delivery.tallies import LATENCY_BOUNDS_MS, bucket_of
from destinations.models import Delivery, Destination, DestinationState
from destinations.selectors import overview as figures
from destinations.selectors.overview import overview
from infra.tallies import hour_of
from ingest.models import Event, Rejection, Source
from ingest.selectors import source_for_write_key
from ingest.services import ingest_payload
from tests.destinations.delivery import scenario
from tests.destinations.delivery.dispatch.helpers import configure, mapping_of
from tests.destinations.delivery.scenario import ingest, track
from tests.destinations.delivery.sinks import Sink, always

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def rings(monkeypatch):
    return scenario.quiet_doorbell(monkeypatch)


def destination(source: Source, sink: Sink, name: str, **options) -> Destination:
    """Metronome on the sink; its mapping sends partial batches at once."""
    made = scenario.metronome(source, sink.url, name, **options)
    configure(mapping_of(made), flush_interval=0)
    return made


def tracks(start: int, count: int) -> list[dict]:
    return [track(i) for i in range(start, start + count)]


def send(*destinations: Destination) -> None:
    for made in destinations:
        dispatch_mapping(mapping_of(made).pk)


def reject(source: Source, count: int) -> None:
    """Messages validation refuses (no userId nor anonymousId), counted as rejections."""
    invalid = [{"type": "track", "event": "Nobody"}] * count
    ref = source_for_write_key(source.write_key)
    assert ingest_payload(ref, {"batch": invalid}, None, None).accepted == 0


@pytest.fixture
def scene(source, sinks):
    """Two sources; Billing delivers, Refused fails (401), Flaky retries (503, circuit open
    after one batch); one event is not routed yet and two deliveries wait."""
    web = Source.objects.create(name="Web")
    billing = destination(source, sinks(), "Billing")
    refused = destination(source, sinks(answer=always(401)), "Refused")
    flaky = destination(web, sinks(answer=always(503)), "Flaky", breaker_threshold=1)
    ingest(source, *tracks(0, 5))
    ingest(web, *tracks(100, 3))
    route_new_events()
    send(billing, refused, flaky)
    ingest(source, *tracks(200, 2))
    route_new_events()  # pending at Billing and Refused
    ingest(web, *tracks(300, 1))  # not routed
    reject(source, 2)
    Rejection.objects.create(source=web, hour=hour_of(timezone.now()), code="rate_limited", count=7)
    return source, web, billing, refused, flaky


def by_name(items, name: str):
    [found] = [
        item for item in items if str(getattr(item, "source", None) or item.destination) == name
    ]
    return found


def test_the_figures_equal_the_exact_counts_of_the_rows(scene):
    source, web, billing, refused, flaky = scene

    page = overview()

    assert [s.source.name for s in page.sources] == ["Test app", "Web"]
    app = by_name(page.sources, "Test app")
    routed = Event.objects.filter(routed_at__isnull=False)
    assert (app.received, app.rejected, app.rate_limited) == (
        routed.filter(source=source).count(),
        2,
        0,
    )
    assert (by_name(page.sources, "Web").received, by_name(page.sources, "Web").rate_limited) == (
        routed.filter(source=web).count(),
        7,
    )
    assert app.hours[-1].received == 7 and app.hours[-1].rejected == 2
    assert [d.destination.name for d in page.destinations] == ["Billing", "Flaky", "Refused"]
    for made in (billing, refused, flaky):
        row = by_name(page.destinations, made.name)
        deliveries = Delivery.objects.filter(destination=made)
        assert row.delivered == deliveries.filter(status="delivered").count()
        assert row.failed == deliveries.filter(status="failed").count()
        assert row.retrying == deliveries.filter(status="retrying").count()
        assert row.pending == deliveries.filter(status__in=["pending", "in_flight"]).count()
        assert sum(hour.delivered for hour in row.hours) == row.delivered
    assert by_name(page.destinations, "Billing").delivered == 5
    assert by_name(page.destinations, "Refused").failed == 5
    assert by_name(page.destinations, "Flaky").retrying == 3
    assert by_name(page.destinations, "Flaky").retried == 3


def test_the_p95_latency_lies_in_the_bucket_of_the_exact_value(scene):
    billing = scene[2]
    delivered = Delivery.objects.filter(destination=billing, status="delivered")
    latencies = sorted(d.delivered_at - d.event_received_at for d in delivered)
    exact = latencies[-1]  # the 95th percentile of five is the slowest

    p95 = by_name(overview().destinations, "Billing").p95_latency

    upper = bucket_of(exact)
    lower = max([0, *(bound for bound in LATENCY_BOUNDS_MS if bound < upper)])
    assert timedelta(milliseconds=lower) <= p95 <= timedelta(milliseconds=upper)
    assert by_name(overview().destinations, "Refused").p95_latency is None


def test_failing_since_and_the_open_circuit_come_from_the_destination_state(scene):
    flaky, refused = scene[4], scene[3]

    page = overview()

    state = DestinationState.objects.get(destination=flaky)
    assert by_name(page.destinations, "Flaky").failing_since == state.failing_since is not None
    assert by_name(page.destinations, "Flaky").breaker_open
    assert not by_name(page.destinations, "Refused").breaker_open
    assert by_name(page.destinations, "Billing").failing_since is None
    DestinationState.objects.filter(destination=flaky).update(
        paused_until=timezone.now() - timedelta(seconds=1)
    )
    assert not by_name(overview().destinations, "Flaky").breaker_open
    assert refused  # failed for good: the destination refused the events, not the token


def test_the_backlog_counts_unrouted_events_due_deliveries_and_the_oldest_s_age(scene):
    now = timezone.now()
    waiting = Delivery.objects.filter(status__in=DUE)
    oldest = waiting.order_by("created_at").first()

    backlog = overview(now).backlog

    assert backlog.unrouted == Event.objects.filter(routed_at__isnull=True).count() == 1
    assert backlog.due == waiting.filter(next_attempt_at__lte=now).count() == 4
    assert backlog.oldest_pending_age == now - oldest.created_at


def test_hours_cover_the_window_oldest_first_with_empty_ones(scene):
    now = timezone.now()

    page = overview(now)

    for row in [*page.sources, *page.destinations]:
        assert row.hours[0].hour == hour_of(now - timedelta(hours=24))
        assert row.hours[-1].hour == hour_of(now)
        assert len(row.hours) == 25


def test_an_empty_installation_has_an_empty_overview(db):
    page = overview()

    assert (page.sources, page.destinations) == ([], [])
    assert (page.backlog.unrouted, page.backlog.due, page.backlog.oldest_pending_age) == (
        0,
        0,
        None,
    )


def test_counts_of_what_waits_stop_at_the_cap(source, sinks, monkeypatch):
    monkeypatch.setattr(figures, "COUNT_CAP", 3)
    billing = destination(source, sinks(), "Billing")
    ingest(source, *tracks(0, 10))
    route_new_events()
    Delivery.objects.filter(pk__in=Delivery.objects.values("pk")[:5]).update(
        status="retrying", next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    ingest(source, *tracks(100, 5))  # not routed

    page = overview()

    row = by_name(page.destinations, "Billing")
    assert (row.retrying, row.pending, page.count_cap) == (3, 3, 3)
    assert (page.backlog.unrouted, page.backlog.due) == (3, 3)
    assert billing


def world(source: Source, sinks: Callable[..., Sink], size: int) -> None:
    """`size` sources and destinations, each with deliveries of every kind."""
    for n in range(size):
        own = source if n == 0 else Source.objects.create(name=f"Source {n}")
        made = destination(own, sinks(), f"Destination {n}")
        ingest(own, *tracks(1000 * n, 3))
        route_new_events()
        send(made)
        ingest(own, *tracks(1000 * n + 500, 2))
        route_new_events()
        reject(own, 1)


def queries_of(call: Callable[[], object]) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        call()
    return [query["sql"] for query in captured]


def test_the_overview_makes_the_same_few_queries_for_one_or_five_of_each(
    source, sinks, django_assert_max_num_queries
):
    world(source, sinks, 1)
    with django_assert_max_num_queries(9):  # eight, and the SET that turns JIT off
        overview()
    one = len(queries_of(overview))

    world_more = [Source.objects.create(name=f"More {n}") for n in range(4)]
    for n, more in enumerate(world_more):
        made = destination(more, sinks(), f"More destination {n}")
        ingest(more, *tracks(5000 + 10 * n, 2))
        route_new_events()
        send(made)

    assert len(queries_of(overview)) == one
    assert len(overview().destinations) == len(overview().sources) == 5


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
def test_every_query_of_the_overview_is_served_by_an_index(source, sinks):
    world(source, sinks, 2)

    for sql in queries_of(overview):
        if sql.startswith("SET "):
            continue
        with connection.cursor() as cursor:
            # As on tables too big to read whole: can an index serve each?
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Seq Scan" not in plan, f"{sql}\n{plan}"
        assert "Index" in plan, f"{sql}\n{plan}"
