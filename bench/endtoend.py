"""End to end and the soak: ingest -> transform and route -> deliver to a local sink, at a
fixed rate.

The sink destination's events go through a transformation that renames a property and keeps
every event (issue 20: end to end through a transformation), so the delivered count still
compares with the offered one. A Celery worker and beat run as in production; the open-loop
generator posts batches at the offered rate for the soak's length. Latency is read from the
rows (Delivery.delivered_at - Event.received_at) for the events received after the warm-up;
the worker's memory (parent and children) is read from /proc at the start and the end of that
same steady window.
"""

import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench import database, openloop
from bench.openloop import OpenLoop, OpenLoopResult
from bench.payloads import request_headers
from bench.processes import Supervisor, free_port, tree_rss_mb, wait_for_http

BIN = Path(sys.executable).parent
WORKER_NAME = "bench@%h"
# After the load stops, how long deliveries may still trickle in before the run is judged.
DRAIN_SECONDS = 30.0
RSS_SAMPLE_SECONDS = 10.0


@dataclass(frozen=True)
class Soak:
    events_per_second: int
    batch_size: int
    seconds: float
    warmup_seconds: float


def run(
    supervisor: Supervisor,
    soak: Soak,
    env: dict[str, str],
    run_dir: Path,
    web_url: str,
    source: Any,
    forget_events: bool = True,
    transform: bool = True,
) -> dict[str, Any]:
    """From an empty event table: the sink, the delivery engine, the soak, its numbers.
    `forget_events=False` keeps the tables as they are (make bench-scale's full database);
    `transform=False` delivers the events as they came, without a transformation."""
    from bench import fixtures  # models: importable once Django is set up

    if forget_events:
        database.forget_events()
    sink_url = start_sink(supervisor, env)
    destination = fixtures.create_sink_destination(sink_url, source)
    # Before the worker starts, so that every event of the soak goes through it.
    transformation = fixtures.attach_transformation(destination) if transform else None
    worker_pid = start_delivery_engine(supervisor, env, run_dir)
    load, rss = run_soak(supervisor, soak, web_url, source.write_key, worker_pid)
    print("[bench] end to end: load done, waiting for the last deliveries", flush=True)
    results = summarize(soak, load, rss, source.pk, sink_url)
    results["e2e"]["transformed_deliveries"] = transformed_deliveries(destination.pk)
    return results | {"e2e_load_generator": openloop.NAME, "e2e_transformation": transformation}


def transformed_deliveries(destination_id: int) -> int:
    """Delivered rows that a transformation made: all of them when the soak ran through one,
    else the figures would credit the transformation with deliveries it never touched. By
    destination, which takes only the soak's source: joined to the events, on tables no
    ANALYZE has seen, PostgreSQL chose a nested loop that ran for minutes."""
    from destinations.models import Delivery

    delivered = Delivery.objects.filter(
        destination_id=destination_id, status=Delivery.Status.DELIVERED
    )
    return delivered.filter(transformed_by__isnull=False).count()


def start_sink(supervisor: Supervisor, env: dict[str, str]) -> str:
    port = free_port()
    supervisor.start("sink", [sys.executable, "-m", "bench.sink", str(port)], env)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/stats", supervisor, "sink")
    return url


def start_delivery_engine(supervisor: Supervisor, env: dict[str, str], run_dir: Path) -> int:
    """The Celery worker (routing and dispatch) and beat (the sweeper), as `make run` runs them;
    returns the worker's pid once it answers a ping."""
    worker = [BIN / "celery", "-A", "project", "worker", "-n", WORKER_NAME, "-l", "warning"]
    pid = supervisor.start("worker", worker, env)
    beat = [BIN / "celery", "-A", "project", "beat", "-l", "warning"]
    supervisor.start("beat", [*beat, "-s", run_dir / "celerybeat-schedule"], env)
    wait_for_worker(supervisor)
    return pid


def wait_for_worker(supervisor: Supervisor, timeout: float = 60.0) -> None:
    from project.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.check_alive("worker")
        if app.control.ping(timeout=1.0):
            return
    raise TimeoutError(f"the Celery worker did not answer a ping within {timeout:.0f} s")


def run_soak(
    supervisor: Supervisor, soak: Soak, ingest_url: str, write_key: str, worker_pid: int
) -> tuple[OpenLoopResult, list[tuple[float, float]]]:
    """Offer the load; returns what the generator saw and the worker's RSS over time."""
    rate = soak.events_per_second / soak.batch_size
    generator = OpenLoop(
        f"{ingest_url}/v1/batch", request_headers(write_key), rate, soak.batch_size, soak.seconds
    )
    rss: list[tuple[float, float]] = [(0.0, tree_rss_mb(worker_pid))]
    start = time.monotonic()
    generator.start()
    try:
        while generator.thread.is_alive():
            generator.thread.join(RSS_SAMPLE_SECONDS)
            supervisor.check_alive("worker")
            rss.append((time.monotonic() - start, tree_rss_mb(worker_pid)))
    finally:
        generator.stop()
    return generator.join(), rss


def wait_for_drain(source_id: int) -> datetime:
    """Give the tail of the load time to be delivered; returns when the harness stopped."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline and database.undelivered(source_id):
        time.sleep(1.0)
    return datetime.now(UTC)


def summarize(
    soak: Soak,
    load: OpenLoopResult,
    rss: list[tuple[float, float]],
    source_id: int,
    sink_url: str,
) -> dict[str, Any]:
    settled = wait_for_drain(source_id)
    steady_start = load.started_at + timedelta(seconds=soak.warmup_seconds)
    steady_seconds = (load.ended_at - steady_start).total_seconds()
    stats = database.end_to_end(source_id, steady_start, load.ended_at)
    throughput = stats.delivered_in_window / steady_seconds
    rss_start = rss_at(rss, soak.warmup_seconds)
    rss_end = rss[-1][1]
    return {
        "e2e_offered_eps": soak.events_per_second,
        "e2e_throughput_eps": throughput,
        "e2e_throughput_ratio": throughput / soak.events_per_second,
        "e2e_p50_s": stats.p50_s,
        "e2e_p95_s": stats.p95_s,
        "e2e_p99_s": stats.p99_s,
        "worker_rss_start_mb": round(rss_start, 1),
        "worker_rss_end_mb": round(rss_end, 1),
        "worker_rss_growth_pct": (rss_end - rss_start) / rss_start * 100,
        "worker_rss_idle_mb": round(rss[0][1], 1),
        "e2e": {
            "soak": asdict(soak),
            "steady_window_s": round(steady_seconds, 1),
            "database": asdict(stats),
            "sink": httpx.get(f"{sink_url}/stats", timeout=10).json(),
            "generator": generator_summary(load),
            "worker_rss_mb_over_time": [(round(t), round(mb, 1)) for t, mb in rss],
            "drain_s": round((settled - load.ended_at).total_seconds(), 1),
        },
    }


def rss_at(samples: list[tuple[float, float]], moment: float) -> float:
    """The first sample taken at or after `moment` seconds into the soak."""
    return next((mb for at, mb in samples if at >= moment), samples[-1][1])


def generator_summary(load: OpenLoopResult) -> dict[str, Any]:
    return {
        "planned_requests": load.planned,
        "ok": load.ok,
        "failed": load.failed,
        "latency_p50_ms": round(load.latency_ms(0.5), 1),
        "latency_p99_ms": round(load.latency_ms(0.99), 1),
        "start_lag_p99_ms": round(load.start_lag_ms(0.99), 1),
        "start_lag_max_ms": round(max(load.start_lags, default=0) * 1000, 1),
    }
