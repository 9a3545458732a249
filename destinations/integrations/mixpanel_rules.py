"""Mixpanel's rules for insert IDs and reserved profile names, and its answers read item by
item: kept apart from mixpanel.py's builders and actions, which alone import them."""

import re
import uuid
from typing import Any

from .base import Answer, ItemResult, Outcome

# "$insert_ids must be <= 36 bytes and contain only alphanumeric characters or "-"", and
# none of the IDs Mixpanel refuses as distinct_id (Import Events, properties.$insert_id).
INSERT_ID = re.compile(r"[A-Za-z0-9-]{1,36}")
REFUSED_IDS = frozenset(
    {"00000000-0000-0000-0000-000000000000", "anon", "anonymous", "nil", "none", "null"}
    | {"n/a", "na", "undefined", "unknown", "<nil>", "0", "-1", "true", "false", "[]", "{}"}
)
INSERT_ID_NAMESPACE = uuid.UUID("3c2b7e0e-54a1-4f0e-9a53-7f4f0c6de1a2")
# Traits Mixpanel keeps under reserved names, the first present winning where several give
# one (Segment's identifyUser/index.ts and groupIdentifyUser/index.ts; Reserved Properties).
USER_RESERVED = {
    "email": "$email",
    "phone": "$phone",
    "firstName": "$first_name",
    "lastName": "$last_name",
    "name": "$name",
    "username": "$username",
    **dict.fromkeys(("created", "createdAt", "created_at"), "$created"),
}
GROUP_RESERVED = {key: name for key, name in USER_RESERVED.items() if name in ("$name", "$created")}


def insert_id(message_id: str) -> str:
    """The message ID when Mixpanel takes it as $insert_id; else a UUID made from it, the
    same on every retry so that Mixpanel still drops a duplicate (analytics.js message IDs,
    "ajs-next-", the time and a UUID, are 59 characters long)."""
    if INSERT_ID.fullmatch(message_id) and message_id.lower() not in REFUSED_IDS:
        return message_id
    return str(uuid.uuid5(INSERT_ID_NAMESPACE, message_id))


def read_import_answer(answer: Answer, count: int) -> list[ItemResult] | None:
    """With strict=1 a 400 lists the events that failed validation in failed_records, and
    Mixpanel imports all the others (Import Events, Validation): those are delivered, and
    Mixpanel asks that the failed ones not be retried. None for any other answer."""
    reply = answer.json_object() if answer.status == 400 else None
    failed = reply.get("failed_records") if reply else None
    if not isinstance(failed, list):
        return None
    results = [ItemResult(Outcome.DELIVERED)] * count
    for record in failed:
        index = record.get("index") if isinstance(record, dict) else None
        if type(index) is int and 0 <= index < count:
            problem = record.get("message") or record.get("field") or "failed validation"
            message = f"Mixpanel refused this event: {problem}"
            results[index] = ItemResult(Outcome.FAILED, "BAD_REQUEST", message)
    named = any(result.outcome is Outcome.FAILED for result in results)
    return results if named else None


def reserved_names(traits: dict[str, Any], reserved: dict[str, str]) -> dict[str, Any]:
    """Traits, those Mixpanel reserves a name for renamed ($email, ...)."""
    properties = {key: value for key, value in traits.items() if key not in reserved}
    for key, name in reserved.items():
        if traits.get(key) is not None:
            properties.setdefault(name, traits[key])
    return properties


def full_name(traits: dict[str, Any]) -> dict[str, str]:
    """A user's $name when the traits have no name: the first and last names (Segment's
    getConcatenatedName, mixpanel/common/utils.ts)."""
    first, last = traits.get("firstName"), traits.get("lastName")
    if traits.get("name") is None and isinstance(first, str) and isinstance(last, str):
        return {"$name": f"{first} {last}"} if first and last else {}
    return {}


def read_updates_answer(answer: Answer, count: int) -> list[ItemResult] | None:
    """/engage and /groups answer 200 even to updates they refuse ("check the response
    body"): {"status": 0, "error": ...} means no update of the request was valid. Status 1
    means at least one was; which ones is not said, so they count as delivered."""
    reply = answer.json_object() if 200 <= answer.status < 300 else None
    if reply is None or reply.get("status") != 0:
        return None
    message = f"Mixpanel took none of the updates: {reply.get('error') or 'no reason given'}"
    return [ItemResult(Outcome.FAILED, "BAD_REQUEST", message)] * count
