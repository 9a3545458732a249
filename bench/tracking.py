"""The Tracking API benchmarks: the ceiling, /v1/track and /v1/batch, each with wrk.

A short warm-up on each endpoint (imports, connections, caches) comes first; ingest runs are
checked against the database: an event counts once committed.
"""

import statistics
from dataclasses import dataclass
from typing import Any

import httpx

from bench import database, wrk
from bench.payloads import batch_json, event_json, request_headers
from bench.processes import Supervisor
from bench.wrk import Load, WrkResult, run_wrk

CEILING_PATH = "/bench/ceiling"
TRACK_PATH = "/v1/track"
BATCH_PATH = "/v1/batch"
ROUNDS = 7


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    path: str
    write_key: str
    source_id: int | None = None
    batch_size: int | None = None

    @property
    def url(self) -> str:
        return self.base_url + self.path


@dataclass(frozen=True)
class IngestRun:
    wrk: WrkResult
    # Rows the run added to the database (None for the ceiling, which stores nothing).
    committed_events: int | None

    events_per_request: int

    def accepted_per_second(self) -> float:
        """Events both acknowledged (2xx) and committed, per second."""
        acknowledged = self.wrk.ok_requests * self.events_per_request
        if self.committed_events is not None:
            acknowledged = min(acknowledged, self.committed_events)
        return acknowledged / self.wrk.seconds


def preflight(endpoint: Endpoint) -> None:
    """One request by hand, so that a redirect or an error never passes for throughput
    (wrk counts a 3xx as a success)."""
    body = (
        batch_json([f"preflight-{i}" for i in range(endpoint.batch_size)])
        if endpoint.batch_size
        else event_json("preflight")
    )
    response = httpx.post(
        endpoint.url, content=body, headers=request_headers(endpoint.write_key), timeout=30
    )
    if response.status_code != 200 or response.json() != {"success": True}:
        raise RuntimeError(
            f"{endpoint.path} answered {response.status_code} {response.text[:500]!r}"
        )


def measure(
    supervisor: Supervisor, endpoint: Endpoint, load: Load, tag: str, events_per_request: int
) -> IngestRun:
    authorization = request_headers(endpoint.write_key)["Authorization"]
    before = committed(endpoint)
    result = run_wrk(supervisor, endpoint.url, authorization, load, tag, endpoint.batch_size)
    after = committed(endpoint)
    added = None if before is None or after is None else after - before
    return IngestRun(result, added, events_per_request)


def committed(endpoint: Endpoint) -> int | None:
    if endpoint.source_id is None:
        return None
    return database.count_events(endpoint.source_id)


@dataclass(frozen=True)
class Loads:
    single: Load
    batch: Load
    warmup_seconds: float
    batch_size: int


def run_all(supervisor: Supervisor, web_url: str, sources: Any, loads: Loads) -> dict[str, Any]:
    """The ceiling, /v1/track and /v1/batch on the same server, in alternating rounds.

    Each endpoint is measured ROUNDS times, each time on fresh connections, and its median
    round counts. The endpoints alternate, so that a ceiling round and the /v1/track round
    after it see the same machine: the ratio is the median of those rounds' ratios. On a
    shared (virtual) machine whole seconds now and then run at half speed, which moves a
    median of rates by tens of per cent but a pair's ratio much less.
    """
    key = sources.track.write_key
    batch_key = sources.batch.write_key
    endpoints = {
        "ceiling": (Endpoint(web_url, CEILING_PATH, key), loads.single, 1),
        "track": (Endpoint(web_url, TRACK_PATH, key, sources.track.pk), loads.single, 1),
        "batch": (
            Endpoint(web_url, BATCH_PATH, batch_key, sources.batch.pk, loads.batch_size),
            loads.batch,
            loads.batch_size,
        ),
    }
    for endpoint, _, _ in endpoints.values():
        preflight(endpoint)
    runs: dict[str, list[IngestRun]] = {name: [] for name in endpoints}
    for round_number in range(ROUNDS):
        for name, (endpoint, load, size) in endpoints.items():
            if round_number == 0:
                warm = Load(load.threads, load.connections, loads.warmup_seconds)
                measure(supervisor, endpoint, warm, f"{name}-warmup", size)
            print(f"[bench] {name}: round {round_number + 1} of {ROUNDS}", flush=True)
            runs[name].append(measure(supervisor, endpoint, load, f"{name}-{round_number}", size))
    rates = {name: [run.accepted_per_second() for run in runs[name]] for name in runs}
    median = {name: statistics.median(values) for name, values in rates.items()}
    pairs = zip(rates["ceiling"], rates["track"], strict=True)
    ratios = [track / ceiling for ceiling, track in pairs]
    return {
        "ceiling_rps": median["ceiling"],
        "track_rps": median["track"],
        "track_ratio": statistics.median(ratios),
        "track_ratio_rounds": [round(ratio, 3) for ratio in ratios],
        "batch_events_per_s": median["batch"],
        "load_generator": wrk.describe(),
        "wrk": {name: [details(run) for run in name_runs] for name, name_runs in runs.items()},
    }


def details(run: IngestRun) -> dict[str, Any]:
    return {
        "requests": run.wrk.requests,
        "errors": run.wrk.errors,
        "seconds": round(run.wrk.seconds, 2),
        "latency_p50_ms": run.wrk.latency_p50_ms,
        "latency_p99_ms": run.wrk.latency_p99_ms,
        "committed_events": run.committed_events,
        "accepted_per_second": round(run.accepted_per_second()),
    }
