"""Google's documented rules for GA4 event names, parameters, items and currencies
(https://support.google.com/analytics/answer/13316687): GA4 drops what breaks them without a
word, so ga4.py refuses such an event alone, with the rule it breaks."""

import re
from typing import Any

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
