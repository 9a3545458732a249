"""How Amplitude's answers are read item by item: which events a 400 refused and why, which a
429 throttled, and the pauses Amplitude asks for. Kept apart from amplitude.py's builders and
actions, which alone import them."""

from collections import defaultdict
from typing import Any

from .base import Answer, ItemResult, Outcome

# A throttled user or device: HTTP V2 asks for a 30 s pause, the Identify API for 15 s; no
# Retry-After is documented.
EVENT_THROTTLE_SECONDS = 30.0
IDENTIFY_THROTTLE_SECONDS = 15.0
# The lists by which a 400 names the events it refused. Amplitude's own SDKs drop those
# and send the others again (Amplitude-TypeScript, analytics-core/src/plugins/destination.ts,
# handleInvalidResponse); the HTTP V2 doc says "remove those events and resend the rest".
REFUSALS = {
    "events_with_invalid_fields": "invalid",
    "events_with_missing_fields": "missing",
    "events_with_invalid_id_lengths": "too short",
}
INVALID_API_KEY = "Invalid API key"


def indexes(value: Any, count: int) -> list[int]:
    if not isinstance(value, list):
        return []
    return [i for i in value if type(i) is int and 0 <= i < count]


def refusal_reasons(reply: dict[str, Any], count: int) -> dict[int, list[str]]:
    """Why each event a 400 names was refused, by the event's index in the request."""
    reasons: dict[int, list[str]] = defaultdict(list)
    for key, problem in REFUSALS.items():
        by_field = reply.get(key)
        for name, listed in by_field.items() if isinstance(by_field, dict) else ():
            for i in indexes(listed, count):
                reasons[i].append(f"{problem} {name}")
    for i in indexes(reply.get("silenced_events"), count):
        reasons[i].append("device silenced")
    return reasons


def read_events_answer(answer: Answer, count: int) -> list[ItemResult] | None:
    """Results event by event from a 400 or 429 that names events by index: the ones it
    refused fail, throttled ones wait the pause Amplitude asks for, and the others, refused
    only for being in the same request, go again at once. None for any other answer."""
    reply = answer.json_object() if answer.status in (400, 429) else None
    if reply is None:
        return None
    error = str(reply.get("error") or f"HTTP {answer.status}")
    bad_key = error.startswith(INVALID_API_KEY)
    if answer.status == 400 and (reply.get("missing_field") or bad_key):
        # The request itself is wrong (Amplitude's SDKs fail every event for these).
        code = "INVALID_AUTHENTICATION" if bad_key else "BAD_REQUEST"
        return [ItemResult(Outcome.FAILED, code, f"HTTP 400: {error}")] * count
    reasons = refusal_reasons(reply, count)
    throttled = set(indexes(reply.get("throttled_events"), count))
    if not reasons and not throttled:
        return None
    return [event_result(i, reasons, throttled, error) for i in range(count)]


def event_result(
    index: int, reasons: dict[int, list[str]], throttled: set[int], error: str
) -> ItemResult:
    if index in reasons:
        message = f"Amplitude refused this event: {error} ({', '.join(reasons[index])})"
        return ItemResult(Outcome.FAILED, "BAD_REQUEST", message)
    if index in throttled:
        message = f"Amplitude throttled this event's user or device: {error}"
        return ItemResult(Outcome.RETRY, "TOO_MANY_REQUESTS", message, EVENT_THROTTLE_SECONDS)
    message = f"Amplitude refused the whole request for other events in it ({error})"
    return ItemResult(Outcome.RETRY, "RESENT_WITHOUT_REFUSED_EVENTS", message, 0.0)


def read_identify_answer(answer: Answer, count: int) -> list[ItemResult] | None:
    """A 429 names no identification: the whole request waits the pause Amplitude asks for."""
    if answer.status != 429:
        return None
    reply = answer.body[:500].decode("utf-8", errors="replace").strip()
    message = f"HTTP 429: Amplitude throttled a user or device of this request: {reply}"
    throttled = ItemResult(Outcome.RETRY, "TOO_MANY_REQUESTS", message, IDENTIFY_THROTTLE_SECONDS)
    return [throttled] * count
