"""How HubSpot answers: a 207 naming the batch inputs that failed, 429 rate limits and 477
account moves, read into per-item results and waits; hubspot.py builds the requests and
declares the kind.

Errors and limits: https://developers.hubspot.com/docs/api/error-handling and
https://developers.hubspot.com/docs/api/usage-details
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from .base import Answer, ItemResult, Outcome

MIGRATING = "HTTP 477: HubSpot is moving the account to another data centre"


def read_multi_status(answer: Answer, count: int) -> list[ItemResult] | None:
    """A 207 lists failed inputs in `errors`, each naming them by context.objectWriteTraceId
    (RudderStack's HubSpot network handler reads it the same way); the others succeeded.
    Any other answer, or one naming an input this request lacks, is judged whole."""
    errors = parse_object(answer.body).get("errors") if answer.status == 207 else None
    if not isinstance(errors, list):
        return None
    results = [ItemResult(Outcome.DELIVERED)] * count
    for error in errors:
        positions = failed_positions(error, count)
        if not positions:
            return None
        for position in positions:
            results[position] = rejection(error)
    return results


def failed_positions(error: Any, count: int) -> list[int]:
    context = error.get("context") if isinstance(error, dict) else None
    traces = context.get("objectWriteTraceId") if isinstance(context, dict) else None
    if not isinstance(traces, list):
        return []
    positions = [int(t) for t in traces if isinstance(t, str) and t.isdigit()]
    return positions if positions and all(p < count for p in positions) else []


def rejection(error: dict[str, Any]) -> ItemResult:
    category = error.get("category")
    code = category if isinstance(category, str) and category else "REJECTED"
    reason = error.get("message") or "no reason given"
    return ItemResult(Outcome.FAILED, code, f"HubSpot refused this record: {reason}")


def read_error(answer: Answer) -> ItemResult | None:
    """HubSpot's rate limits (429, with no Retry-After for API calls) and account moves
    (477, with Retry-After in seconds); None leaves any other answer to the generic rules."""
    if answer.status == 477:
        wait = parse_seconds(answer.headers.get("retry-after"))
        return ItemResult(Outcome.RETRY, "MIGRATION_IN_PROGRESS", MIGRATING, wait)
    if answer.status != 429 or "retry-after" in answer.headers:
        return None
    reply = parse_object(answer.body)
    message = f"HTTP 429: {reply.get('message') or 'rate limited'}"
    return ItemResult(Outcome.RETRY, "TOO_MANY_REQUESTS", message, rate_limit_wait(answer, reply))


def rate_limit_wait(answer: Answer, reply: dict[str, Any]) -> float | None:
    """The daily limit waits for its reset; the others (per second, per ten seconds) for the
    window the X-HubSpot-RateLimit-Interval-Milliseconds header gives, if it does."""
    daily_left = answer.headers.get("x-hubspot-ratelimit-daily-remaining")
    if reply.get("policyName") == "DAILY" or daily_left == "0":
        return until_next_hour(datetime.now(UTC))
    return parse_seconds(answer.headers.get("x-hubspot-ratelimit-interval-milliseconds"), 1000)


def until_next_hour(moment: datetime) -> float:
    """The daily limit resets at midnight in the account's time zone, which the answer does
    not give: the next full hour is the soonest that midnight can be (for whole-hour
    offsets), and one try an hour costs nothing against a spent limit."""
    next_hour = moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return (next_hour - moment).total_seconds()


def parse_seconds(text: str | None, per_second: float = 1) -> float | None:
    try:
        value = float(text or "nan") / per_second
    except ValueError:
        return None
    return value if 0 <= value < float("inf") else None


def parse_object(body: bytes) -> dict[str, Any]:
    try:
        reply = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return reply if isinstance(reply, dict) else {}
