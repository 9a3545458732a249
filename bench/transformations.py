"""Benchmark of JavaScript transformations (issue 20: a simple transformation runs at least
20,000 events per second per core).

It measures the router's own path, `destinations.delivery.transforming.run_chain`, with a
one-step chain of a RudderStack-style transformation (rename a property, drop bots: a tenth
of the events), on realistic ~1 KB Segment track events (bench/engines.py's), in this process.
The rate is per core by CPU time: QuickJS runs on the calling thread, and CPU time leaves
out whatever else the machine is doing; the wall-clock rate is reported beside it.

    python bench/transformations.py [seconds]

or, with Django set up, ``run(seconds)``, which returns the measurements as a dict.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

# Run as a script, this file's folder is on sys.path but the project root is not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engines import EVENT

TARGET_PER_SECOND = 20_000

# What the throughput is measured on: RudderStack's contract, null drops the event.
CODE = """\
export function transformEvent(event, metadata) {
  const properties = event.properties || {};
  if (properties.bot === true) return null;
  if ("coupon" in properties) {
    properties.coupon_code = properties.coupon;
    delete properties.coupon;
  }
  return event;
}
"""

# What the end-to-end soak's events go through (bench/fixtures.py): the same rename, no drop,
# so that the delivered count stays comparable with the offered one.
RENAME_CODE = """\
export function transformEvent(event, metadata) {
  const properties = event.properties || {};
  if ("coupon" in properties) {
    properties.coupon_code = properties.coupon;
    delete properties.coupon;
  }
  return event;
}
"""

# One event in DROP_EVERY is a bot's, which the transformation drops.
DROP_EVERY = 10
# Well away from the ids of real versions, which share the process's script cache.
VERSION_ID = -20
# The metadata a destination leg gives (routing.leg_metadata); messageId is added per event.
METADATA = {
    "sourceId": "1",
    "sourceName": "bench: end to end",
    "destinationId": "1",
    "destinationName": "bench sink",
    "destinationType": "metronome",
}


def events() -> list[dict[str, Any]]:
    """DROP_EVERY events with messageIds of their own, the last one a bot's."""
    made = []
    for number in range(DROP_EVERY):
        properties = dict(EVENT["properties"], bot=number == DROP_EVERY - 1)
        made.append(dict(EVENT, messageId=f"bench-{number}", properties=properties))
    return made


def _rate(call: Callable[[], object], seconds: float) -> tuple[int, float, float]:
    """Call ``call`` in batches until ``seconds`` have passed on the wall clock; returns
    (calls, CPU seconds, wall seconds)."""
    batch = 100
    calls = 0
    cpu_start = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            call()
        calls += batch
        now = time.perf_counter()
        if now >= deadline:
            return calls, time.process_time() - cpu_start, now - start


def run(seconds: float = 3.0) -> dict[str, Any]:
    """Measure run_chain for ``seconds`` (and the sandbox alone for a quarter of that)."""
    from destinations.delivery.transforming import SCRIPTS, Step, Transformed, run_chain

    chain = (Step(VERSION_ID, "bench: rename coupon, drop bots", 1, CODE),)
    inputs = [Transformed.untouched(event) for event in events()]
    loading = time.perf_counter()
    script = SCRIPTS.get(chain[0])  # loaded once per process, as in the worker
    load_ms = (time.perf_counter() - loading) * 1000
    outputs = [run_chain(chain, given, METADATA) for given in inputs]
    check(outputs)

    position = 0
    kept = 0

    def transform() -> None:
        nonlocal position, kept
        kept += len(run_chain(chain, inputs[position], METADATA).forms)
        position = (position + 1) % len(inputs)

    calls, cpu, wall = _rate(transform, seconds)
    sandbox_calls, sandbox_cpu, _ = _rate(
        lambda: script.transform(EVENT, METADATA | {"messageId": EVENT["messageId"]}), seconds / 4
    )
    per_second = calls / cpu
    return {
        "code": CODE,
        "event_bytes": len(orjson.dumps(EVENT)),
        "events": calls,
        "events_kept": kept,
        "dropped_pct": round((calls - kept) / calls * 100, 1),
        "cpu_seconds": round(cpu, 3),
        "wall_seconds": round(wall, 3),
        "events_per_second": round(per_second),
        "events_per_wall_second": round(calls / wall),
        "microseconds_per_event": round(1e6 / per_second, 2),
        # The QuickJS call alone: what run_chain adds on top of it is the rest.
        "sandbox_transforms_per_second": round(sandbox_calls / sandbox_cpu),
        "script_load_ms": round(load_ms, 2),
        "limits": {"cpu_ms": script.limits.cpu_ms, "memory_mb": script.limits.memory_mb},
        "target_per_second": TARGET_PER_SECOND,
        "meets_target": per_second >= TARGET_PER_SECOND,
    }


def check(outputs: list) -> None:
    """The code does what the figure claims: the bot dropped, the others renamed."""
    *people, bot = outputs
    if bot.forms or bot.failure:
        raise AssertionError(f"the bot's event must be dropped, not {bot}")
    for transformed in people:
        if transformed.failure or len(transformed.forms) != 1:
            raise AssertionError(f"an event must come out once, not {transformed}")
        properties = transformed.forms[0].payload["properties"]
        if "coupon" in properties or properties.get("coupon_code") != "SPRING24":
            raise AssertionError(f"coupon must become coupon_code: {properties}")


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    django.setup()
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    results = run(seconds)
    for name, value in results.items():
        if name != "code":
            print(f"{name}: {value}")
    print(
        f"{results['events_per_second']:,} events/s per core through a transformation "
        f"(target {TARGET_PER_SECOND:,}): {'OK' if results['meets_target'] else 'BELOW TARGET'}"
    )


if __name__ == "__main__":
    main()
