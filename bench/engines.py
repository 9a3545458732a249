"""Benchmark of the trigger and mapping engines (docs/performance.md, "Targets": at least 50,000
(event, mapping) evaluations per second per core).

One evaluation is what the router does for one mapping of one event: ``matches`` then
``render``, through the public API, on a realistic ~1 KB Segment track event with the
LaunchDarkly "Track event" default mapping. It runs in this process, on one core.

    python bench/engines.py [seconds]

or, from Python, ``run(seconds)``, which returns the measurements as a dict.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

# Run as a script, this file's folder is on sys.path but the project root is not.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from destinations import mapping, triggers

TARGET_PER_SECOND = 50_000

TRIGGER = (
    'type = "track" and event != "Page Viewed" and '
    '(properties.revenue > 0 or contains(context.page.path, "/checkout"))'
)

FIELDS = {
    "context_kind": "user",
    "user_key": {
        "@if": {
            "exists": {"@path": "$.userId"},
            "then": {"@path": "$.userId"},
            "else": {"@path": "$.anonymousId"},
        }
    },
    "additional_context_keys": {"unauthenticatedUser": {"@path": "$.anonymousId"}},
    "event_name": {"@path": "$.event"},
    "metric_value": {
        "@if": {
            "exists": {"@path": "$.properties.revenue"},
            "then": {"@path": "$.properties.revenue"},
            "else": {"@path": "$.properties.value"},
        }
    },
    "event_properties": {"@path": "$.properties"},
    "timestamp": {"@path": "$.timestamp"},
}

EVENT: dict[str, Any] = {
    "type": "track",
    "event": "Order Completed",
    "userId": "user-8f3a2c91",
    "anonymousId": "5d1e7c2a-9b4f-4e21-8c3d-2f6a9e0b7d14",
    "messageId": "api-2Kq9xYbV7mN3pL8rT1wZ",
    "timestamp": "2024-05-01T12:34:56.789Z",
    "originalTimestamp": "2024-05-01T12:34:56.123Z",
    "sentAt": "2024-05-01T12:34:56.456Z",
    "receivedAt": "2024-05-01T12:34:57.001Z",
    "channel": "server",
    "properties": {
        "order_id": "ord-50314",
        "checkout_id": "chk-7731",
        "revenue": 129.9,
        "shipping": 4.99,
        "tax": 21.65,
        "currency": "EUR",
        "coupon": "SPRING24",
        "products": [
            {"product_id": "sku-1041", "name": "Trail Shoe", "price": 89.9, "quantity": 1},
            {"product_id": "sku-2208", "name": "Wool Socks", "price": 20.0, "quantity": 2},
        ],
    },
    "context": {
        "ip": "203.0.113.42",
        "locale": "fr-FR",
        "timezone": "Europe/Paris",
        "library": {"name": "analytics-python", "version": "2.4.0"},
        "page": {
            "path": "/checkout/confirmation",
            "referrer": "https://shop.example/cart",
            "url": "https://shop.example/checkout/confirmation",
        },
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15",
        "campaign": {"name": "spring", "source": "newsletter", "medium": "email"},
    },
    "integrations": {"All": True},
}


def _rate(evaluate: Callable[[], object], seconds: float) -> tuple[int, float]:
    """Call ``evaluate`` in batches until ``seconds`` have passed; return (calls, elapsed)."""
    batch = 1_000
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            evaluate()
        calls += batch
        now = time.perf_counter()
        if now >= deadline:
            return calls, now - start


def run(seconds: float = 3.0) -> dict[str, Any]:
    """Measure for ``seconds`` (and a quarter of that for each engine alone)."""
    trigger = triggers.parse(TRIGGER)
    expected = mapping.render(FIELDS, EVENT)

    def evaluate() -> dict[str, Any] | None:
        return mapping.render(FIELDS, EVENT) if trigger.matches(EVENT) else None

    if evaluate() != expected:
        raise AssertionError("the benchmark trigger must match the benchmark event")
    calls, elapsed = _rate(evaluate, seconds)
    trigger_calls, trigger_elapsed = _rate(lambda: trigger.matches(EVENT), seconds / 4)
    render_calls, render_elapsed = _rate(lambda: mapping.render(FIELDS, EVENT), seconds / 4)
    per_second = calls / elapsed
    return {
        "event_bytes": len(orjson.dumps(EVENT)),
        "evaluations": calls,
        "seconds": round(elapsed, 3),
        "evaluations_per_second": round(per_second),
        "microseconds_per_evaluation": round(1e6 / per_second, 2),
        "trigger_matches_per_second": round(trigger_calls / trigger_elapsed),
        "mapping_renders_per_second": round(render_calls / render_elapsed),
        "target_per_second": TARGET_PER_SECOND,
        "meets_target": per_second >= TARGET_PER_SECOND,
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    results = run(seconds)
    for name, value in results.items():
        print(f"{name}: {value}")
    print(
        f"{results['evaluations_per_second']:,} evaluations/s on one core "
        f"(target {TARGET_PER_SECOND:,}): {'OK' if results['meets_target'] else 'BELOW TARGET'}"
    )


if __name__ == "__main__":
    main()
