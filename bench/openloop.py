"""Open-loop load at a fixed rate, for the end-to-end benchmark.

wrk is closed-loop: when the server slows down, it sends less, and the slowdown hides. Here
request i leaves at start + i / rate whatever happened to the ones before (as wrk2 does), from
a pool of threads large enough that a slow answer never holds the next request back; how late
requests left against that schedule is measured, so a generator that could not keep the rate
shows in the report.
"""

import http.client
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bench.payloads import batch_json

NAME = "bench/openloop.py (open loop, constant rate, Python threads, keep-alive)"
POOL_THREADS = 32


@dataclass
class OpenLoopResult:
    planned: int
    ok: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    start_lags: list[float] = field(default_factory=list)
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def latency_ms(self, quantile: float) -> float:
        return percentile(self.latencies, quantile) * 1000

    def start_lag_ms(self, quantile: float) -> float:
        return percentile(self.start_lags, quantile) * 1000


def percentile(values: list[float], quantile: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[round(quantile * 1000) - 1]


class OpenLoop:
    """POSTs batches of `batch_size` events to `url`, `rate` requests a second."""

    def __init__(
        self,
        url: str,
        headers: dict[str, str],
        rate: float,
        batch_size: int,
        seconds: float,
        body: Callable[[int], bytes] | None = None,
    ) -> None:
        """`body(index)` is request index's body; by default, batch_size copies of the bench
        event, each with a messageId of its own."""
        self.url = urlsplit(url)
        self.body = body or self.copies
        self.headers = headers
        self.rate = rate
        self.batch_size = batch_size
        self.result = OpenLoopResult(planned=round(rate * seconds))
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.local = threading.local()
        self.thread = threading.Thread(target=self.run, name="openloop", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def join(self) -> OpenLoopResult:
        self.thread.join()
        return self.result

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        self.result.started_at = datetime.now(UTC)
        start = time.monotonic()
        with ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="openloop") as pool:
            for index in range(self.result.planned):
                due = start + index / self.rate
                if self.stopping.wait(max(0.0, due - time.monotonic())):
                    break
                pool.submit(self.send, index, due)
        self.result.ended_at = datetime.now(UTC)

    def copies(self, index: int) -> bytes:
        return batch_json([f"e2e-{index}-{item}" for item in range(self.batch_size)])

    def send(self, index: int, due: float) -> None:
        body = self.body(index)
        started = time.monotonic()
        try:
            status = self.post(body)
        except (OSError, http.client.HTTPException):
            self.local.connection = None
            status = 0
        finished = time.monotonic()
        with self.lock:
            self.result.start_lags.append(started - due)
            if status == 200:
                self.result.ok += 1
                self.result.latencies.append(finished - started)
            else:
                self.result.failed += 1

    def post(self, body: bytes) -> int:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=30)
            self.local.connection = connection
        connection.request("POST", self.url.path, body, self.headers)
        response = connection.getresponse()
        response.read()
        return response.status
