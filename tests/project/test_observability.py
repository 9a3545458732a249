"""/healthz and /metrics (docs/operations.md, "Health checks" and "Metrics")."""

import time
import uuid

import httpx
import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from destinations.delivery import routing
from destinations.delivery.dispatch import dispatch_mapping
from destinations.services.transformations import create_transformation, set_destination_chain
from ingest import rate_limit
from ingest.models import Source
from tests.destinations.delivery import scenario
from tests.destinations.delivery.sinks import always

RUN = uuid.uuid4().hex[:8]
TOKEN = "metrics-token-for-tests"


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(api: httpx.Client) -> str:
    response = api.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return response.text


def samples(text: str) -> dict[tuple, float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_healthz_is_ok_when_the_database_and_redis_answer(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "redis": "ok",
        "partitions": "ok",
        "routing": "ok",
    }


def test_healthz_is_503_when_redis_is_down(client, db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "ok",
        "redis": "down",
        "partitions": "ok",
        "routing": "ok",
    }


def test_healthz_is_503_when_the_database_is_down(anonymous_api, monkeypatch):
    if connection.vendor == "sqlite":
        monkeypatch.setitem(connection.settings_dict, "NAME", "/nonexistent/dir/db.sqlite3")
    else:
        monkeypatch.setitem(connection.settings_dict, "PORT", "1")

    response = anonymous_api.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == "down"


@pytest.fixture
def delivered_traffic(live_server, source, sinks):
    """Five events: delivered to one destination, refused by another. The counters live in
    Redis across tests, so the names are this test's own."""
    billing = scenario.metronome(source, sinks().url, name=f"Billing {RUN}")
    broken = scenario.metronome(source, sinks(answer=always(400)).url, name=f"Broken {RUN}")
    scenario.send_events(live_server.url, source, 5)
    routing.route_new_events()
    for destination in (billing, broken):
        destination.mappings.update(flush_interval=0)  # send the partial batch now
        dispatch_mapping(destination.mappings.get().pk)


def test_metrics_count_deliveries_and_time_attempts_after_traffic(anonymous_api, delivered_traffic):
    scraped = samples(scrape(anonymous_api))

    outcome = "switchyard_delivery_outcomes_total"
    assert scraped[(outcome, (("destination", f"Billing {RUN}"), ("status", "delivered")))] == 5
    assert scraped[(outcome, (("destination", f"Broken {RUN}"), ("status", "failed")))] == 5
    histogram = "switchyard_attempt_duration_seconds_count"
    assert scraped[(histogram, (("destination", f"Billing {RUN}"),))] == 1
    assert scraped[("switchyard_events_unrouted", ())] == 0


def scraped_until(api: httpx.Client, expected: dict[tuple, float]) -> dict[tuple, float]:
    """The metrics once they show `expected`: ingest counts reach Redis within a second."""
    deadline = time.monotonic() + 5
    while True:
        scraped = samples(scrape(api))
        if all(scraped.get(name) == value for name, value in expected.items()):
            return scraped
        if time.monotonic() > deadline:
            return scraped
        time.sleep(0.1)


def test_metrics_count_events_received_and_rejected_by_reason(anonymous_api, db, monkeypatch):
    monkeypatch.setattr(rate_limit, "clock", lambda: 1_800_000_000.5)  # one window for all
    source = Source.objects.create(name=f"Metrics {RUN}", rate_limit=4)
    track = {"type": "track", "userId": "u1", "event": "Signed Up"}
    batch = [track, track | {"event": ""}, {"type": "track", "event": "No user"}]
    auth = (source.write_key, "")

    anonymous_api.post("/v1/batch", json={"batch": batch}, auth=auth)
    anonymous_api.post("/v1/batch", json={"batch": [track] * 3}, auth=auth)
    refused = anonymous_api.post("/v1/batch", json={"batch": [track] * 2}, auth=auth)

    assert refused.status_code == 429
    labels = ("source", source.name)
    expected = {
        ("switchyard_events_received_total", (labels,)): 4,
        ("switchyard_events_rejected_total", (("reason", "event_not_defined"), labels)): 1,
        ("switchyard_events_rejected_total", (("reason", "id_required"), labels)): 1,
        ("switchyard_events_rejected_total", (("reason", "rate_limited"), labels)): 2,
    }
    scraped = scraped_until(anonymous_api, expected)
    assert {name: scraped.get(name) for name in expected} == expected


def test_metrics_show_the_deliveries_waiting(anonymous_api, live_server, source):
    scenario.metronome(source, "http://127.0.0.1:9", name="Billing")
    scenario.send_events(live_server.url, source, 3)
    routing.route_new_events()

    scraped = samples(scrape(anonymous_api))

    waiting = ("destination", "Billing"), ("status", "pending")
    assert scraped[("switchyard_deliveries_waiting", waiting)] == 3


def test_without_a_token_metrics_are_closed_unless_debug_is_on(anonymous_api, settings):
    settings.METRICS_TOKEN = ""

    closed = anonymous_api.get("/metrics")
    settings.DEBUG = True
    opened = anonymous_api.get("/metrics")

    assert closed.status_code == 403
    assert "set METRICS_TOKEN" in closed.text
    assert "switchyard_" not in closed.text
    assert opened.status_code == 200


def test_metrics_want_the_bearer_token_when_one_is_set(anonymous_api, settings):
    settings.METRICS_TOKEN = "scrape-me"

    assert anonymous_api.get("/metrics").status_code == 401
    authorized = anonymous_api.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert authorized.status_code == 200


def test_metrics_count_the_events_a_transformation_failed_on_by_code(anonymous_api, db, source):
    name = f"Picky {RUN}"
    code = "function transformEvent(e) { if (e.properties.total > 1) throw new Error('no'); }"
    hook = scenario.webhook(source, "http://127.0.0.1:9")
    set_destination_chain(hook, [create_transformation(name, code)])
    scenario.ingest_and_route(source, *(scenario.track(n) for n in range(4)))

    scraped = samples(scrape(anonymous_api))

    labels = ("code", "TRANSFORMATION_ERROR"), ("transformation", name)
    assert scraped[("switchyard_transformation_failures_total", labels)] == 2
