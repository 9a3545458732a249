import base64
import binascii
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from infra import metrics
from infra.tallies import add_counts, hour_of

from . import rate_limit
from .errors import IngestError, bad_request, payload_too_large
from .models import Rejection, Source
from .normalize import MAX_NESTING_DEPTH, Accepted, Invalid, RequestContext, encoded, normalize
from .normalize import Rejection as Rejected
from .selectors import SourceRef, source_for_write_key
from .signals import events_stored
from .storage import insert_events

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    rejected: list[Rejected]


def authenticate(authorization: str, payload: Any) -> SourceRef:
    """Resolve the source from Basic auth, else the body's writeKey, else the first item's."""
    write_key = basic_auth_username(authorization) or body_write_key(payload)
    if not write_key:
        raise IngestError(
            401,
            "unknown_source",
            "no write key: send it as the Basic auth username or as writeKey in the body",
        )
    source = source_for_write_key(write_key)
    if source is None:
        raise IngestError(401, "unknown_source", "no source has this write key")
    if not source.enabled:
        raise IngestError(401, "source_disabled", f"source '{source.name}' is disabled")
    return source


def basic_auth_username(authorization: str) -> str:
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[0]


def body_write_key(payload: Any) -> str:
    if not isinstance(payload, dict):
        return ""
    candidates = [payload.get("writeKey")]
    batch = payload.get("batch")
    if isinstance(batch, list) and batch and isinstance(batch[0], dict):
        candidates.append(batch[0].get("writeKey"))
    return next((key for key in candidates if isinstance(key, str) and key), "")


def ingest_payload(
    source: SourceRef, payload: Any, message_type: str | None, client_ip: str | None
) -> IngestResult:
    """Validate, enrich and store one request's messages; returns once they are committed.

    `message_type` is the type the path names, or None for the batch endpoints.
    """
    if not isinstance(payload, dict):
        raise bad_request("the body must be a JSON object")
    received_at = received_now()
    if message_type is None:
        items, ctx = batch_request(payload, received_at, client_ip)
    else:
        items = [payload]
        ctx = RequestContext(
            received_at, client_ip, settings.INGEST_MAX_MESSAGE_BYTES, forced_type=message_type
        )
    enforce_rate_limit(source, len(items))
    accepted, rejected = normalize(items, ctx)
    if not rejected:
        # One statement is atomic and commits on its own: no BEGIN and COMMIT round trips.
        store_events(source.id, accepted, received_at)
    else:
        with transaction.atomic():
            store_events(source.id, accepted, received_at)
            count_rejections(source.id, rejected, received_at)
    metrics.count_ingest(source.name, len(accepted), Counter(item.code for item in rejected))
    return IngestResult(len(accepted), rejected)


def ingest_messages(source: Source, items: list[Any]) -> tuple[list[Accepted], list[Rejected]]:
    """Messages Switchyard made itself (a table source's rows), down the Tracking API's
    path: the same checks, enrichment, dedup and routing. Stored in the caller's
    transaction, so that they commit with whatever the caller records beside them."""
    received_at = received_now()
    ctx = RequestContext(received_at, None, settings.INGEST_MAX_MESSAGE_BYTES, measure_size=True)
    accepted, rejected = normalize(items, ctx)
    store_events(source.id, accepted, received_at)
    if rejected:
        count_rejections(source.id, rejected, received_at)
    metrics.count_ingest(source.name, len(accepted), Counter(item.code for item in rejected))
    return accepted, rejected


def received_now() -> datetime:
    now = timezone.now()
    # Milliseconds, as in the payload, so the columns and the JSON agree to the digit.
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def enforce_rate_limit(source: SourceRef, events: int) -> None:
    limit = settings.SOURCE_RATE_LIMIT if source.rate_limit is None else source.rate_limit
    if not limit:
        return
    wait = rate_limit.seconds_to_wait(source.key_digest, limit, events)
    if wait is None:
        return
    metrics.count_ingest(source.name, 0, Counter({"rate_limited": events}))
    # Counted beside validation's rejections, for the source's page and the overview: one
    # upsert, in autocommit, per refused request (a write that ingest's accepted requests
    # never make: a counter row shared by a source's requests would serialize them).
    key = (source.id, hour_of(timezone.now()), "rate_limited")
    example = f"a request of {events:,} events over the limit of {limit:,} a second"
    add_counts(Rejection, {key: events}, ("source_id", "hour", "code"), {key: {"example": example}})
    raise IngestError(
        429,
        "rate_limited",
        f"source '{source.name}' may send {limit:,} events a second; nothing was stored, "
        f"retry in {wait} s",
        {"Retry-After": str(wait), "X-RateLimit-Reset": str(wait), "X-RateLimit-Limit": str(limit)},
    )


def batch_request(
    payload: dict[str, Any], received_at: datetime, client_ip: str | None
) -> tuple[list[Any], RequestContext]:
    items = payload.get("batch")
    if not isinstance(items, list):
        raise bad_request("'batch' must be an array of messages")
    if len(items) > settings.INGEST_MAX_BATCH_EVENTS:
        limit = settings.INGEST_MAX_BATCH_EVENTS
        raise payload_too_large(f"the batch has {len(items):,} events; the limit is {limit:,}")
    for key in ("context", "integrations"):
        check_envelope_part(key, payload.get(key))
    return items, RequestContext(
        received_at,
        client_ip,
        settings.INGEST_MAX_MESSAGE_BYTES,
        envelope_context=payload.get("context"),
        envelope_integrations=payload.get("integrations"),
        envelope_sent_at=payload.get("sentAt"),
        measure_size=True,
    )


ENVELOPE_FAULTS = {
    "too_deep": f"nests past {MAX_NESTING_DEPTH - 1} levels",
    "unencodable": "holds a value JSON cannot carry (NaN, Infinity, a lone surrogate)",
}


def check_envelope_part(key: str, value: Any) -> None:
    """The batch's context or integrations, merged into every message, refuse the request
    when no message could hold them: a fault of the request's, not of one message."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise bad_request(f"the batch's '{key}' must be an object")
    try:
        # Merged one level down, as each message's context or integrations.
        encoded(value, MAX_NESTING_DEPTH - 1)
    except Invalid as invalid:
        raise bad_request(f"the batch's '{key}' {ENVELOPE_FAULTS[invalid.code]}") from None


def store_events(source_id: int, accepted: list[Accepted], received_at: datetime) -> None:
    """One INSERT for the request; a messageId the source already sent is ignored (dedup)."""
    unique: dict[str, Accepted] = {}
    for item in accepted:
        unique.setdefault(item.message_id, item)
    # When another request's INSERT carried these rows, that request rings the router.
    if unique and insert_events(source_id, list(unique.values()), received_at):
        transaction.on_commit(announce_stored)


def count_rejections(source_id: int, rejected: list[Rejected], received_at: datetime) -> None:
    hour = hour_of(received_at)
    counts: Counter[tuple] = Counter((source_id, hour, item.code) for item in rejected)
    latest = {(source_id, hour, item.code): {"example": item.example} for item in rejected}
    add_counts(Rejection, counts, ("source_id", "hour", "code"), latest)


def announce_stored() -> None:
    events_stored.send(sender=None)
