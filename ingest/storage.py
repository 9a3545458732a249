"""Writing events: one statement per request, and one for many requests when they meet.

One multi-row statement per request (docs/tracking-api.md, "Storage and dedup"):
infra.bulk.insert_rows sends the rows as one JSON document. ON CONFLICT DO NOTHING (INSERT OR IGNORE
on SQLite) is the messageId dedup, completed on PostgreSQL by a look into the dedup window's
partitions.

Group commit: outside a transaction, requests of one process that arrive while an INSERT is
in flight wait for it, then share the next INSERT and its commit (see `GroupCommit`).
"""

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from django.conf import settings
from django.db import connection

from infra import partitions
from infra.bulk import Unseen, insert_rows

from .models import Event
from .normalize import Accepted


@dataclass(frozen=True)
class Rows:
    """One request's accepted events."""

    source_id: int
    received_at: datetime
    events: list[Accepted]


# A messageId is a duplicate per source (two sources may share an id), within the dedup window.
DEDUP_KEY = ("message_id", "source_id")


def insert(requests: list[Rows]) -> None:
    """One INSERT for all these requests' events; a messageId seen within the dedup window is
    skipped: ON CONFLICT finds it in the event's own partition, `Unseen` in the others of the
    window (its earliest partition is looked at whole: the window may stretch by up to one
    partition interval, never shrink)."""
    rows = (
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
    )
    oldest, newest = min(r.received_at for r in requests), max(r.received_at for r in requests)
    since = oldest - timedelta(hours=settings.DEDUP_WINDOW_HOURS)
    # ON CONFLICT looks in the partition the rows go to, when they all go to one.
    window = partitions.overlapping(Event._meta.db_table, since, newest, besides=(oldest, newest))
    insert_rows(Event, rows, ignore_conflicts=True, unseen=Unseen(DEDUP_KEY, window))


class Turn(Enum):
    WAITING = "waiting"
    LEAD = "lead"  # insert the queued requests (this one included)
    STORED = "stored"  # another request's INSERT committed these rows
    ALONE = "alone"  # a shared INSERT failed: insert these rows by themselves


class Waiter:
    """A queued request; `wake` hands it its turn."""

    __slots__ = ("rows", "signal", "turn")

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self.turn = Turn.WAITING
        # A bare lock held until woken: blocking on it costs less than on a threading.Event.
        self.signal = threading.Lock()
        self.signal.acquire()

    def wait(self) -> None:
        self.signal.acquire()

    def wake(self, turn: Turn) -> None:
        self.turn = turn
        self.signal.release()


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
            waiter.wait()
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
