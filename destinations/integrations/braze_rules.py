"""Braze's documented endpoints and limits, its gender codes, and the readers of its Track
users answers (per-object errors, X-RateLimit-Reset): braze.py builds the requests and
declares the kind.
"""

import math
import time

import orjson

from .base import Answer, ItemResult, Outcome, ResponseReader, named_refusals

DEFAULT_ENDPOINT = "https://rest.iad-01.braze.com"
# The REST endpoints of Braze's instances: https://www.braze.com/docs/api/basics/#endpoints
ENDPOINTS = (
    *(f"https://rest.iad-0{n}.braze.com" for n in range(1, 9)),
    "https://rest.us-10.braze.com",
    "https://rest.fra-01.braze.eu",
    "https://rest.fra-02.braze.eu",
    "https://rest.au-01.braze.com",
    "https://rest.id-01.braze.com",
    "https://rest.jp-01.braze.com",
    "https://rest.kr-01.braze.com",
)
# Braze counts at most 75 objects per request across the attributes, events and purchases
# arrays (75 per array on legacy plans; https://www.braze.com/docs/api/api_limits/). A
# request here holds one array, so the limit is 75 objects of it either way; a purchase is
# one object per product, so it counts purchases, not events.
MAX_OBJECTS = 75
# Braze refuses bodies over 4 MB (API limits, "Payload size limits"); the margin is for the
# envelope around the objects.
MAX_OBJECT_BYTES = 4_000_000 - 100
# Braze's gender codes (user attributes object) and the words Segment's destination maps.
GENDERS = {
    "M": ("man", "male", "m"),
    "F": ("woman", "female", "w", "f"),
    "O": ("other", "o"),
    "N": ("not applicable", "n"),
    "P": ("prefer not to say", "p"),
}
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0
REFUSED_FOR_OTHERS = "Braze refused the whole request for other objects in it; sent again"


def braze_gender(gender: str | None) -> str | None:
    if not gender:
        return None
    words = gender.lower()
    return next((code for code, names in GENDERS.items() if words in names), gender)


def answer_reader(array: str) -> ResponseReader:
    """Per-item results from the `errors` Braze lists as `{type, input_array, index}`: in a
    2xx only those objects were dropped; in a 400 nothing was recorded, so the objects it
    does not name are sent again at once. None when the answer names no object."""

    def read(answer: Answer, count: int) -> list[ItemResult] | None:
        if not (200 <= answer.status < 300 or answer.status == 400):
            return None
        refused = refused_items(answer, array, count)
        return named_refusals(answer, refused, count, REFUSED_FOR_OTHERS)

    return read


def refused_items(answer: Answer, array: str, count: int) -> dict[int, str] | None:
    try:
        reply = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return None
    errors = reply.get("errors") if isinstance(reply, dict) else None
    if not isinstance(errors, list):
        return None
    owners = answer.request.object_items if answer.request else ()
    refused = {}
    for error in errors:
        if not isinstance(error, dict) or error.get("input_array", array) != array:
            continue
        index = error.get("index")
        if type(index) is not int or not 0 <= index < (len(owners) if owners else count):
            continue
        position = owners[index] if owners else index
        refused[position] = f"Braze refused {array}[{index}]: {error.get('type')}"
    return refused


def read_rate_limit(answer: Answer) -> ItemResult | None:
    """A 429's wait from X-RateLimit-Reset, the UTC epoch second when Braze's window resets
    (https://www.braze.com/docs/api/api_limits/#monitoring-your-rate-limits); Retry-After,
    when sent, is left to the generic rules."""
    if answer.status != 429 or "retry-after" in answer.headers:
        return None
    try:
        reset = float(answer.headers.get("x-ratelimit-reset", ""))
    except ValueError:
        return None
    if not math.isfinite(reset):
        return None
    wait = min(max(0.0, reset - time.time()), MAX_RETRY_AFTER_SECONDS)
    text = answer.body[:500].decode("utf-8", errors="replace").strip()
    return ItemResult(Outcome.RETRY, "TOO_MANY_REQUESTS", f"HTTP 429: {text}", wait)
