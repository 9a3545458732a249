"""Ringing the router and the dispatchers: Celery messages that say "there is work".

The database is the queue of record (docs/delivery.md, "The pipeline"); a ring only saves waiting
for the sweeper, so it is best effort. A flag in Redis makes many rings one message: whoever rings
sets the flag and sends only if it was not set; the task clears it as it starts, so work committed
after that start rings again. A lost message or a flushed Redis costs at most a sweep (1 s).
"""

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime

import redis
from celery import current_app
from django.utils import timezone

from infra.redis_connection import client

log = logging.getLogger(__name__)

ROUTER_FLAG = "switchyard:ring:router"
# Long enough to cover a queue backlog, short enough that a lost message is soon rung again.
FLAG_SECONDS = 10
# After a failed ring, stop ringing for a while: each attempt against a broker that is away
# costs the caller a connection timeout, and the sweeper finds the work anyway.
PAUSE_SECONDS = 5.0
_paused_until = 0.0


def dispatch_flag(mapping_id: int) -> str:
    return f"switchyard:ring:dispatch:{mapping_id}"


def later_flag(mapping_id: int) -> str:
    return f"switchyard:ring:later:{mapping_id}"


def ring_router() -> None:
    _ring(ROUTER_FLAG, "destinations.route", [])


def ring_dispatchers(mapping_ids: Iterable[int]) -> None:
    for mapping_id in set(mapping_ids):
        _ring(dispatch_flag(mapping_id), "destinations.dispatch", [mapping_id])


def ring_dispatcher_at(mapping_id: int, moment: datetime) -> None:
    """Ring once `moment` comes (a batch's flush time, a rate limit slot); one such ring
    waits per mapping at a time."""
    delay = max(0.0, (moment - timezone.now()).total_seconds())
    _ring(later_flag(mapping_id), "destinations.dispatch", [mapping_id], delay)


def answered(flag: str) -> None:
    """Called by a task as it starts, so that work committed from now on rings again."""
    try:
        client().delete(flag)
    except redis.RedisError:
        log.warning("could not clear %s", flag, exc_info=True)


def _ring(flag: str, task: str, args: list, delay: float = 0.0) -> None:
    global _paused_until
    if time.monotonic() < _paused_until:
        return
    try:
        ttl = max(1, int(delay) + FLAG_SECONDS) if delay else FLAG_SECONDS
        if client().set(flag, 1, nx=True, ex=ttl):
            current_app.send_task(task, args, countdown=delay or None)
    except Exception:
        _paused_until = time.monotonic() + PAUSE_SECONDS
        log.warning("could not ring %s; the sweeper will find the work", task, exc_info=True)


# Under load, many requests a second would each ring the router (a Redis round trip, ~5 % of a
# /v1/track request's CPU, measured) for one router run; a ring every 50 ms is as good.
RING_INTERVAL_SECONDS = 0.05


class Throttled:
    """Calls `action` at most once per `interval`; a call that falls inside an interval is
    made at its end instead (once for all of them), so the latest call is never dropped."""

    def __init__(self, action: Callable[[], None], interval: float) -> None:
        self.action = action
        self.interval = interval
        self.lock = threading.Lock()
        self.next_call_at = 0.0
        self.trailing_call: threading.Timer | None = None

    def __call__(self) -> None:
        with self.lock:
            now = time.monotonic()
            if now >= self.next_call_at:
                self.next_call_at = now + self.interval
            else:
                if self.trailing_call is None:
                    self.trailing_call = threading.Timer(self.next_call_at - now, self.trail)
                    self.trailing_call.daemon = True
                    self.trailing_call.start()
                return
        self.action()

    def trail(self) -> None:
        with self.lock:
            self.trailing_call = None
            self.next_call_at = time.monotonic() + self.interval
        self.action()


ring_router_soon = Throttled(ring_router, RING_INTERVAL_SECONDS)
