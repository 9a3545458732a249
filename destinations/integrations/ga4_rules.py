"""Google's documented rules for GA4 event names, parameters, items and currencies
(https://support.google.com/analytics/answer/13316687): GA4 drops what breaks them without a
word, so ga4.py refuses such an event alone, with the rule it breaks. Also how the validation
server's messages are read event by event; ga4.py alone imports this module."""

import re
from typing import Any

import orjson

from .base import Answer, ItemResult, Outcome

MAX_NAME_LENGTH = 40
MAX_USER_PROPERTY_NAME_LENGTH = 24
MAX_ENTRIES = 25
# Starts with a letter, then letters, digits or underscores ("alphanumeric": any script).
NAME = re.compile(r"[^\W\d_]\w*")
RESERVED_PREFIXES = ("firebase_", "google_", "ga_")
# The protocol reference's reserved names, which Firebase's Event reference also lists.
RESERVED_EVENT_NAME = re.compile(
    r"ad_(activeview|click|exposure|impression|query|reward)|adunit_exposure"
    r"|app_(background|clear_data|exception|install|remove|update|upgrade)"
    r"|app_store_(refund|subscription_(cancel|convert|renew))"
    r"|dynamic_link_(app_open|app_update|first_open)|error|first_(open|visit)|in_app_purchase"
    r"|notification_(dismiss|foreground|open|receive|send)|os_update"
    r"|session_start(_with_rollout)?|user_engagement"
)
RESERVED_USER_PROPERTY = re.compile(
    r"first_open_time|first_visit_time|last_deep_link_referrer|user_id|first_open_after_install"
)
CURRENCY = re.compile(r"[A-Za-z]{3}")
# Google's validation server checks what the live endpoint tolerates when asked to.
INDEX_IN_FIELD_PATH = re.compile(r"^events\[(\d+)\]")
INDEX_IN_DESCRIPTION = re.compile(r"at index: \[(\d+)\]")


def name_problem(
    kind: str, name: str, max_length: int, reserved: re.Pattern[str] | None = None
) -> str | None:
    if len(name) > max_length:
        return f"{kind} '{name}' is longer than GA4's {max_length} characters"
    if not NAME.fullmatch(name):
        return f"{kind} '{name}' must start with a letter and hold only letters, digits and _"
    if name.startswith(RESERVED_PREFIXES) or (reserved and reserved.fullmatch(name)):
        return f"{kind} '{name}' is a name or prefix GA4 reserves"
    return None


def entries_problem(
    kind: str, entries: dict[str, Any], max_length: int, reserved: re.Pattern[str] | None = None
) -> str | None:
    # 25 is the limit of both parameters per event and user properties per request.
    if len(entries) > MAX_ENTRIES:
        return f"{len(entries)} {kind} entries; GA4 keeps at most {MAX_ENTRIES}"
    for name, value in entries.items():
        if problem := name_problem(kind, name, max_length, reserved):
            return problem
        if isinstance(value, dict | list) and name != "items":
            return f"{kind} '{name}' is an object or array; GA4 takes text and numbers only"
    return None


def items_problem(items: Any) -> str | None:
    if not isinstance(items, list):
        return "items must be an array of objects"
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            return f"items[{position}] is not an object"
        if item.get("item_id") is None and item.get("item_name") is None:
            return f"items[{position}] needs an item_id or an item_name"
    return None


def currency_problem(currency: Any) -> str | None:
    if currency is None or (isinstance(currency, str) and CURRENCY.fullmatch(currency)):
        return None
    return f"currency {currency!r} is not a 3-letter ISO 4217 code"


def event_name(name: str, lowercase: bool) -> str:
    """Segment's rule: spaces become underscores (GA4 allows none), case kept unless asked."""
    name = re.sub(r"\s", "_", name.strip())
    return name.lower() if lowercase else name


def read_validation(answer: Answer, count: int) -> list[ItemResult] | None:
    """The validation server's 200 `{"validationMessages": [...]}`: each message fails the
    event it names (by `events[i]` or "at index: [i]"), or every event when it names none.
    The live endpoint answers 204 with no body: that is judged whole, as delivered."""
    if answer.status != 200:
        return None
    try:
        reply = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return None
    messages = reply.get("validationMessages") if isinstance(reply, dict) else None
    if not isinstance(messages, list):
        return None
    found: list[list[dict[str, Any]]] = [[] for _ in range(count)]
    for message in (m for m in messages if isinstance(m, dict)):
        index = message_index(message)
        for item in [index] if index is not None and index < count else range(count):
            found[item].append(message)
    return [validation_result(item_messages) for item_messages in found]


def validation_result(messages: list[dict[str, Any]]) -> ItemResult:
    if not messages:
        return ItemResult(Outcome.DELIVERED)
    code = str(messages[0].get("validationCode") or "VALIDATION_FAILED")
    texts = "; ".join(str(message.get("description") or "invalid") for message in messages)
    return ItemResult(Outcome.FAILED, code, f"GA4 validation: {texts}")


def message_index(message: dict[str, Any]) -> int | None:
    path, description = str(message.get("fieldPath") or ""), str(message.get("description") or "")
    match = INDEX_IN_FIELD_PATH.match(path) or INDEX_IN_DESCRIPTION.search(description)
    return int(match.group(1)) if match else None
