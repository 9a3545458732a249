"""Delivery capacity: the highest offered rate that one destination keeps up with.

Keeping up is the soak's target (docs/performance.md, "Targets"): delivered >= 99 % of offered, p95
(receivedAt -> delivered) <= 2 s. For each mapping batch size (100, Metronome's preset, and 1: a
request per event) the search offers a rate for a short soak (bench/endtoend.py's open-loop
generator posting batches of 100 to /v1/batch, the Celery worker and beat as production runs them,
the local sink, through the destination transformation), judges only the steady window after the
warm-up, and doubles the rate while it passes (halves it while it fails), then bisects
between the highest pass and the lowest fail. Each step starts clean: worker and beat stopped,
the event tables emptied (make bench-scale: the backlog marked routed and the earlier
destinations disabled instead, the full database kept), Redis emptied, a fresh source and
destination, worker and beat started again. Ingest runs on the same machine, so the capacity
is the whole path's: ingest, routing, the transformation and dispatch.

Knobs (environment): BENCH_CAPACITY=0 skips it; BENCH_CAPACITY_STEP_SECONDS (each soak,
default 30), BENCH_CAPACITY_WARMUP_SECONDS (default a quarter of a step, at most 10),
BENCH_CAPACITY_START_EPS (default 1,000), BENCH_CAPACITY_MIN_EPS (the search's floor, default
100), BENCH_CAPACITY_MAX_EPS (its ceiling, default 32,000), BENCH_CAPACITY_BISECTIONS (default
2), BENCH_CAPACITY_BATCH_SIZES (default "100,1").
"""

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis

from bench import database, endtoend, openloop, report
from bench.endtoend import Soak
from bench.openloop import OpenLoopResult
from bench.processes import Supervisor

# The soak's target (docs/performance.md, "Targets"; report.py's rows for the soak).
MIN_RATIO = 0.99
MAX_P95_S = 2.0
# After the load: an event received before its end and delivered within MAX_P95_S is in by
# then; the ones still out count as later than any delivered (database.window_latency).
SETTLE_SECONDS = MAX_P95_S + 3.0
INGEST_BATCH_SIZE = 100


@dataclass(frozen=True)
class Search:
    enabled: bool
    step_seconds: float
    warmup_seconds: float
    start_eps: int
    min_eps: int
    max_eps: int
    bisections: int
    batch_sizes: tuple[int, ...]

    @classmethod
    def from_env(cls) -> "Search":
        seconds = float(os.environ.get("BENCH_CAPACITY_STEP_SECONDS", "30"))
        warmup = os.environ.get("BENCH_CAPACITY_WARMUP_SECONDS")
        sizes = os.environ.get("BENCH_CAPACITY_BATCH_SIZES", "100,1")
        return cls(
            enabled=os.environ.get("BENCH_CAPACITY", "1") != "0",
            step_seconds=seconds,
            warmup_seconds=float(warmup) if warmup else min(10.0, seconds / 4),
            start_eps=int(os.environ.get("BENCH_CAPACITY_START_EPS", "1000")),
            min_eps=int(os.environ.get("BENCH_CAPACITY_MIN_EPS", "100")),
            max_eps=int(os.environ.get("BENCH_CAPACITY_MAX_EPS", "32000")),
            bisections=int(os.environ.get("BENCH_CAPACITY_BISECTIONS", "2")),
            batch_sizes=tuple(int(size) for size in sizes.split(",") if size.strip()),
        )


@dataclass(frozen=True)
class Stage:
    """What a capacity step or the drain runs on: the web server, the environment, where the
    logs go, and whether the event tables may be emptied between steps."""

    supervisor: Supervisor
    env: dict[str, str]
    run_dir: Path
    web_url: str
    truncate: bool = True


def step(name: str, detail: str) -> None:
    print(f"[bench] {name}: {detail}", flush=True)


def run(stage: Stage, search: Search) -> dict[str, Any]:
    """The search for each batch size; the capacities, and every step in the detail."""
    sink_url = restart_sink(stage)
    results: dict[str, Any] = {}
    detail: dict[str, Any] = {
        "criteria": {"min_ratio": MIN_RATIO, "max_p95_s": MAX_P95_S},
        "search": asdict(search),
        "transformation": True,
        "ingest_batch_size": INGEST_BATCH_SIZE,
    }
    for size in search.batch_sizes:
        found = search_rates(stage, search, sink_url, size)
        results[f"delivery_capacity_eps_batch{size}"] = found["capacity_eps"]
        detail[f"batch{size}"] = found
    return results | {"delivery_capacity": detail, "capacity_load_generator": openloop.NAME}


def search_rates(stage: Stage, search: Search, sink_url: str, batch_size: int) -> dict[str, Any]:
    """Double (or halve) from the start until a pass and a fail bracket the capacity, then
    bisect; returns the highest rate that passed (None if none did) and the steps."""
    steps: list[dict[str, Any]] = []

    def passes(rate: int) -> bool:
        steps.append(capacity_step(stage, search, sink_url, batch_size, rate, len(steps)))
        return steps[-1]["passed"]

    passed, failed = bracket(passes, search)
    for _ in range(search.bisections):
        if passed is None or failed is None or failed - passed <= 1:
            break
        middle = (passed + failed) // 2
        if passes(middle):
            passed = middle
        else:
            failed = middle
    return {
        "capacity_eps": passed,
        "lowest_fail_eps": failed,
        # Passed at BENCH_CAPACITY_MAX_EPS: the capacity is at least that.
        "capped": failed is None and passed is not None,
        "steps": steps,
    }


def bracket(passes: Callable[[int], bool], search: Search) -> tuple[int | None, int | None]:
    """(highest pass, lowest fail) once both are known or the floor or ceiling is reached."""
    passed = failed = None
    rate = search.start_eps
    while True:
        if passes(rate):
            passed = rate
            if failed is not None or rate * 2 > search.max_eps:
                return passed, failed
            rate *= 2
        else:
            failed = rate
            if passed is not None or rate // 2 < search.min_eps:
                return passed, failed
            rate //= 2


def capacity_step(
    stage: Stage, search: Search, sink_url: str, batch_size: int, rate: int, number: int
) -> dict[str, Any]:
    """One soak at `rate` from a clean start; its figures and whether it kept up."""
    tag = f"capacity-batch{batch_size}-{number + 1}"
    clean_slate(stage, tag)
    destination, source = fresh_destination(sink_url, f"{tag} at {rate}", batch_size, True)
    worker_pid = start_delivery_engine(stage)
    soak = Soak(rate, INGEST_BATCH_SIZE, search.step_seconds, search.warmup_seconds)
    load, _ = endtoend.run_soak(stage.supervisor, soak, stage.web_url, source.write_key, worker_pid)
    time.sleep(SETTLE_SECONDS)
    measured = judge(soak, load, source.pk, destination.pk)
    measured["worker_log"] = f"worker-{tag}.log"
    stop_delivery_engine(stage, tag)
    p95 = "undelivered" if measured["p95_s"] is None else f"{measured['p95_s']:.2f} s"
    step(
        "capacity",
        f"batch {batch_size}, {rate:,} events/s offered: {measured['delivered_eps']:,.0f}/s "
        f"delivered ({measured['ratio']:.1%}), p95 {p95}: "
        f"{'pass' if measured['passed'] else 'FAIL'}",
    )
    return measured


def judge(soak: Soak, load: OpenLoopResult, source_id: int, destination_id: int) -> dict[str, Any]:
    """The steady window's deliveries per second against the offered rate, and the p95 of
    the events received in it."""
    steady_start = load.started_at + timedelta(seconds=soak.warmup_seconds)
    seconds = (load.ended_at - steady_start).total_seconds()
    delivered = database.delivered_between(destination_id, steady_start, load.ended_at)
    window = database.window_latency(source_id, steady_start, load.ended_at)
    rate = delivered / seconds
    ratio = rate / soak.events_per_second
    return {
        "offered_eps": soak.events_per_second,
        "delivered_eps": round(rate, 1),
        "ratio": round(ratio, 4),
        "p50_s": finite(window.p50_s),
        "p95_s": finite(window.p95_s),
        "passed": ratio >= MIN_RATIO and window.p95_s <= MAX_P95_S,
        "steady_window_s": round(seconds, 1),
        "window_events": window.events,
        "window_undelivered": window.events - window.delivered,
        "generator": endtoend.generator_summary(load),
    }


def finite(value: float) -> float | None:
    """Seconds, or None (null) for an event never delivered or a window without events."""
    return round(value, 3) if math.isfinite(value) else None


def clean_slate(stage: Stage, tag: str) -> None:
    """No backlog from before: worker and beat stopped, the tables emptied (or the backlog
    forgotten), Redis's rings and queued tasks gone."""
    stop_delivery_engine(stage, f"before-{tag}")
    if stage.truncate:
        database.forget_events()
    else:
        database.forget_backlog()
    redis.Redis.from_url(stage.env["REDIS_URL"]).flushdb()


def fresh_destination(sink_url: str, name: str, batch_size: int | None, transform: bool) -> Any:
    """A source of its own (the generator's messageIds repeat from one step to the next, and
    are deduplicated per source) and the sink destination; returns (destination, source)."""
    from bench import fixtures
    from ingest.sources import create_source

    source = create_source(f"bench: {name}")[0]
    destination = fixtures.create_sink_destination(
        sink_url, source, f"bench sink: {name}", batch_size
    )
    if transform:
        fixtures.attach_transformation(destination, f"bench: rename coupon, {name}")
    return destination, source


def start_delivery_engine(stage: Stage) -> int:
    return endtoend.start_delivery_engine(stage.supervisor, stage.env, stage.run_dir)


def stop_delivery_engine(stage: Stage, tag: str) -> None:
    """Stop beat, then the worker; their logs are kept under the step's name (an earlier
    phase's, stopped by a clean slate, as before-<step>)."""
    for name in ("beat", "worker"):
        running = name in stage.supervisor.children
        stage.supervisor.stop(name)
        log = stage.run_dir / f"{name}.log"
        if running and log.exists():
            log.rename(stage.run_dir / f"{name}-{tag}.log")


def restart_sink(stage: Stage) -> str:
    """A sink of the delivery runs' own (the soak's, if any, stopped)."""
    stage.supervisor.stop("sink")
    return endtoend.start_sink(stage.supervisor, stage.env)


def steps_table(results: dict[str, Any]) -> str:
    """Every capacity step, in the order run, for under the main table."""
    detail = results.get("delivery_capacity") or {}
    lines = [("batch size", "offered", "delivered", "ratio", "p95", "")]
    for key, found in detail.items():
        if not key.startswith("batch"):
            continue
        for measured in found["steps"]:
            p95 = measured["p95_s"]
            lines.append(
                (
                    key.removeprefix("batch"),
                    report.format_value(measured["offered_eps"], "events/s"),
                    report.format_value(measured["delivered_eps"], "events/s"),
                    f"{measured['ratio']:.1%}",
                    "undelivered" if p95 is None else f"{p95:.3f} s",
                    "pass" if measured["passed"] else "fail",
                )
            )
    return report.render(lines) if len(lines) > 1 else ""
