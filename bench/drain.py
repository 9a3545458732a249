"""Backlog drain: how fast the delivery engine catches up after an outage, and whether a big
backlog slows it down.

With the Celery worker and beat stopped, N events arrive through /v1/batch (batches of 100, a
few connections, each sending its next request as soon as the last is answered: as fast as the
web tier takes them). Then the worker and beat start, as production runs them, and route and
dispatch the backlog to the local sink (Metronome's preset mapping, batches of 100, no
transformation) while the web tier stays idle. From the Delivery rows, once all are delivered:
the drain's seconds (from the worker's start, its boot included, as after an outage, to the
last delivered_at) and events/s, and the rate while the backlog is large (the first third of
the deliveries by delivered_at: their count over the time from the first delivery to the
third's last) against the rate while it is small (the last third's), and their ratio. The
ingest's events/s is reported too.

Knobs (environment): BENCH_DRAIN=0 skips it; BENCH_DRAIN_EVENTS (default 200,000 in make
bench, 1,000,000 in make bench-scale), BENCH_DRAIN_CONNECTIONS (default 8),
BENCH_DRAIN_TIMEOUT (seconds to wait for the last delivery, default 3,600).
"""

import http.client
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench import database
from bench.delivery import (
    Stage,
    clean_slate,
    fresh_destination,
    restart_sink,
    start_delivery_engine,
    step,
    stop_delivery_engine,
)
from bench.payloads import batch_json, request_headers

BATCH_SIZE = 100
RETRIES = 3
LOAD_GENERATOR = "bench/drain.py (closed loop, Python threads, keep-alive)"
PROGRESS_SECONDS = 15.0
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class Drain:
    enabled: bool
    events: int
    connections: int
    timeout_seconds: float

    @classmethod
    def from_env(cls, default_events: int) -> "Drain":
        return cls(
            enabled=os.environ.get("BENCH_DRAIN", "1") != "0",
            events=int(os.environ.get("BENCH_DRAIN_EVENTS", str(default_events))),
            connections=int(os.environ.get("BENCH_DRAIN_CONNECTIONS", "8")),
            timeout_seconds=float(os.environ.get("BENCH_DRAIN_TIMEOUT", "3600")),
        )


def run(stage: Stage, drain: Drain) -> dict[str, Any]:
    sink_url = restart_sink(stage)
    clean_slate(stage, "drain")
    destination, source = fresh_destination(sink_url, "backlog drain", None, transform=False)
    step("drain", f"{drain.events:,} events into /v1/batch, worker and beat stopped")
    ingested = ingest(stage.web_url, source.write_key, drain)
    events = database.count_events(source.pk)
    step("drain", f"{events:,} events in; worker and beat start, to the sink in batches of 100")
    # Before the worker starts: it may deliver before it answers the ping.
    baseline = sink_items(sink_url)
    started = datetime.now(UTC)
    start_delivery_engine(stage)
    ready = datetime.now(UTC)
    done = wait_until_delivered(stage, sink_url, baseline, source.pk, drain.timeout_seconds)
    thirds = database.delivered_thirds(destination.pk)
    routed = database.routed_by(source.pk)
    stop_delivery_engine(stage, "drain")
    detail = {
        "events": events,
        "ingest": ingested,
        "batch_size": BATCH_SIZE,
        "transformation": None,
        "complete": done,
        "delivered": thirds.delivered,
        # Seconds from the worker's start; it may deliver before it answers the ping.
        "worker_ready_s": round((ready - started).total_seconds(), 1),
        "first_delivery_s": seconds_between(started, thirds.first),
        "one_third_delivered_s": seconds_between(started, thirds.one_third),
        "two_thirds_delivered_s": seconds_between(started, thirds.two_thirds),
        "worker_log": "worker-drain.log",
    }
    return (
        figures(thirds, started, done)
        | after_routing(destination.pk, routed, thirds)
        | {
            "drain_ingest_eps": ingested["events_per_s"],
            "drain": detail,
            "drain_load_generator": LOAD_GENERATOR,
        }
    )


def after_routing(
    destination_id: int, routed: datetime | None, thirds: database.Thirds
) -> dict[str, Any]:
    """The thirds above mix the router's work into the first: it routes the backlog while the
    dispatchers start on it. Once the last event is routed, the deliveries left are the
    dispatchers' alone: their rate while many wait (the first half of that time) against
    while few do (the second half) is the claim's cost at a large and a small backlog."""
    if routed is None or thirds.last is None or thirds.last <= routed:
        return {}
    middle, first, second = database.delivered_in_halves(destination_id, routed, thirds.last)
    half = (middle - routed).total_seconds()
    large, small = first / half, second / half
    return {
        "drain_after_routing_eps_large": round(large, 1),
        "drain_after_routing_eps_small": round(small, 1),
        "drain_after_routing_ratio": large / small if small else None,
        "drain_routed_all_s": seconds_between(thirds.first, routed),
        "drain_waiting_when_routed": first + second,
    }


def figures(thirds: database.Thirds, started: datetime, done: bool) -> dict[str, Any]:
    """The headline rates; None (null) for all of them when the drain did not finish."""
    if not done or not thirds.delivered:
        keys = ("drain_seconds", "drain_eps", "drain_eps_large_backlog")
        return dict.fromkeys((*keys, "drain_eps_small_backlog", "drain_ratio_large_to_small"))
    seconds = seconds_between(started, thirds.last)
    large = rate(thirds.first_third, thirds.first, thirds.one_third)
    small = rate(thirds.last_third, thirds.two_thirds, thirds.last)
    return {
        "drain_seconds": seconds,
        "drain_eps": round(thirds.delivered / seconds, 1) if seconds else None,
        "drain_eps_large_backlog": large,
        "drain_eps_small_backlog": small,
        "drain_ratio_large_to_small": round(large / small, 3) if large and small else None,
    }


def rate(count: int, start: datetime | None, end: datetime | None) -> float | None:
    span = seconds_between(start, end)
    return round(count / span, 1) if span else None


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def wait_until_delivered(
    stage: Stage, sink_url: str, baseline: int, source_id: int, timeout: float
) -> bool:
    """Poll the sink (cheap) until it has had as many items as there are events, then ask the
    rows; True once every event is delivered, False at the timeout. The rows are asked only
    then: on a million events the question costs half a minute of a core, which the drain
    it measures would pay."""
    events = database.count_events(source_id)
    began = time.monotonic()
    deadline = began + timeout
    reported = began
    while time.monotonic() < deadline:
        stage.supervisor.check_alive("worker")
        arrived = sink_items(sink_url) - baseline
        report = time.monotonic() - reported >= PROGRESS_SECONDS
        if arrived >= events and not database.undelivered(source_id):
            return True
        if report:
            reported = time.monotonic()
            elapsed = reported - began
            step("drain", f"{arrived:,} of {events:,} at the sink after {elapsed:.0f} s")
        time.sleep(POLL_SECONDS)
    step("drain", f"TIMEOUT: not all delivered within {timeout:.0f} s")
    return False


def sink_items(sink_url: str) -> int:
    return httpx.get(f"{sink_url}/stats", timeout=10).json()["items"]


class Sender:
    """Closed loop: `connections` threads, each posting the next batch once its last one was
    answered; a failed batch is sent again (the same messageIds: a repeat is deduplicated)."""

    def __init__(self, url: str, write_key: str, drain: Drain) -> None:
        self.url = urlsplit(url)
        self.headers = request_headers(write_key)
        self.events = drain.events
        self.requests = -(-drain.events // BATCH_SIZE)
        self.connections = drain.connections
        self.lock = threading.Lock()
        self.next_request = 0
        self.sent = 0
        self.failed = 0
        self.retried = 0

    def take(self) -> int | None:
        with self.lock:
            if self.next_request >= self.requests:
                return None
            self.next_request += 1
            return self.next_request - 1

    def run(self) -> None:
        connection = None
        while (index := self.take()) is not None:
            ids = self.message_ids(index)
            body = batch_json(ids)
            for attempt in range(RETRIES + 1):
                connection = connection or self.connect()
                if self.post(connection, body):
                    with self.lock:
                        self.sent += len(ids)
                        self.retried += attempt
                    break
                connection.close()
                connection = None
            else:
                with self.lock:
                    self.failed += 1

    def message_ids(self, request: int) -> list[str]:
        first = request * BATCH_SIZE
        return [f"drain-{number}" for number in range(first, min(first + BATCH_SIZE, self.events))]

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=60)

    def post(self, connection: http.client.HTTPConnection, body: bytes) -> bool:
        try:
            connection.request("POST", self.url.path, body, self.headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            return False
        return response.status == 200


def ingest(web_url: str, write_key: str, drain: Drain) -> dict[str, Any]:
    """All the events through /v1/batch, with progress; what it took."""
    sender = Sender(f"{web_url}/v1/batch", write_key, drain)
    threads = [threading.Thread(target=sender.run, daemon=True) for _ in range(drain.connections)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    reported = began
    while alive := [thread for thread in threads if thread.is_alive()]:
        alive[0].join(PROGRESS_SECONDS)
        if time.monotonic() - reported >= PROGRESS_SECONDS:
            reported = time.monotonic()
            step("drain", f"ingest: {sender.sent:,} of {drain.events:,} events acknowledged")
    seconds = time.monotonic() - began
    return {
        "seconds": round(seconds, 1),
        "events_per_s": round(sender.sent / seconds, 1),
        "acknowledged": sender.sent,
        "failed_requests": sender.failed,
        "retried_requests": sender.retried,
        "connections": drain.connections,
    }
