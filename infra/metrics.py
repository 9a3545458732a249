"""Prometheus metrics (docs/operations.md, "Metrics"; §8 of issue 8): what happened, counted in
Redis; what waits, read from the database when Prometheus scrapes, by gauges that the apps register
(this layer knows no app's models).

Counters live in Redis hashes so that every gunicorn and Celery process adds to the same
numbers with one pipelined round trip. A flushed Redis resets them to zero, which
Prometheus counters are built to tolerate. Recording is best effort: a metric never fails
a request or a delivery.
"""

import atexit
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

import redis
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from .redis_connection import client

log = logging.getLogger(__name__)

EVENTS = "switchyard:metrics:events"
DELIVERIES = "switchyard:metrics:deliveries"
ATTEMPTS = "switchyard:metrics:attempts"
TRANSFORMATIONS = "switchyard:metrics:transformations"
ROUTER = "switchyard:metrics:router"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CELERY_QUEUE = "celery"
SEPARATOR = "\x1f"  # unit separator: cannot appear in a source or destination name typed in
FLUSH_SECONDS = 1.0


class BufferedCounts:
    """Increments gathered in the process and added to Redis by a background thread every
    FLUSH_SECONDS, so that a Tracking API request pays no Redis round trip for its metrics.
    A process killed between two flushes loses at most that second of its counts."""

    def __init__(self, hash_name: str) -> None:
        self.hash_name = hash_name
        self.pending: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.flushing_pid: int | None = None

    def add(self, increments: dict[str, int]) -> None:
        with self.lock:
            # gunicorn forks its workers: each process starts its own flusher on first use.
            if self.flushing_pid != os.getpid():
                self.flushing_pid = os.getpid()
                self.pending = Counter()
                threading.Thread(target=self.flush_forever, name="metrics", daemon=True).start()
                atexit.register(self.flush)
            self.pending.update(increments)

    def flush(self) -> None:
        with self.lock:
            pending, self.pending = self.pending, Counter()
        if pending:
            _add(self.hash_name, pending)

    def flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()


ingest_counts = BufferedCounts(EVENTS)


def count_ingest(source: str, accepted: int, rejected: Counter[str]) -> None:
    increments = {key(source, "accepted"): accepted}
    increments |= {key(source, "rejected", code): n for code, n in rejected.items()}
    ingest_counts.add(increments)


def count_outcomes(destination: str, statuses: Counter[str]) -> None:
    _add(DELIVERIES, {key(destination, status): n for status, n in statuses.items()})


def count_transformation_failures(counts: Counter[tuple[str, str]]) -> None:
    """Events that transformations failed on, by (transformation, error code)."""
    _add(TRANSFORMATIONS, {key(name, code): n for (name, code), n in counts.items()})


def count_router_errors(counts: dict[str, int]) -> None:
    """What the router failed on: an event (failed alone, ROUTING_ERROR), a chunk (routed
    again in halves), an event dropped (not even its failure could be written)."""
    _add(ROUTER, counts)


def observe_attempts(destination: str, durations: list[float]) -> None:
    increments: Counter[str] = Counter()
    for seconds in durations:
        bucket = next((b for b in LATENCY_BUCKETS if seconds <= b), "+Inf")
        increments[key(destination, "le", str(bucket))] += 1
        increments[key(destination, "count")] += 1
    _add(ATTEMPTS, increments)
    _add_float(ATTEMPTS, key(destination, "sum"), sum(durations))


def key(*parts: str) -> str:
    return SEPARATOR.join(parts)


def _add(hash_name: str, increments: dict[str, int]) -> None:
    try:
        with client().pipeline(transaction=False) as pipe:
            for field, amount in increments.items():
                if amount:
                    pipe.hincrby(hash_name, field, amount)
            pipe.execute()
    except redis.RedisError:
        log.warning("could not count %s", hash_name, exc_info=True)


def _add_float(hash_name: str, field: str, amount: float) -> None:
    try:
        client().hincrbyfloat(hash_name, field, amount)
    except redis.RedisError:
        log.warning("could not count %s", hash_name, exc_info=True)


class SwitchyardCollector:
    """Builds every metric family at scrape time."""

    def collect(self) -> Iterator[Metric]:
        hashes = (EVENTS, DELIVERIES, ATTEMPTS, TRANSFORMATIONS, ROUTER)
        counts = {name: _read(name) for name in hashes}
        yield from event_metrics(counts[EVENTS])
        yield delivery_counter(counts[DELIVERIES])
        yield transformation_counter(counts[TRANSFORMATIONS])
        yield router_counter(counts[ROUTER])
        yield from waiting_gauges()
        yield attempt_histogram(counts[ATTEMPTS])


def _read(hash_name: str) -> dict[tuple[str, ...], float]:
    try:
        raw = client().hgetall(hash_name)
    except redis.RedisError:
        log.warning("could not read %s", hash_name, exc_info=True)
        return {}
    return {tuple(k.decode().split(SEPARATOR)): float(v) for k, v in raw.items()}


def event_metrics(counts: dict[tuple[str, ...], float]) -> Iterator[Metric]:
    received = CounterMetricFamily(
        "switchyard_events_received", "Events accepted by the Tracking API.", labels=["source"]
    )
    rejected = CounterMetricFamily(
        "switchyard_events_rejected",
        "Messages refused, by reason: a validation code or rate_limited.",
        labels=["source", "reason"],
    )
    for (source, kind, *code), value in sorted(counts.items()):
        if kind == "accepted":
            received.add_metric([source], value)
        else:
            rejected.add_metric([source, code[0]], value)
    yield received
    yield rejected


def delivery_counter(counts: dict[tuple[str, ...], float]) -> Metric:
    family = CounterMetricFamily(
        "switchyard_delivery_outcomes",
        "Outcomes of delivery attempts per item: delivered, retrying, failed.",
        labels=["destination", "status"],
    )
    for (destination, status), value in sorted(counts.items()):
        family.add_metric([destination, status], value)
    return family


def transformation_counter(counts: dict[tuple[str, ...], float]) -> Metric:
    family = CounterMetricFamily(
        "switchyard_transformation_failures",
        "Events a transformation failed on, by error code (TRANSFORMATION_TIMEOUT, ...).",
        labels=["transformation", "code"],
    )
    for (name, code), value in sorted(counts.items()):
        family.add_metric([name, code], value)
    return family


def router_counter(counts: dict[tuple[str, ...], float]) -> Metric:
    family = CounterMetricFamily(
        "switchyard_router_errors",
        "What the router failed on: event (failed alone with ROUTING_ERROR), chunk (routed "
        "again in halves), dropped (marked routed with nothing: see the log).",
        labels=["kind"],
    )
    for (kind,), value in sorted(counts.items()):
        family.add_metric([kind], value)
    return family


def register_gauges(read: Callable[[], Iterable[Metric]]) -> None:
    """Add gauges read at every scrape; apps call it from `AppConfig.ready`."""
    if read not in _gauge_readers:
        _gauge_readers.append(read)


_gauge_readers: list[Callable[[], Iterable[Metric]]] = []


def waiting_gauges() -> Iterator[Metric]:
    for read in _gauge_readers:
        yield from read()
    try:
        tasks = client().llen(CELERY_QUEUE)
    except redis.RedisError:
        return
    yield GaugeMetricFamily(
        "switchyard_tasks_queued", "Celery messages waiting in the broker.", value=tasks
    )


def attempt_histogram(counts: dict[tuple[str, ...], float]) -> Metric:
    family = HistogramMetricFamily(
        "switchyard_attempt_duration_seconds",
        "Time of each HTTP request to a destination.",
        labels=["destination"],
    )
    for destination in sorted({parts[0] for parts in counts}):
        cumulative, buckets = 0.0, []
        for bound in [*map(str, LATENCY_BUCKETS), "+Inf"]:
            cumulative += counts.get((destination, "le", bound), 0.0)
            buckets.append((bound, cumulative))
        family.add_metric([destination], buckets, counts.get((destination, "sum"), 0.0))
    return family
