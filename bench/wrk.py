"""Closed-loop load with wrk (https://github.com/wg/wrk), driven by the Lua scripts in lua/.

wrk keeps `connections` requests in flight for `seconds` and counts what came back; the
scripts give every event a messageId of its own and print one JSON line of results.
"""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.payloads import SENT_AT, event_parts
from bench.processes import Supervisor

LUA_DIR = Path(__file__).resolve().parent / "lua"
RESULT_MARK = "BENCH_RESULT "


@dataclass(frozen=True)
class Load:
    """How hard wrk pushes: its threads and the connections they keep busy."""

    threads: int
    connections: int
    seconds: float


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int
    latency_p50_ms: float
    latency_p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def ok_requests(self) -> int:
        return self.requests - self.errors


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed; `make bench` installs it (apt-get install wrk)")
    return path


def describe() -> str:
    """wrk's own version line (it prints it with its usage)."""
    output = subprocess.run([wrk_binary(), "--version"], capture_output=True, text=True)
    version = output.stdout.split("Copyright")[0].strip()
    return f"{version} (closed loop; bench/lua scripts give every event its own messageId)"


def run_wrk(
    supervisor: Supervisor,
    url: str,
    authorization: str,
    load: Load,
    tag: str,
    batch_size: int | None = None,
) -> WrkResult:
    """Run wrk against `url`; `tag` makes this run's messageIds unique, `batch_size` switches
    from one event per request to /v1/batch bodies."""
    head, tail = event_parts()
    script = "batch.lua" if batch_size else "single.lua"
    env = os.environ | {
        "BENCH_LUA_DIR": str(LUA_DIR),
        "BENCH_AUTHORIZATION": authorization,
        "BENCH_EVENT_HEAD": head,
        "BENCH_EVENT_TAIL": tail,
        "BENCH_RUN_TAG": tag,
        "BENCH_BATCH_SIZE": str(batch_size or 1),
        "BENCH_SENT_AT": SENT_AT,
    }
    argv = [
        wrk_binary(),
        f"--threads={load.threads}",
        f"--connections={load.connections}",
        f"--duration={load.seconds:g}s",
        "--timeout=10s",
        f"--script={LUA_DIR / script}",
        url,
    ]
    return parse(supervisor.run(f"wrk-{tag}", argv, env))


def parse(output: str) -> WrkResult:
    lines = [line for line in output.splitlines() if line.startswith(RESULT_MARK)]
    if not lines:
        raise RuntimeError(f"wrk printed no results:\n{output[-2000:]}")
    raw = json.loads(lines[-1].removeprefix(RESULT_MARK))
    error_keys = ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    return WrkResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        errors=sum(raw[key] for key in error_keys),
        latency_p50_ms=raw["latency_p50_us"] / 1000,
        latency_p99_ms=raw["latency_p99_us"] / 1000,
    )
