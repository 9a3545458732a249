"""`make bench`: docs/performance.md's benchmarks in one go, on this machine, in 20 to 30 minutes.

On a database of its own (created fresh, migrated) and a Redis database of its own, it starts
the production web server (gunicorn with project/gunicorn.conf.py, the bare ceiling view
mounted beside the API), measures the ceiling, /v1/track and /v1/batch with wrk, and the
engines, a transformation and a table source (a warehouse table's rows as events) in this
process, then starts a Celery worker and beat, as production runs them, and a local HTTP sink,
and soaks the whole path, through a destination transformation, at a fixed rate. Then one
destination's delivery capacity, searched over offered rates for batches of 100 and of 1
(bench/delivery.py), and how fast a backlog built with the worker stopped drains
(bench/drain.py), per-user order (bench/ordering.py) and a warehouse's end-to-end latency
(bench/warehouse_e2e.py). It prints one table and writes bench/results/latest.json; whatever it
started is stopped at the end, on Ctrl-C and on errors too. Logs: var/bench/.

Knobs (environment): BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_SECONDS (each wrk round),
BENCH_SOAK_SECONDS, BENCH_E2E_EPS, BENCH_TABLE_ROWS (the table source's rows, default
1,000,000), BENCH_WAREHOUSE_EVENTS (the warehouse loader's, default 1,000,000), BENCH_ONLY (a
comma-separated list of the sections to run, of ingest, engines, transformation, router,
table, warehouse, e2e, capacity, drain, ordering and warehouse_e2e; "delivery" is capacity
and drain;
default all), BENCH_POISON_EVENTS (bench/poison.py), the capacity search's BENCH_CAPACITY*
(bench/delivery.py), the drain's BENCH_DRAIN* (bench/drain.py) and per-user order's
BENCH_ORDER* (bench/ordering.py), the warehouse's BENCH_WAREHOUSE_E2E*
(bench/warehouse_e2e.py); the servers read
WEB_CONCURRENCY, WEB_THREADS and CELERY_WORKER_CONCURRENCY as in production.
"""

import os
import sys
from pathlib import Path

# Run as a script, this file's folder is on sys.path but the project root is not.
BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

import secrets  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import redis  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from bench import (  # noqa: E402
    database,
    delivery,
    drain,
    endtoend,
    ordering,
    poison,
    report,
    tracking,
    warehouse_e2e,
    wrk,
)
from bench.processes import Supervisor, free_port, interrupt_on_signals, wait_for_http  # noqa: E402

RUN_DIR = BASE_DIR / "var" / "bench"
GUNICORN_CONF = BASE_DIR / "project" / "gunicorn.conf.py"
SECTIONS = (
    "ingest",
    "engines",
    "transformation",
    "router",
    "table",
    "warehouse",
    "e2e",
    "capacity",
    "drain",
    "ordering",
    "warehouse_e2e",
)
DRAIN_EVENTS = 200_000


@dataclass(frozen=True)
class Plan:
    database_url: str
    redis_url: str
    loads: tracking.Loads
    soak: endtoend.Soak
    capacity: delivery.Search
    drain: drain.Drain
    ordering: ordering.Plan
    warehouse_e2e: warehouse_e2e.Plan
    sections: frozenset[str]

    @classmethod
    def from_env(cls) -> "Plan":
        # Each wrk round; tracking.ROUNDS rounds per endpoint.
        seconds = float(os.environ.get("BENCH_SECONDS", "5"))
        soak_seconds = float(os.environ.get("BENCH_SOAK_SECONDS", "180"))
        return cls(
            database_url=os.environ.get(
                "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/switchyard_bench"
            ),
            redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
            loads=tracking.Loads(
                # More connections than the server has threads (2 x 16): the ceiling and
                # /v1/track are both measured at saturation, as a server with many SDKs
                # sees them, rather than at one round trip per connection.
                single=wrk.Load(threads=2, connections=64, seconds=seconds),
                batch=wrk.Load(threads=2, connections=8, seconds=seconds),
                warmup_seconds=3.0,
                batch_size=100,
            ),
            soak=endtoend.Soak(
                events_per_second=int(os.environ.get("BENCH_E2E_EPS", "1000")),
                batch_size=100,
                seconds=soak_seconds,
                warmup_seconds=min(30.0, soak_seconds / 4),
            ),
            capacity=delivery.Search.from_env(),
            drain=drain.Drain.from_env(DRAIN_EVENTS),
            ordering=ordering.Plan.from_env(),
            warehouse_e2e=warehouse_e2e.Plan.from_env(),
            sections=sections_from_env(),
        )


def sections_from_env() -> frozenset[str]:
    names = {name.strip() for name in os.environ.get("BENCH_ONLY", "").split(",")} - {""}
    if "delivery" in names:
        names = names - {"delivery"} | {"capacity", "drain"}
    if unknown := names - set(SECTIONS):
        raise SystemExit(f"BENCH_ONLY: unknown sections {sorted(unknown)}; known: {SECTIONS}")
    return frozenset(names or SECTIONS)


def child_environment(plan: Plan) -> dict[str, str]:
    """What every process of the run sees: production settings on the bench's own stores."""
    return dict(os.environ) | {
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": plan.database_url,
        "REDIS_URL": plan.redis_url,
        "CELERY_BROKER_URL": plan.redis_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECRETS_KEYS": Fernet.generate_key().decode(),
        "DEBUG": "false",
        # Production sits behind a TLS proxy; the load generators send X-Forwarded-Proto.
        "BEHIND_TLS_PROXY": "true",
        "ALLOW_PRIVATE_DESTINATIONS": "true",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(BASE_DIR),
    }


def main() -> int:
    interrupt_on_signals()
    plan = Plan.from_env()
    wrk.wrk_binary()  # fail before starting anything when it is missing
    env = child_environment(plan)
    os.environ.update(env)  # this process reads the same database through Django
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    supervisor = Supervisor(RUN_DIR)
    started = time.monotonic()
    try:
        results = run(supervisor, plan, env)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping what the benchmark started", file=sys.stderr)
        return 130
    finally:
        supervisor.stop_all()
        redis.Redis.from_url(plan.redis_url).flushdb()
    results["bench_seconds"] = round(time.monotonic() - started)
    print()
    print(report.table(results))
    for note in report.notes(results):
        print(note)
    if steps := delivery.steps_table(results):
        print()
        print(steps)
    print()
    print(report.describe(results["machine"]))
    print(f"load generators: {'; '.join(load_generators(results)) or 'none'}")
    print(f"results: {report.write(results)}; logs: {RUN_DIR}")
    return 0


def load_generators(results: dict[str, Any]) -> list[str]:
    """Each section's load generator, once (the soak and the capacity search share theirs)."""
    keys = ("load_generator", "e2e_load_generator", "capacity_load_generator")
    names = [results.get(key) for key in (*keys, "drain_load_generator")]
    return list(dict.fromkeys(name for name in names if name))


def run(supervisor: Supervisor, plan: Plan, env: dict[str, str]) -> dict[str, Any]:
    web_url, sources = start(supervisor, plan.database_url, plan.redis_url, env)
    results: dict[str, Any] = {"machine": machine(env)}
    sections = plan.sections
    if "ingest" in sections:
        results |= tracking.run_all(supervisor, web_url, sources, plan.loads)
    if "engines" in sections:
        step("engines", "trigger + mapping in this process, one core")
        results |= engines()
    if "transformation" in sections:
        step("transformation", "rename a property, drop bots, in this process, one core")
        results |= transformations()
    if "router" in sections:
        step("router", "clean, then one event in ten hostile, in this process")
        results |= poison.run()
    if "table" in sections:
        results |= table_source(plan)
    if "warehouse" in sections:
        results |= warehouse_loader(plan)
    if "e2e" in sections:
        soak = f"{plan.soak.events_per_second:,} events/s for {plan.soak.seconds:g} s"
        step("end to end", f"{soak}, through a destination transformation")
        results |= endtoend.run(supervisor, plan.soak, env, RUN_DIR, web_url, sources.e2e)
    stage = delivery.Stage(supervisor, env, RUN_DIR, web_url)
    if "capacity" in sections:
        results |= delivery_capacity(stage, plan.capacity)
    if "drain" in sections:
        results |= backlog_drain(stage, plan.drain)
    if "ordering" in sections and plan.ordering.enabled:
        order = plan.ordering
        step("ordering", f"{order.events_per_second:,} events/s over {order.users:,} users")
        results |= ordering.run(stage, order)
    if "warehouse_e2e" in sections and plan.warehouse_e2e.enabled:
        e2e = plan.warehouse_e2e
        load = f"{e2e.events_per_second:,} events/s for {e2e.seconds:g} s"
        step("warehouse end to end", f"{load}, loads every {e2e.interval} s")
        results |= warehouse_e2e.run(stage, e2e)
    results["machine"]["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    return results


def delivery_capacity(stage: delivery.Stage, search: delivery.Search) -> dict[str, Any]:
    if not search.enabled:
        return {}
    sizes = " and ".join(str(size) for size in search.batch_sizes)
    step(
        "delivery capacity",
        f"batch sizes {sizes}, {search.step_seconds:g} s a step from "
        f"{search.start_eps:,} events/s, through a destination transformation",
    )
    return delivery.run(stage, search)


def backlog_drain(stage: delivery.Stage, plan: drain.Drain) -> dict[str, Any]:
    if not plan.enabled:
        return {}
    step("backlog drain", f"{plan.events:,} events with the worker stopped, then delivered")
    return drain.run(stage, plan)


def start(
    supervisor: Supervisor, database_url: str, redis_url: str, env: dict[str, str]
) -> tuple[str, Any]:
    """A fresh, migrated database, Redis emptied, the benchmark's sources and the web server;
    returns the server's URL and the sources."""
    migrated(supervisor, database_url, redis_url, env)
    from bench import fixtures

    sources = fixtures.create_sources()
    return start_web(supervisor, env), sources


def migrated(
    supervisor: Supervisor, database_url: str, redis_url: str, env: dict[str, str]
) -> None:
    """A fresh, migrated database and Redis emptied; Django set up in this process on them."""
    step("fresh database", database_url)
    database.recreate(database_url)
    redis.Redis.from_url(redis_url).flushdb()
    manage = [sys.executable, BASE_DIR / "manage.py"]
    supervisor.run("migrate", [*manage, "migrate", "--noinput", "-v", "0"], env)
    import django

    django.setup()


def step(name: str, detail: str) -> None:
    print(f"[bench] {name}: {detail}", flush=True)


def start_web(supervisor: Supervisor, env: dict[str, str]) -> str:
    """gunicorn as production runs it, with the ceiling view mounted (BENCH_CEILING)."""
    port = free_port()
    server_env = env | {"HOST": "127.0.0.1", "PORT": str(port), "BENCH_CEILING": "1"}
    gunicorn = [Path(sys.executable).parent / "gunicorn", "-c", GUNICORN_CONF]
    supervisor.start("web", [*gunicorn, "--chdir", BASE_DIR, "project.wsgi"], server_env)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}{tracking.CEILING_PATH}", supervisor, "web")
    return url


def engines() -> dict[str, Any]:
    from bench import engines as engine_bench

    measured = engine_bench.run(3.0)
    return {"engine_evals_per_s_per_core": measured["evaluations_per_second"], "engines": measured}


def transformations(seconds: float = 3.0) -> dict[str, Any]:
    from bench import transformations as transformation_bench

    measured = transformation_bench.run(seconds)
    return {
        "transform_events_per_s_per_core": measured["events_per_second"],
        "transformations": measured,
    }


def table_source(plan: Plan) -> dict[str, Any]:
    """A warehouse table's rows as events, in this process (bench/tables.py); then Redis is
    emptied of the router rings and run task it left, which no worker has answered."""
    from bench import tables

    rows = tables.rows_from_env()
    step("table source", f"{rows:,} rows of a warehouse table, in this process")
    measured = tables.run(plan.database_url, rows)
    redis.Redis.from_url(plan.redis_url).flushdb()
    return measured


def warehouse_loader(plan: Plan) -> dict[str, Any]:
    """The warehouse's loader alone, in this process (bench/warehouse.py)."""
    from bench import warehouse

    events = warehouse.events_from_env()
    step("warehouse loader", f"{events:,} ~1 KB track events into a local warehouse, one core")
    return warehouse.run(plan.database_url, events)


def machine(env: dict[str, str]) -> dict[str, Any]:
    from django.conf import settings

    return report.machine(
        {
            "postgresql": database.server_version(),
            "postgresql_settings": database.server_settings(report.PG_SETTINGS),
            "redis": redis.Redis.from_url(env["REDIS_URL"]).info("server")["redis_version"],
            "gunicorn": report.gunicorn_settings(GUNICORN_CONF, env),
            "celery_worker_concurrency": settings.CELERY_WORKER_CONCURRENCY,
        }
    )


if __name__ == "__main__":
    sys.exit(main())
