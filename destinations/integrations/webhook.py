"""Webhook: mapped events as JSON to any http(s) URL a mapping names (docs/destinations.md,
"Webhook").

Behaves like Segment's Webhooks (Actions) destination, and signs requests the same way:
https://segment.com/docs/connections/destinations/catalog/actions-webhook/
"""

import hashlib
import hmac
from typing import Any

import orjson

from destinations.mapping import js_text

from .base import Action, Config, Field, Kind, Request, Setting

MAX_BATCH_SIZE = 4000  # Segment's limit for its webhook action
JSON_HEADERS = {"Content-Type": "application/json"}
SIGNATURE_HEADER = "X-Signature"

# Requests to one (url, method, headers) go together; a payload that is not batched is a
# group of its own, told apart by its index.
GroupKey = tuple[str, str, tuple[tuple[str, str], ...], int | None]


def header_texts(headers: dict[str, Any]) -> dict[str, str]:
    """Header values as text, the way @template writes values: numbers and booleans as
    JavaScript prints them, objects and arrays as compact JSON. A null leaves the header
    out, so a mapping can make a header conditional."""
    return {name: js_text(value) for name, value in headers.items() if value is not None}


def request_headers(custom: dict[str, str], body: bytes, secret: str) -> dict[str, str]:
    # A mapping may replace Content-Type (in any letter case) but never the signature.
    custom_names = {name.lower() for name in custom}
    headers = {k: v for k, v in JSON_HEADERS.items() if k.lower() not in custom_names}
    headers |= {k: v for k, v in custom.items() if k.lower() != SIGNATURE_HEADER.lower()}
    if secret:
        headers[SIGNATURE_HEADER] = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return headers


def group_key(index: int, payload: dict[str, Any]) -> GroupKey:
    headers = tuple(sorted(header_texts(payload.get("headers", {})).items()))
    alone = None if payload.get("enable_batching") else index
    return payload["url"], payload["method"], headers, alone


def build_send(config: Config, payloads: list[dict[str, Any]]) -> list[Request]:
    groups: dict[GroupKey, list[int]] = {}
    for index, payload in enumerate(payloads):
        groups.setdefault(group_key(index, payload), []).append(index)
    secret = config.get("shared_secret") or ""
    requests = []
    for (url, method, headers, alone), indexes in groups.items():
        data = [payloads[i].get("data") for i in indexes]
        # A batch is always an array, even of one; an unbatched payload is its data alone.
        body = orjson.dumps(data if alone is None else data[0])
        requests.append(
            Request(method, url, request_headers(dict(headers), body, secret), body, tuple(indexes))
        )
    return requests


SEND = Action(
    key="send",
    title="Send",
    description="Send the mapped data as JSON to a URL, one event per request or in batches.",
    fields=(
        # No default: a mapping cannot be saved until it says where to send.
        Field("url", "URL", "url", True, description="Where to send the data (http or https)."),
        Field("method", "Method", "string", True, "POST", choices=("POST", "PUT", "PATCH")),
        Field(
            "headers",
            "Headers",
            "object",
            description="Extra request headers. Values are sent as text (numbers, booleans "
            "and objects written as @template writes them); a null value leaves the header out.",
        ),
        Field("data", "Data", "any", default={"@path": "$."}, description="The JSON to send."),
        Field(
            "enable_batching",
            "Enable batching",
            "boolean",
            default=False,
            description="Send a JSON array of the data of several events per request; raise "
            "the mapping's batch size to fill it. Batches are split by URL, method and headers.",
        ),
    ),
    build=build_send,
    batching=True,
    max_batch_size=MAX_BATCH_SIZE,
    default_batch_size=1,
    default_trigger='type = "track"',
)

KIND = Kind(
    key="webhook",
    name="Webhook",
    description="Mapped events as JSON to any HTTP endpoint, optionally signed.",
    docs_url="https://segment.com/docs/connections/destinations/catalog/actions-webhook/",
    # Every mapping names its own absolute URL, so a destination-wide base URL would have
    # nothing to prefix: it stays empty and unused (a proxy goes into the URL itself).
    default_base_url="",
    settings=(
        Setting(
            "shared_secret",
            "Shared secret",
            "password",
            help="If set, each request carries X-Signature: the hex HMAC-SHA1 of the exact "
            "body bytes under this secret, so the receiver can verify where it came from.",
        ),
    ),
    actions=(SEND,),
)
