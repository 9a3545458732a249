"""Meta's rules for the Conversions API: how customer information is normalized and hashed
(its customer information parameters and its Business SDK's normalize.py), and how a Graph
API error answer reads, item by item. meta_conversions.py builds the requests and declares
the kind.
"""

import hashlib
import re
from collections.abc import Callable
from typing import Any

import orjson

from .base import Answer, ItemResult, Outcome

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Graph API error codes (https://developers.facebook.com/docs/graph-api/guides/error-handling
# and .../overview/rate-limiting): throttling, transient outages, tokens and permissions.
RATE_LIMITED = frozenset({4, 17, 32, 613, 80004})
TRANSIENT = frozenset({1, 2})
BAD_TOKEN = frozenset({102, 190})
NO_PERMISSION = frozenset({10, *range(200, 300)})
INVALID_PARAMETER = 100
# The transport's own cap on a Retry-After: past a day the retry window decides.
MAX_WAIT_SECONDS = 24 * 3600.0
# Meta names an event of the batch in its parameter errors as `$['data'][3]`.
EVENT_INDEX = re.compile(r"\$\['data'\]\[(\d+)\]")


def normalized(value: Any) -> str:
    return str(value).strip().lower()


def digits(value: str) -> str:
    # "Remove symbols, letters, and any leading zeros"; the country code stays.
    return re.sub(r"\D", "", value).lstrip("0")


def birth_date(value: str) -> str:
    """YYYYMMDD, from an ISO date (Segment's birthday trait) or digits."""
    if match := re.match(r"(\d{4})-(\d{2})-(\d{2})", value):
        return "".join(match.groups())
    return re.sub(r"\D", "", value)


def gender(value: str) -> str:
    return {"m": "m", "male": "m", "f": "f", "female": "f"}.get(value, "")


def postal_code(value: str) -> str:
    # The SDK's rule: no spaces, and a US ZIP+4 keeps its first five digits.
    return re.sub(r"\s", "", value).split("-")[0]


def letters(value: str) -> str:
    return re.sub(r"[^a-z]", "", value)


def place(value: str) -> str:
    # Meta's SDK drops digits, spaces, dots, dashes and brackets from cities and states.
    return re.sub(r"[0-9.\s\-()]", "", value)


Normalizer = Callable[[str], str]
# Field key, Meta's key, and how a value is normalized before hashing (Meta's customer
# information parameters and its Business SDK's normalize.py); None: sent as it is.
USER_DATA: tuple[tuple[str, str, Normalizer | None], ...] = (
    ("email", "em", str),
    ("phone", "ph", digits),
    ("first_name", "fn", str),
    ("last_name", "ln", str),
    ("gender", "ge", gender),
    ("date_of_birth", "db", birth_date),
    ("city", "ct", place),
    ("state", "st", place),
    ("zip", "zp", postal_code),
    ("country", "country", letters),
    # Hashing is "recommended" for external IDs; Segment hashes them, and so do we.
    ("external_id", "external_id", str),
    ("client_ip_address", "client_ip_address", None),
    ("client_user_agent", "client_user_agent", None),
    ("fbc", "fbc", None),
    ("fbp", "fbp", None),
)


def hashed(value: Any, normalize: Normalizer) -> str:
    text = normalized(value)
    if SHA256_HEX.fullmatch(text):
        return text  # hashed already: hashing it again would match no one
    clean = normalize(text)
    return hashlib.sha256(clean.encode()).hexdigest() if clean else ""


def user_data(payload: dict[str, Any]) -> dict[str, str]:
    data = {}
    for key, meta_key, normalize in USER_DATA:
        value = payload.get(key)
        if value is None:
            continue
        sent = str(value) if normalize is None else hashed(value, normalize)
        if sent:
            data[meta_key] = sent
    return data


def graph_error(answer: Answer) -> dict[str, Any] | None:
    try:
        reply = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return None
    error = reply.get("error") if isinstance(reply, dict) else None
    return error if isinstance(error, dict) and type(error.get("code")) is int else None


def describe(error: dict[str, Any]) -> str:
    text = error.get("error_user_msg") or error.get("message") or "no message"
    codes = "/".join(str(error[k]) for k in ("code", "error_subcode") if error.get(k) is not None)
    trace = f" (fbtrace_id {error['fbtrace_id']})" if error.get("fbtrace_id") else ""
    return f"Meta error {codes}: {text}{trace}"


def read_error(answer: Answer) -> ItemResult | None:
    """A Graph API error by its code: throttling and outages are retried, token and
    permission errors fail as authentication, an invalid parameter fails."""
    error = graph_error(answer)
    if error is None:
        return None
    code, message = error["code"], describe(error)
    if code in RATE_LIMITED:
        return ItemResult(Outcome.RETRY, "TOO_MANY_REQUESTS", message, regain_access(answer))
    if code in TRANSIENT or error.get("is_transient") is True:
        return ItemResult(Outcome.RETRY, "SERVICE_UNAVAILABLE", message)
    if code in BAD_TOKEN or code in NO_PERMISSION:
        return ItemResult(Outcome.FAILED, "INVALID_AUTHENTICATION", message)
    if code == INVALID_PARAMETER:
        return ItemResult(Outcome.FAILED, "INVALID_PARAMETER", message)
    return None


def regain_access(answer: Answer) -> float | None:
    """Seconds until Meta lifts the throttle: the largest `estimated_time_to_regain_access`
    (minutes) of the X-Business-Use-Case-Usage header, or None."""
    try:
        usage = orjson.loads(answer.headers.get("x-business-use-case-usage", ""))
    except orjson.JSONDecodeError:
        return None
    entries = usage.values() if isinstance(usage, dict) else ()
    minutes = [
        entry["estimated_time_to_regain_access"]
        for group in entries
        if isinstance(group, list)
        for entry in group
        if isinstance(entry, dict)
        and type(entry.get("estimated_time_to_regain_access")) in (int, float)
    ]
    return min(max(0.0, max(minutes) * 60.0), MAX_WAIT_SECONDS) if minutes else None


def read_response(answer: Answer, count: int) -> list[ItemResult] | None:
    """A refused request item by item, so that it is not split to find what Meta already
    said: an error naming `$['data'][i]` fails that event and retries the others at once
    (Meta processed none of them); an error about the request (token, throttling) counts
    for all. Anything else is judged whole, and a 400 of several events is split."""
    if 200 <= answer.status < 300 or (error := graph_error(answer)) is None:
        return None
    texts = " ".join(str(error.get(key) or "") for key in ("message", "error_user_msg"))
    named = {int(i) for i in EVENT_INDEX.findall(texts) if int(i) < count}
    if named and error["code"] == INVALID_PARAMETER:
        failed = ItemResult(Outcome.FAILED, "INVALID_PARAMETER", describe(error))
        innocent = ItemResult(Outcome.RETRY, "BATCH_REFUSED", "another event was invalid", 0)
        return [failed if i in named else innocent for i in range(count)]
    result = read_error(answer)
    if result is None or result.code == "INVALID_PARAMETER":
        return None
    return [result] * count
