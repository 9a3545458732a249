"""What the benchmarks send: a realistic ~1 KB Segment track event, as an SDK posts it.

It is bench/engines.py's event before the server enriched it (no receivedAt), plus the
`context.groupId` that the Metronome preset maps to `customer_id`. Each sent copy gets a
messageId of its own, so the dedup never drops one.
"""

import base64
from typing import Any

import orjson

from bench.engines import EVENT

MESSAGE_ID_MARK = "@@message-id@@"
SENT_AT = "2024-05-01T12:34:56.456Z"


def sdk_event() -> dict[str, Any]:
    event = {key: value for key, value in EVENT.items() if key not in ("receivedAt", "messageId")}
    event["context"] = {**event["context"], "groupId": "acct-42"}
    return event


def event_parts() -> tuple[str, str]:
    """(head, tail): head + messageId + tail is the event's JSON (for the wrk Lua scripts)."""
    text = orjson.dumps({"messageId": MESSAGE_ID_MARK, **sdk_event()}).decode()
    head, tail = text.split(MESSAGE_ID_MARK)
    return head, tail


def event_json(message_id: str) -> bytes:
    head, tail = event_parts()
    return f"{head}{message_id}{tail}".encode()


def batch_json(message_ids: list[str]) -> bytes:
    head, tail = event_parts()
    items = ",".join(f"{head}{message_id}{tail}" for message_id in message_ids)
    return f'{{"batch":[{items}],"sentAt":"{SENT_AT}"}}'.encode()


def basic_auth(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


def request_headers(write_key: str) -> dict[str, str]:
    """Headers of every benchmark request; the bench server runs behind a (pretend) TLS
    proxy, as production does, so X-Forwarded-Proto keeps the HTTPS redirect out of it."""
    return {
        "Authorization": basic_auth(write_key),
        "Content-Type": "application/json",
        "X-Forwarded-Proto": "https",
    }
