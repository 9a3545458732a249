"""What PostgreSQL did with a query: its plan as EXPLAIN ANALYZE gives it, node by node."""

import orjson
from django.db import connection


def plan_of(sql: str) -> list[dict]:
    """Every node of the plan the query ran with, the root first."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        [explained] = cursor.fetchone()
    root = (orjson.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    return nodes(root)


def nodes(plan: dict) -> list[dict]:
    return [plan, *[node for child in plan.get("Plans", []) for node in nodes(child)]]


def sorts(plan: list[dict]) -> set[str]:
    return {node["Node Type"] for node in plan if "Sort" in node["Node Type"]}


def scans(plan: list[dict]) -> list[dict]:
    return [node for node in plan if "Scan" in node["Node Type"]]
