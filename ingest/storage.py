"""Writing events: one statement per request, and one for many requests when they meet.

SPEC §2.7 asks for one multi-row statement per request. The rows travel as one JSON document,
the statement's only parameter, which the database unpacks itself (jsonb_to_recordset on
PostgreSQL, json_each on SQLite): bulk_create would bind a parameter per column per row
(SQLite caps them at 999, PostgreSQL parses them slowly), and arrays cost psycopg a Python
escaping pass per element (most of a batch request's time, measured), where a document is
escaped in one C call. jsonb rather than json: PostgreSQL parses the document once and each
payload is a slice of it. ON CONFLICT DO NOTHING is the messageId dedup.

Group commit: outside a transaction, requests of one process that arrive while an INSERT is
in flight wait for it, then share the next INSERT and its commit (see `GroupCommit`).
"""

import threading
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

import orjson
from django.db import connection

from .models import Event
from .normalize import Accepted

TABLE = Event._meta.db_table
COLUMNS = (
    "source_id, received_at, message_id, type, name, user_id, anonymous_id, timestamp, payload"
)
POSTGRES_INSERT = f"""\
INSERT INTO {TABLE} ({COLUMNS})
SELECT * FROM jsonb_to_recordset(%s::jsonb) AS rows(
    source_id bigint, received_at timestamptz, message_id varchar, type varchar, name varchar,
    user_id varchar, anonymous_id varchar, timestamp timestamptz, payload jsonb
)
ON CONFLICT (source_id, message_id) DO NOTHING
"""
SQLITE_INSERT = f"""\
INSERT OR IGNORE INTO {TABLE} ({COLUMNS})
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
    json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
    json_extract(value, '$[6]'), json_extract(value, '$[7]'), json(json_extract(value, '$[8]'))
FROM json_each(%s)
"""


@dataclass(frozen=True)
class Rows:
    """One request's accepted events."""

    source_id: int
    received_at: datetime
    events: list[Accepted]


def insert(requests: list[Rows]) -> None:
    """One INSERT for all these requests' events."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRES_INSERT, [postgres_document(requests)])
        else:
            cursor.execute(SQLITE_INSERT, [sqlite_document(requests)])


def postgres_document(requests: list[Rows]) -> str:
    """The rows as jsonb_to_recordset reads them: one object per row, keyed by column."""
    rows = [
        {
            "source_id": request.source_id,
            "received_at": request.received_at,
            "message_id": event.message_id,
            "type": event.type,
            "name": event.name,
            "user_id": event.user_id,
            "anonymous_id": event.anonymous_id,
            "timestamp": event.timestamp,
            "payload": event.message,
        }
        for request in requests
        for event in request.events
    ]
    return orjson.dumps(rows).decode()


def sqlite_document(requests: list[Rows]) -> str:
    adapt_time = connection.ops.adapt_datetimefield_value
    rows = [
        [
            request.source_id,
            adapt_time(request.received_at),
            event.message_id,
            event.type,
            event.name,
            event.user_id,
            event.anonymous_id,
            adapt_time(event.timestamp),
            event.message,
        ]
        for request in requests
        for event in request.events
    ]
    return orjson.dumps(rows).decode()


class Turn(Enum):
    WAITING = "waiting"
    LEAD = "lead"  # insert the queued requests (this one included)
    STORED = "stored"  # another request's INSERT committed these rows
    ALONE = "alone"  # a shared INSERT failed: insert these rows by themselves


@dataclass
class Waiter:
    rows: Rows
    turn: Turn = Turn.WAITING
    woken: threading.Event = field(default_factory=threading.Event)

    def wake(self, turn: Turn) -> None:
        self.turn = turn
        self.woken.set()


class GroupCommit:
    """Requests that meet share an INSERT and its commit, as PostgreSQL's own group commit.

    A single-event request costs PostgreSQL a statement, a WAL flush and more CPU than the
    rest of the request (measured); with threaded workers, requests that arrive while an
    INSERT is in flight queue up, and the first of them (the leader) inserts them all on its
    own connection once that INSERT is done. Nobody waits on purpose: a request alone is
    inserted at once. A shared INSERT that fails is retried request by request, so one
    request's bad row never fails another's.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queue: list[Waiter] = []
        self.leading = False

    def insert(self, rows: Rows) -> bool:
        """Commit `rows`; True when this call's INSERT did (its caller rings the router)."""
        waiter = Waiter(rows)
        with self.lock:
            self.queue.append(waiter)
            waiter.turn = Turn.WAITING if self.leading else Turn.LEAD
            self.leading = True
        if waiter.turn is Turn.WAITING:
            waiter.woken.wait()
        if waiter.turn is Turn.LEAD:
            return self.lead(waiter)
        if waiter.turn is Turn.ALONE:
            insert([rows])
            return True
        return False

    def lead(self, leader: Waiter) -> bool:
        with self.lock:
            group, self.queue = self.queue, []
        followers = [waiter for waiter in group if waiter is not leader]
        outcome = Turn.ALONE
        try:
            insert([waiter.rows for waiter in group])
            outcome = Turn.STORED
        except Exception:
            if not followers:
                raise
        finally:
            self.pass_the_lead()
            for follower in followers:
                follower.wake(outcome)
        if outcome is Turn.ALONE:
            insert([leader.rows])
        return True

    def pass_the_lead(self) -> None:
        with self.lock:
            if self.queue:
                self.queue[0].wake(Turn.LEAD)
            else:
                self.leading = False


GROUP_COMMIT = GroupCommit()


def insert_events(source_id: int, events: list[Accepted], received_at: datetime) -> bool:
    """Store one request's events; True when this call's INSERT committed them.

    Inside a transaction the INSERT is this request's own (its rows commit with it);
    otherwise it joins the group commit.
    """
    rows = Rows(source_id, received_at, events)
    if connection.in_atomic_block:
        insert([rows])
        return True
    return GROUP_COMMIT.insert(rows)
