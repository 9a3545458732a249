"""`make bench-scale`: make bench's figures on a FULL database, beside the same on an empty one.

On a database of its own (created fresh, migrated) and Redis database 13, it measures /v1/batch
and /v1/track with make bench's harness on the empty database; then preloads BENCH_SCALE_EVENTS
events over the retention period (bench/preload.py: pure SQL, with a delivery each, an attempt
per batch of 100 and their links, plus at least one whole day past retention), runs the
retention job once on it, and measures again: ingest, end to end at 1,000 events/s, the
delivery log through the admin, table sizes; then, on the full database, one destination's
delivery capacity (bench/delivery.py: the event tables are kept, each step's backlog marked
routed and its destination disabled instead) and a backlog of BENCH_DRAIN_EVENTS events
drained (bench/drain.py, default 1,000,000). It prints a table and writes
bench/results/scale.json; whatever it started is stopped at the end, on Ctrl-C and on errors
too. Logs: var/bench-scale/.

Knobs (environment): BENCH_SCALE_EVENTS (events kept by retention, default 5,000,000),
BENCH_SCALE_DATABASE_URL, BENCH_SCALE_REDIS_URL, BENCH_SCALE_SOAK_SECONDS (default 90),
BENCH_SCALE_ROUNDS (wrk rounds per endpoint, default make bench's), make bench's
BENCH_SECONDS and BENCH_E2E_EPS, the capacity search's BENCH_CAPACITY* and the drain's
BENCH_DRAIN*.
"""

import os
import sys
from pathlib import Path

# Run as a script, this file's folder is on sys.path but the project root is not.
BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

import dataclasses  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

import redis  # noqa: E402

from bench import (  # noqa: E402
    claims,
    database,
    delivery,
    drain,
    endtoend,
    preload,
    report,
    scale_measure,
    tracking,
    wrk,
)
from bench import run as bench  # noqa: E402
from bench.processes import Supervisor, interrupt_on_signals  # noqa: E402

RUN_DIR = BASE_DIR / "var" / "bench-scale"
# Nothing listens there: the preloaded deliveries' destination is never to be reached (its
# retrying deliveries fall due hours after the run).
PRELOAD_DESTINATION_URL = "http://127.0.0.1:9"
DRAIN_EVENTS = 1_000_000


@dataclass(frozen=True)
class Plan:
    """make bench's plan (the same loads, a shorter soak) on the scale run's own stores."""

    database_url: str
    redis_url: str
    loads: tracking.Loads
    soak: endtoend.Soak
    events: int
    rounds: int
    capacity: delivery.Search
    drain: drain.Drain

    @classmethod
    def from_env(cls) -> "Plan":
        base = bench.Plan.from_env()
        soak_seconds = float(os.environ.get("BENCH_SCALE_SOAK_SECONDS", "90"))
        return cls(
            database_url=os.environ.get(
                "BENCH_SCALE_DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/switchyard_bench_scale",
            ),
            redis_url=os.environ.get("BENCH_SCALE_REDIS_URL", "redis://127.0.0.1:6379/13"),
            loads=base.loads,
            # make bench's warm-up rule, on the shorter soak.
            soak=dataclasses.replace(
                base.soak, seconds=soak_seconds, warmup_seconds=min(30.0, soak_seconds / 4)
            ),
            events=int(os.environ.get("BENCH_SCALE_EVENTS", "5000000")),
            rounds=int(os.environ.get("BENCH_SCALE_ROUNDS", str(tracking.ROUNDS))),
            capacity=base.capacity,
            drain=drain.Drain.from_env(DRAIN_EVENTS),
        )


def main() -> int:
    interrupt_on_signals()
    plan = Plan.from_env()
    wrk.wrk_binary()  # fail before starting anything when it is missing
    # run_all reads ROUNDS at each call: fewer rounds, the same code.
    tracking.ROUNDS = plan.rounds
    env = bench.child_environment(plan)
    os.environ.update(env)  # this process reads and preloads the same database through Django
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    supervisor = Supervisor(RUN_DIR)
    started = time.monotonic()
    results: dict[str, Any] = {}
    try:
        run(supervisor, plan, env, results)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping what the benchmark started", file=sys.stderr)
        return 130
    except Exception as error:
        # Half an hour of measurements is worth keeping even when a later phase fails.
        if results:
            kept = scale_measure.write(results | {"error": repr(error)})
            print(f"failed; what was measured is in {kept}", file=sys.stderr)
        raise
    finally:
        supervisor.stop_all()
        redis.Redis.from_url(plan.redis_url).flushdb()
    results["bench_seconds"] = round(time.monotonic() - started)
    print()
    print(scale_measure.table(results))
    for note in report.delivery_notes(results):
        print(note)
    if steps := delivery.steps_table(results):
        print()
        print(steps)
    print()
    print(scale_measure.sizes_table(results["table_sizes"]))
    print()
    print(report.describe(results["machine"]))
    print(f"results: {scale_measure.write(results)}; logs: {RUN_DIR}")
    return 0


def run(supervisor: Supervisor, plan: Plan, env: dict[str, str], results: dict[str, Any]) -> None:
    """Every phase in turn; `results` fills as they go."""
    clock = Phases()
    web_url, sources = bench.start(supervisor, plan.database_url, plan.redis_url, env)
    results |= {"machine": bench.machine(env) | server_extras(), "phases_s": clock.laps}
    clock.lap("start")
    bench.step("empty database", "/v1/track and /v1/batch, as make bench measures them")
    results |= suffixed(tracking.run_all(supervisor, web_url, sources, plan.loads), "_empty")
    keep_logs("wrk-*.log", RUN_DIR / "empty")  # the full database's rounds reuse their names
    clock.lap("ingest_empty")
    # The preload starts from empty tables: its rows, sizes and ids are the preload's alone.
    database.forget_events()
    loaded, figures = fill(plan)
    results |= figures
    clock.lap("preload")
    # Sizes before retention: all that was preloaded is there, and nothing else.
    rows = scale_measure.row_counts()
    sizes = scale_measure.table_sizes(rows)
    results |= {"table_sizes": sizes}
    results["bytes_per_event"] = scale_measure.bytes_per_event(sizes, loaded.events)
    bench.step("retention", "one round of the hourly job on the preloaded tables")
    results |= scale_measure.retire(rows)
    clock.lap("retention")
    results |= measure_full(supervisor, plan, env, web_url, loaded, clock)
    bench.step("claims", "a million deliveries waiting: the claim's plan and time")
    results |= claims.run()
    clock.lap("claims")
    # Last: each capacity step and the drain disable the destinations before them.
    stage = delivery.Stage(supervisor, env, RUN_DIR, web_url, truncate=False)
    results |= bench.delivery_capacity(stage, plan.capacity)
    clock.lap("delivery_capacity")
    results |= bench.backlog_drain(stage, plan.drain)
    clock.lap("backlog_drain")
    results |= derived(results)
    results["machine"]["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]


def keep_logs(pattern: str, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    for log in RUN_DIR.glob(pattern):
        log.rename(folder / log.name)


def fill(plan: Plan) -> tuple[preload.Load, dict[str, Any]]:
    """The preload, a chunk at a time with its progress, then ANALYZE; returns what it was
    and its figures."""
    from django.conf import settings

    per_day, oldest, now = preload_window(plan.events, settings.EVENT_RETENTION_DAYS)
    bench.step("preload", f"{per_day:,.0f} events a day from {oldest:%Y-%m-%d %H:%M} UTC to now")
    load = preload.prepare(preload_target(), per_day, oldest, now)
    began = time.monotonic()
    for lo in range(0, load.events, preload.CHUNK):
        done = preload.insert_chunk(load, lo)
        rate = done / (time.monotonic() - began)
        left = (load.events - done) / rate
        bench.step(
            "preload", f"{done:,} of {load.events:,} events ({rate:,.0f}/s, {left:.0f} s left)"
        )
    seconds = time.monotonic() - began
    preload.finish(load)
    return load, {
        "preloaded_events": load.events,
        "preload": {
            # BENCH_SCALE_EVENTS over retention, at this rate, plus the older days' share.
            "events_per_day": round(per_day),
            "from": oldest,
            "to": now,
            "events_per_s": round(load.events / seconds),
            "insert_seconds": round(seconds, 1),
            "analyze_seconds": round(time.monotonic() - began - seconds, 1),
        },
    }


def preload_target() -> preload.Target:
    """A source, a Metronome destination and its preset mapping, made by the fixtures."""
    from bench import fixtures
    from ingest.sources import create_source

    source = create_source("bench: preload")[0]
    destination = fixtures.create_sink_destination(
        PRELOAD_DESTINATION_URL, source, name="bench preload"
    )
    return preload.Target(source, destination, destination.mappings.get())


def preload_window(events: int, retention_days: int) -> tuple[float, datetime, datetime]:
    """`events` over the retention period, and the same rate back to the start of the UTC day
    before it: at least one whole day (one daily partition) is past retention."""
    now = datetime.now(UTC)
    day_before = now - timedelta(days=retention_days + 1)
    oldest = day_before.replace(hour=0, minute=0, second=0, microsecond=0)
    return events / retention_days, oldest, now


def measure_full(
    supervisor: Supervisor,
    plan: Plan,
    env: dict[str, str],
    web_url: str,
    loaded: preload.Load,
    clock: "Phases",
) -> dict[str, Any]:
    """make bench's ingest and end to end on the full database, then the delivery log."""
    from bench import fixtures
    from ingest.sources import create_source

    # Sources of their own: the empty run's messageIds come again, and must not be dropped
    # as duplicates (per source) whatever the dedup keeps.
    sources = fixtures.Sources(
        *(create_source(f"bench scale: {name}")[0] for name in ("/v1/track", "/v1/batch", "e2e"))
    )
    bench.step("full database", "/v1/track and /v1/batch, as make bench measures them")
    results = suffixed(tracking.run_all(supervisor, web_url, sources, plan.loads), "_at_scale")
    clock.lap("ingest_at_scale")
    results["routed_before_soak"] = scale_measure.mark_routed()
    soak = plan.soak
    bench.step("end to end", f"{soak.events_per_second:,} events/s for {soak.seconds:g} s")
    e2e = endtoend.run(supervisor, soak, env, RUN_DIR, web_url, sources.e2e, forget_events=False)
    results |= suffixed(e2e, "_at_scale")
    clock.lap("end_to_end")
    bench.step("delivery log", "first page and a messageId search, through the admin")
    # A preloaded event well inside retention: three quarters of the way to now.
    event_id = loaded.params["event_base"] + loaded.events * 3 // 4
    message_id = scale_measure.preloaded_message_id(event_id)
    results |= scale_measure.delivery_log_ms(message_id)
    clock.lap("delivery_log")
    return results


def suffixed(measured: dict[str, Any], suffix: str) -> dict[str, Any]:
    return {f"{key}{suffix}": value for key, value in measured.items()}


def derived(results: dict[str, Any]) -> dict[str, Any]:
    from django.conf import settings

    return {
        "dedup_window_hours": getattr(settings, "DEDUP_WINDOW_HOURS", 24),
        "ingest_ratio_batch": ratio(results, "batch_events_per_s"),
        "ingest_ratio_track": ratio(results, "track_rps"),
    }


def ratio(results: dict[str, Any], key: str) -> float | None:
    """At scale / empty; None (null) when the empty run measured nothing."""
    empty = results[f"{key}_empty"]
    return results[f"{key}_at_scale"] / empty if empty else None


def server_extras() -> dict[str, Any]:
    """What else shapes these figures: a server without autovacuum leaves it all to ANALYZE."""
    return {"postgresql_autovacuum": database.server_settings(("autovacuum",)).get("autovacuum")}


class Phases:
    """Seconds each phase took, for the results: where the run's time went."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.last = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps[name] = round(now - self.last, 1)
        self.last = now


if __name__ == "__main__":
    sys.exit(main())
