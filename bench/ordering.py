"""Per-user order under load (issue 30): the end-to-end soak at a fixed rate over many users,
with the destination's "Keep order per user" off, then on, then on with one user whose every
request the destination refuses (503).

Each run starts clean (worker stopped, tables emptied, Redis flushed), like a capacity step:
the Metronome sink destination in batches of 100 through the transformation, the events spread
over BENCH_ORDER_USERS users. In the third run one event of each request is the failing
user's, and the sink answers 503 to any request that carries one of them: with order kept, the
user's later events wait behind the first while its retries back off, so the others' requests
go through. The figures: delivered events/s and p95 of the steady window, for the failing run
without the failing user's events.

    BENCH_ORDER_EPS (1,000), BENCH_ORDER_USERS (10,000), BENCH_ORDER_SECONDS (60 per run),
    BENCH_ORDER_RUNS (of off, on and failing_user; default all three)
"""

import os
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson

from bench import database, delivery, endtoend, openloop
from bench.delivery import Stage
from bench.endtoend import Soak
from bench.payloads import SENT_AT, request_headers, sdk_event
from bench.processes import free_port, wait_for_http

FAILING_USER = "bench-failing-user"
FAILING_CUSTOMER = "acct-failing"
BATCH = 100
RUNS = {"off": "order off", "on": "order on", "failing_user": "order on, one user failing"}


@dataclass(frozen=True)
class Plan:
    enabled: bool
    events_per_second: int
    users: int
    seconds: float
    runs: tuple[str, ...]

    @classmethod
    def from_env(cls) -> "Plan":
        return cls(
            enabled=os.environ.get("BENCH_ORDER", "1") != "0",
            events_per_second=int(os.environ.get("BENCH_ORDER_EPS", "1000")),
            users=int(os.environ.get("BENCH_ORDER_USERS", "10000")),
            seconds=float(os.environ.get("BENCH_ORDER_SECONDS", "60")),
            runs=tuple(os.environ.get("BENCH_ORDER_RUNS", ",".join(RUNS)).split(",")),
        )


def run(stage: Stage, plan: Plan) -> dict[str, Any]:
    runs = {
        name: one_run(stage, plan, RUNS[name], name != "off", failing=name == "failing_user")
        for name in plan.runs
    }
    off, on, failing = (runs.get(name, {}) for name in RUNS)
    return {
        "order_off_eps": off.get("delivered_eps"),
        "order_on_eps": on.get("delivered_eps"),
        "order_on_to_off_eps_ratio": ratio(on.get("delivered_eps"), off.get("delivered_eps")),
        "order_off_p95_s": off.get("p95_s"),
        "order_on_p95_s": on.get("p95_s"),
        "order_on_to_off_p95_ratio": ratio(on.get("p95_s"), off.get("p95_s")),
        "order_failing_user_others_p95_s": failing.get("p95_s"),
        "order_failing_user_others_eps": failing.get("delivered_eps"),
        "ordering": {"plan": plan.__dict__, "runs": runs},
    }


def ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 3) if value is not None and base else None


def one_run(stage: Stage, plan: Plan, name: str, keep_order: bool, failing=False) -> dict:
    tag = "ordering-" + name.replace(" ", "-").replace(",", "")
    delivery.clean_slate(stage, tag)
    sink_url = start_sink(stage, FAILING_CUSTOMER if failing else None)
    destination, source = delivery.fresh_destination(sink_url, name, BATCH, True)
    destination.keep_order = keep_order
    destination.save()
    worker_pid = delivery.start_delivery_engine(stage)
    soak = Soak(plan.events_per_second, BATCH, plan.seconds, min(15.0, plan.seconds / 4))
    body = Bodies(plan.users, failing)
    load = soak_with(stage, soak, source.write_key, body, worker_pid)
    time.sleep(delivery.SETTLE_SECONDS)
    measured = judged(soak, load, source.pk, destination.pk, FAILING_USER if failing else None)
    delivery.stop_delivery_engine(stage, tag)
    stage.supervisor.stop("sink")
    delivery.step(
        "ordering",
        f"{name}: {measured['delivered_eps']:,.0f} events/s delivered of "
        f"{plan.events_per_second:,}, p95 {measured['p95_s']} s",
    )
    return measured


def start_sink(stage: Stage, refused_customer: str | None) -> str:
    stage.supervisor.stop("sink")
    port = free_port()
    command = [sys.executable, "-m", "bench.sink", str(port)]
    refusing = [refused_customer] if refused_customer else []
    stage.supervisor.start("sink", command + refusing, stage.env)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/stats", stage.supervisor, "sink")
    return url


class Bodies:
    """Request bodies of BATCH events, event n of the run from user n % users; with `failing`,
    each request's first event is the failing user's."""

    def __init__(self, users: int, failing: bool) -> None:
        self.event, self.users, self.failing = sdk_event(), users, failing

    def __call__(self, index: int) -> bytes:
        batch = []
        for item in range(BATCH):
            number = index * BATCH + item
            user = f"u{number % self.users}"
            event = self.event | {"messageId": f"order-{number}", "userId": user}
            if self.failing and item == 0:
                context = {**event["context"], "groupId": FAILING_CUSTOMER}
                event |= {"userId": FAILING_USER, "context": context}
            batch.append(event)
        return orjson.dumps({"batch": batch, "sentAt": SENT_AT})


def soak_with(stage: Stage, soak: Soak, write_key: str, body: Bodies, worker_pid: int):
    rate = soak.events_per_second / soak.batch_size
    url = f"{stage.web_url}/v1/batch"
    generator = openloop.OpenLoop(
        url, request_headers(write_key), rate, soak.batch_size, soak.seconds, body
    )
    generator.start()
    while generator.thread.is_alive():
        generator.thread.join(5.0)
        stage.supervisor.check_alive("worker")
    return generator.join()


def judged(soak: Soak, load, source_id: int, destination_id: int, except_user: str | None):
    """The steady window's deliveries per second and the p95 of its events (but the failing
    user's), as a capacity step judges them."""
    start = load.started_at + timedelta(seconds=soak.warmup_seconds)
    seconds = (load.ended_at - start).total_seconds()
    delivered = database.delivered_between(destination_id, start, load.ended_at)
    window = database.window_latency(source_id, start, load.ended_at, except_user)
    return {
        "delivered_eps": round(delivered / seconds, 1),
        "p50_s": delivery.finite(window.p50_s),
        "p95_s": delivery.finite(window.p95_s),
        "window_events": window.events,
        "window_undelivered": window.events - window.delivered,
        "steady_window_s": round(seconds, 1),
        "generator": endtoend.generator_summary(load),
    }
