"""What `make bench-scale` reads from the database besides make bench's harness, and its report.

The catalog: which columns the schema has, id sequences, sizes (summing partitions when the
tables have them). The delivery log is timed through the admin itself (a logged-in test
client, the whole middleware and template), the overview's and a destination health's figures
by calling their selectors, the retention job by calling it as beat does.
"""

import json
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from bench import report

EVENTS_TABLE = "ingest_event"
DELIVERIES_TABLE = "destinations_delivery"
ATTEMPTS_TABLE = "destinations_deliveryattempt"
LINKS_TABLE = "destinations_deliveryattempt_deliveries"
TABLES = (EVENTS_TABLE, DELIVERIES_TABLE, ATTEMPTS_TABLE, LINKS_TABLE)
ADMIN_REQUESTS = 5
PRELOAD_DESTINATION = "bench preload"  # scale.preload_target's
MB = 1024 * 1024


def next_ids(tables: tuple[str, ...]) -> dict[str, int]:
    """Each table's highest id, or its sequence's next value if higher (a TRUNCATE empties a
    table but leaves its sequence where it was)."""
    sequence = "nextval(pg_get_serial_sequence(%s, 'id'))"
    with connection.cursor() as cursor:
        highest = {}
        for table in tables:
            cursor.execute(f"SELECT greatest(max(id), {sequence}, 0) FROM {table}", [table])
            highest[table] = cursor.fetchone()[0]
        return highest


def set_sequences(last_ids: dict[str, int]) -> None:
    with connection.cursor() as cursor:
        for table, last_id in last_ids.items():
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, last_id])


def table_sizes(rows: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Bytes on disk (heap, TOAST, indexes) of the four big tables, beside their `rows`."""
    return {table: {"rows": rows[table], **table_size(table)} for table in TABLES}


def table_size(table: str) -> dict[str, Any]:
    with connection.cursor() as cursor:
        # A partitioned table holds nothing itself: its leaves do.
        cursor.execute("SELECT relid FROM pg_partition_tree(%s) WHERE isleaf", [table])
        relations = [row[0] for row in cursor.fetchall()] or [table]
        cursor.execute(
            """SELECT sum(pg_total_relation_size(oid)), sum(pg_indexes_size(oid))
               FROM pg_class WHERE oid = ANY(%s::regclass[])""",
            [[str(relation) for relation in relations]],
        )
        total, indexes = cursor.fetchone()
    partitions = len(relations) if relations != [table] else 0
    return {"total_bytes": int(total), "index_bytes": int(indexes), "partitions": partitions}


def bytes_per_event(sizes: dict[str, dict[str, Any]], events: int) -> float:
    """Everything an event costs: its row, its delivery, its share of an attempt, its link."""
    return sum(size["total_bytes"] for size in sizes.values()) / events


def row_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        counts = {}
        for table in TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
        return counts


def retire(before: dict[str, int]) -> dict[str, Any]:
    """One round of the retention job, as beat runs it hourly, timed; what it removed is
    counted from the tables (`before` - after), whatever way it removed them."""
    from destinations.delivery.retention import purge_expired

    started = time.monotonic()
    returned = purge_expired()
    seconds = time.monotonic() - started
    after = row_counts()
    removed = {table: before[table] - after[table] for table in before}
    events = removed[EVENTS_TABLE]
    return {
        "retire_events_per_s": events / seconds,
        "retire": {
            "seconds": round(seconds, 3),
            "rows_removed": removed,
            "rows_per_s": round(sum(removed.values()) / seconds),
            "rows_left": after,
            "purge_expired_returned": returned,
        },
    }


def mark_routed() -> int:
    """The ingest runs' events stand for traffic production would have routed as it came;
    left unrouted, the soak's worker would first route a backlog of hundreds of thousands."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ingest_event SET routed_at = received_at WHERE routed_at IS NULL")
        return cursor.rowcount


def preloaded_message_id(event_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT message_id FROM ingest_event WHERE id = %s", [event_id])
        return cursor.fetchone()[0]


def delivery_log_ms(message_id: str) -> dict[str, Any]:
    """The delivery log's first page and a messageId search through the admin, as a
    superuser sees them: the median of ADMIN_REQUESTS requests after one to warm up."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    user_model = get_user_model()
    user = user_model.objects.filter(username="bench-scale").first()
    user = user or user_model.objects.create_superuser("bench-scale", "bench@example.com", None)
    # Production sits behind a TLS proxy: the header keeps the HTTPS redirect out of it.
    client = Client(HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
    client.force_login(user)
    url = reverse("admin:destinations_delivery_changelist")
    page = timed_get(client, url, {}, None)
    search = timed_get(client, url, {"q": message_id}, message_id)
    return {
        "delivery_log_page_ms_at_scale": page["median_ms"],
        "delivery_log_search_ms_at_scale": search["median_ms"],
        "delivery_log": {"page": page, "search": search, "searched_message_id": message_id},
    } | figures_ms()


def figures_ms() -> dict[str, Any]:
    """The overview's figures (the admin's home) and the health of the preload's destination
    (all its deliveries), as their pages compute them: the median of ADMIN_REQUESTS calls
    after one to warm up."""
    from destinations.models import Destination
    from destinations.selectors.health import destination_health
    from destinations.selectors.overview import overview

    destinations = Destination.objects.order_by("pk")
    destination = destinations.filter(name=PRELOAD_DESTINATION).first() or destinations.first()
    timed = {"overview": timed_call(overview)}
    if destination is not None:
        timed["health"] = timed_call(lambda: destination_health(destination))
    return {f"{name}_ms": figures["median_ms"] for name, figures in timed.items()} | {
        "figures": timed | {"health_destination": getattr(destination, "name", None)}
    }


def timed_call(call: Any) -> dict[str, Any]:
    times = []
    for attempt in range(ADMIN_REQUESTS + 1):
        started = time.perf_counter()
        call()
        if attempt:  # the first warms caches and connections
            times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": statistics.median(times), "all_ms": [round(t, 1) for t in times]}


def timed_get(client: Any, url: str, query: dict[str, str], expect: str | None) -> dict:
    times = []
    for attempt in range(ADMIN_REQUESTS + 1):
        started = time.perf_counter()
        response = client.get(url, query)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{url} {query} answered {response.status_code}")
        if expect and expect not in response.content.decode():
            raise RuntimeError(f"{url} {query} does not list {expect}")
        if attempt:  # the first warms caches and connections
            times.append(elapsed)
    return {"median_ms": statistics.median(times), "all_ms": [round(t, 1) for t in times]}


ROWS = (
    ("ceiling: bare Django JSON view", "ceiling_rps", "req/s"),
    ("/v1/track, single event", "track_rps", "req/s"),
    ("/v1/batch, 100 x ~1 KB, committed", "batch_events_per_s", "events/s"),
    ("end to end p95 at 1,000 events/s", "e2e_p95_s", "s"),
    ("delivery log: first page", "delivery_log_page_ms", "ms"),
    ("delivery log: messageId search", "delivery_log_search_ms", "ms"),
)
SINGLE_ROWS = (
    ("overview: its figures (overview())", "overview_ms", "ms"),
    ("destination health: its figures", "health_ms", "ms"),
    ("retention: events retired", "retire_events_per_s", "events/s"),
    ("preloaded events", "preloaded_events", "events"),
    ("bytes per event (all four tables)", "bytes_per_event", "B"),
    ("dedup window", "dedup_window_hours", "h"),
    ("delivery capacity, batches of 100", "delivery_capacity_eps_batch100", "events/s"),
    ("delivery capacity, batch size 1", "delivery_capacity_eps_batch1", "events/s"),
    ("backlog drain: ingest, worker stopped", "drain_ingest_eps", "events/s"),
    ("backlog drain: total", "drain_seconds", "s"),
    ("backlog drain: overall", "drain_eps", "events/s"),
    ("backlog drain: large backlog (first third)", "drain_eps_large_backlog", "events/s"),
    ("backlog drain: small backlog (last third)", "drain_eps_small_backlog", "events/s"),
    ("backlog drain: large / small", "drain_ratio_large_to_small", "ratio"),
    ("backlog drain: waiting once all were routed", "drain_waiting_when_routed", "deliveries"),
    ("backlog drain, routed: many waiting", "drain_after_routing_eps_large", "events/s"),
    ("backlog drain, routed: few waiting", "drain_after_routing_eps_small", "events/s"),
    ("backlog drain, routed: many / few", "drain_after_routing_ratio", "ratio"),
    ("claim, 1 M waiting: whole claim p50", "claim_ms_p50", "ms"),
    ("claim, 1 M waiting: due query", "claim_due_query_ms", "ms"),
    ("claim, 1 M waiting: rows the due query read", "claim_due_query_rows_read", "rows"),
    ("claim, 1 M waiting: sorts in its plan", "claim_due_query_sorts", "count"),
    ("ordered claim, 1 M waiting: whole claim p50", "claim_ordered_ms_p50", "ms"),
    ("ordered claim, 1 M waiting: due and lanes query", "claim_ordered_due_query_ms", "ms"),
    (
        "ordered claim, 1 M waiting: rows that query read",
        "claim_ordered_due_query_rows_read",
        "rows",
    ),
    ("ordered claim, 1 M waiting: sorts in its plan", "claim_ordered_due_query_sorts", "count"),
)


def table(results: dict[str, Any]) -> str:
    """Empty against full, side by side, then the figures only a full database has."""
    lines = [("metric", "empty", "at scale", "at scale / empty")]
    for label, key, unit in ROWS:
        empty = number(results.get(f"{key}_empty"))
        full = number(results.get(f"{key}_at_scale"))
        ratio = full / empty if empty else float("nan")  # NaN stays NaN
        lines.append((label, show(empty, unit), show(full, unit), show(ratio, "ratio")))
    for label, key, unit in SINGLE_ROWS:
        lines.append((label, "", show(number(results.get(key)), unit), ""))
    return report.render(lines)


def sizes_table(sizes: dict[str, dict[str, Any]]) -> str:
    lines = [("table", "rows", "total", "of which indexes", "partitions")]
    for name, size in sizes.items():
        total, indexes = size["total_bytes"] / MB, size["index_bytes"] / MB
        row = (name, f"{size['rows']:,}", f"{total:,.0f} MB", f"{indexes:,.0f} MB")
        lines.append((*row, str(size["partitions"] or "-")))
    return report.render(lines)


def number(value: Any) -> float:
    """A measured figure, NaN when it was not measured."""
    return float("nan") if value is None else float(value)


def show(value: float, unit: str) -> str:
    if value != value:  # NaN: not measured
        return "-" if unit != "ratio" else ""
    if unit == "ms":
        return f"{value:,.1f} ms"
    return report.format_value(float(value), unit)


def write(results: dict[str, Any]) -> str:
    report.RESULTS_DIR.mkdir(exist_ok=True)
    stamped = results | {"finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
    path = report.RESULTS_DIR / "scale.json"
    path.write_text(json.dumps(stamped, indent=2, default=str) + "\n")
    return str(path)
