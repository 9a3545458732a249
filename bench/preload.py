"""The preload of `make bench-scale`: a full database's events, deliveries, attempts and links.

Pure SQL (INSERT ... SELECT ... FROM generate_series), a chunk per transaction so progress can
be printed. Rows are what production writes: ~1 KB track events as the Tracking API stores
them, routed; one delivery per event, carrying the Metronome preset's payload; one attempt
per batch of BATCH deliveries (one HTTP request), linked to each of them. The texts come from
the product's own code (normalize, the mapping, the kind's request builder) with markers that
the SQL fills in per row, so they follow the product when it changes.

Ids are given explicitly, from the tables' sequences, so that deliveries, attempts and links
can be computed from an event's position alone; the sequences are moved past them at the end.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from django.db import connection, transaction

from bench.payloads import SENT_AT, sdk_event
from bench.scale_measure import TABLES, next_ids, set_sequences
from infra.partitions import ensure_partitions

# Items per request: the Metronome action's batch size.
BATCH = 100
# Rows per transaction; a multiple of BATCH so that no batch spans two chunks.
CHUNK = 250_000
USERS = 250_000
EVENT_NAMES = (  # noqa: SIM905 (one line, where a list takes ten)
    "Order Completed,Product Viewed,Product Added,Checkout Started,Signed In,Search Performed,"
    "Coupon Applied,Cart Viewed"
).split(",")
# The parameters that hold where each table's preloaded ids start (after its sequence).
BASES = dict(zip(("event_base", "delivery_base", "attempt_base", "link_base"), TABLES, strict=True))
# What a batch came to, by its number: ~1 % refused for good (a whole request fails on
# Metronome), and in the retry window 5 % of the requests waiting for another try.
FATES = """(VALUES
    ('delivered', 'delivered', 200, '', '', '{}'),
    ('failed', 'failed', 400, 'BAD_REQUEST', 'HTTP 400: {"message":"unknown customer_id"}',
     '{"message":"unknown customer_id"}'),
    ('retrying', 'retry', 503, 'SERVICE_UNAVAILABLE', 'HTTP 503: upstream connect error',
     'upstream connect error')
) AS fate(status, outcome, status_code, error_code, error_message, response_body)"""
STATUS_SQL = """CASE WHEN sent_at >= %(retry_since)s AND mod(b, 20) = 3 THEN 'retrying'
    WHEN mod(b, 100) = 7 THEN 'failed' ELSE 'delivered' END"""
# When batch b went out: its last event's arrival plus the mapping's 1 s flush interval.
SENT_AT_SQL = f"%(start)s + ((b + 1) * {BATCH})::float8 * %(step)s + interval '1 s'"
DURATION_SQL = "(60 + mod(b * 37, 200))"
TIME_TEXT = """to_char(({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""

EVENTS_SQL = """
INSERT INTO ingest_event (id, source_id, message_id, type, name, user_id, anonymous_id,
                          timestamp, received_at, payload, routed_at)
OVERRIDING SYSTEM VALUE
SELECT %(event_base)s + i + 1, %(source_id)s, message_id, 'track', name, user_id, anonymous_id,
       received_at - interval '0.3 s', received_at, {payload}::jsonb,
       received_at + interval '0.05 s'
FROM (
    SELECT i, gen_random_uuid()::text AS message_id,
           (%(names)s::text[])[1 + mod(i, %(name_count)s)] AS name,
           'user-' || left(md5(mod(i, %(users)s)::text), 8) AS user_id,
           md5('anonymous' || mod(i, %(users)s))::uuid::text AS anonymous_id,
           %(start)s + (i + 0.5)::float8 * %(step)s AS received_at
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) AS i
) AS generated
"""
DELIVERIES_SQL = """
INSERT INTO destinations_delivery (id, event_id, mapping_id, destination_id, status, payload,
    payload_bytes, attempts, created_at, first_attempt_at, last_attempt_at, next_attempt_at,
    claim, lease_expires_at, last_status_code, error_code, error_message, delivered_at,
    replay, replay_of_id, event_received_at)
OVERRIDING SYSTEM VALUE
SELECT %(delivery_base)s + i + 1, event_id, %(mapping_id)s, %(destination_id)s, fate.status,
    payload, octet_length(payload::text), 1, received_at + interval '0.02 s', sent_at, sent_at,
    CASE WHEN fate.status = 'retrying' THEN %(retry_at)s
         ELSE received_at + interval '0.02 s' END,
    NULL, NULL, fate.status_code, fate.error_code, fate.error_message,
    CASE WHEN fate.status = 'delivered'
         THEN sent_at + {duration} * interval '1 ms' END,
    false, NULL, received_at
FROM (
    SELECT *, {status} AS status
    FROM (
        SELECT e.id AS event_id, e.received_at, i, b, {sent_at} AS sent_at,
               {payload}::jsonb AS payload
        FROM ingest_event e,
             LATERAL (SELECT e.id - %(event_base)s - 1 AS i) AS position,
             LATERAL (SELECT i / {batch} AS b) AS batch
        WHERE e.id > %(event_base)s + %(lo)s AND e.id <= %(event_base)s + %(hi)s
    ) AS timed
) AS chunk JOIN {fates} ON fate.status = chunk.status
"""
ATTEMPTS_SQL = """
INSERT INTO destinations_deliveryattempt (id, destination_id, mapping_id, started_at,
    duration_ms, item_count, outcome, request_method, request_url, request_headers,
    request_body, response_status, response_headers, response_body, error_code, error_message)
OVERRIDING SYSTEM VALUE
SELECT %(attempt_base)s + b + 1, %(destination_id)s, %(mapping_id)s, min(first_attempt_at),
    {duration}, count(*), fate.outcome, 'POST', %(request_url)s, %(request_headers)s::jsonb,
    '[' || string_agg(payload::text, ',' ORDER BY id) || ']', fate.status_code,
    %(response_headers)s::jsonb, fate.response_body, fate.error_code, fate.error_message
FROM (
    SELECT d.*, (d.id - %(delivery_base)s - 1) / {batch} AS b FROM destinations_delivery d
    WHERE d.id > %(delivery_base)s + %(lo)s AND d.id <= %(delivery_base)s + %(hi)s
) AS chunk JOIN {fates} ON fate.status = chunk.status
GROUP BY b, fate.outcome, fate.status_code, fate.response_body, fate.error_code,
         fate.error_message
"""
LINKS_SQL = """
INSERT INTO destinations_deliveryattempt_deliveries (id, deliveryattempt_id,
                                                     delivery_id, started_at)
OVERRIDING SYSTEM VALUE
SELECT %(link_base)s + (id - %(delivery_base)s),
       %(attempt_base)s + (id - %(delivery_base)s - 1) / {batch} + 1, id, first_attempt_at
FROM destinations_delivery
WHERE id > %(delivery_base)s + %(lo)s AND id <= %(delivery_base)s + %(hi)s
"""


@dataclass(frozen=True)
class Target:
    """What the preloaded rows hang off: fixtures made through the product's services."""

    source: Any
    destination: Any
    mapping: Any


@dataclass(frozen=True)
class Load:
    """A preload ready to run: its INSERTs, their parameters, and how many events."""

    events: int
    inserts: list[str]
    params: dict[str, Any]


def prepare(target: Target, per_day: float, start: datetime, end: datetime) -> Load:
    """`per_day` events a day, evenly from `start` to `end`, in whole batches."""
    total = round(per_day * ((end - start) / timedelta(days=1)) / BATCH) * BATCH
    ensure_partitions(start, end + timedelta(days=2))  # past days need partitions
    inserts, texts = statements(templates(target))
    # The preload's ids follow each table's highest id and sequence.
    bases = next_ids(TABLES)
    params = base_params(target, start, end, total) | texts
    params |= {name: bases[table] for name, table in BASES.items()}
    return Load(total, inserts, params)


def insert_chunk(load: Load, lo: int) -> int:
    """Events lo.. (and what hangs off them) in one transaction; returns where it stopped."""
    hi = min(lo + CHUNK, load.events)
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in load.inserts:
            cursor.execute(sql, load.params | {"lo": lo, "hi": hi})
    return hi


def finish(load: Load) -> None:
    """Sequences past the preloaded ids, and statistics for the planner: after millions of
    rows the old ones would mislead it (and autovacuum may be off, or not yet round)."""
    used = dict.fromkeys(BASES, load.events) | {"attempt_base": -(-load.events // BATCH)}
    set_sequences({table: load.params[name] + used[name] for name, table in BASES.items()})
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(TABLES)}")


def statements(texts: dict[str, str]) -> tuple[list[str], dict]:
    """The four INSERTs of a chunk, and the parameters that hold the pieces of the payload
    templates."""
    time_of = TIME_TEXT.format
    event_payload, event_pieces = filled(
        "event",
        texts.pop("event_template"),
        {
            "@@mid@@": "message_id",
            "@@uid@@": "user_id",
            "@@aid@@": "anonymous_id",
            "@@name@@": "name",
            "@@acct@@": "'acct-' || mod(i, 5000)",
            "@@rat@@": time_of("received_at"),
            "@@ts@@": time_of("received_at - interval '0.3 s'"),
        },
    )
    delivery_payload, delivery_pieces = filled(
        "delivery",
        texts.pop("delivery_template"),
        {
            "@@mid@@": "e.message_id",
            "@@name@@": "e.name",
            "@@acct@@": "'acct-' || mod(i, 5000)",
            "@@ts@@": time_of("e.timestamp"),
        },
    )
    common = {"batch": BATCH, "fates": FATES, "duration": DURATION_SQL}
    return [
        EVENTS_SQL.format(payload=event_payload),
        DELIVERIES_SQL.format(
            **common,
            status=STATUS_SQL,
            sent_at=SENT_AT_SQL,
            payload=delivery_payload,
        ),
        ATTEMPTS_SQL.format(**common),
        LINKS_SQL.format(batch=BATCH),
    ], texts | event_pieces | delivery_pieces


def filled(name: str, template: str, values: dict[str, str]) -> tuple[str, dict[str, str]]:
    """SQL that concatenates a template's constant pieces (parameters) with the expressions
    of its markers: one pass per row, where a replace() per marker took one each."""
    sql, params = [], {}
    for index, piece in enumerate(re.split(r"(@@\w+@@)", template)):
        if index % 2:
            sql.append(f"({values[piece]})")
        else:
            params[f"{name}_{index}"] = piece
            sql.append(f"%({name}_{index})s::text")
    return f"({' || '.join(sql)})", params


def base_params(target: Target, start: datetime, end: datetime, total: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    retry_window = timedelta(seconds=target.destination.retry_window_seconds)
    return {
        "source_id": target.source.pk,
        "destination_id": target.destination.pk,
        "mapping_id": target.mapping.pk,
        "names": EVENT_NAMES,
        "name_count": len(EVENT_NAMES),
        "users": USERS,
        "start": start,
        "step": (end - start) / total,
        "retry_since": now - retry_window,
        # Due after any run ends: the soak measures its own traffic, not these retries.
        "retry_at": now + timedelta(hours=3),
    }


def templates(target: Target) -> dict[str, Any]:
    """The event as the Tracking API stores it, the delivery payload the mapping renders
    from it, and the request the Metronome kind builds: texts with per-row markers."""
    from destinations.delivery.exchanges import USER_AGENT, redact_headers
    from destinations.delivery.payloads import prepare
    from ingest.normalize import RequestContext, normalize_message

    received = datetime(2024, 5, 1, 12, 34, 57, 1000, tzinfo=UTC)
    context = RequestContext(received, "203.0.113.42", 32 * 1024, envelope_sent_at=SENT_AT)
    event = normalize_message({"messageId": "@@mid@@", **sdk_event()}, context).message
    event |= {"event": "@@name@@", "userId": "@@uid@@", "anonymousId": "@@aid@@"}
    event["context"]["groupId"] = "@@acct@@"
    mapping, config = target.mapping, target.destination.config()
    payload = prepare(mapping.action_spec, mapping.fields, event)
    request = mapping.action_spec.build(config, [payload])[0]
    event |= {"receivedAt": "@@rat@@"}
    event |= dict.fromkeys(("timestamp", "originalTimestamp", "sentAt"), "@@ts@@")
    payload["timestamp"] = "@@ts@@"
    headers = redact_headers({"User-Agent": USER_AGENT, **request.headers}, config.secret_values)
    return {
        "event_template": orjson.dumps(event).decode(),
        "delivery_template": orjson.dumps(payload).decode(),
        "request_url": request.url,
        "request_headers": orjson.dumps(headers).decode(),
        "response_headers": orjson.dumps({"content-type": "application/json"}).decode(),
    }
