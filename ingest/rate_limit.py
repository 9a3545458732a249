"""Per-source rate limit (docs/tracking-api.md, "Rate limit"): events a second, counted in Redis so
that every web process and machine shares one count.

Fixed one-second windows. A request is admitted whole while its source's window has room
(so one request may overshoot by its own size) and refused whole otherwise: SDKs retry a
refused batch as it was, so admitting part of one would split it. When Redis does not answer,
requests are admitted: running without the limit for a while is better than refusing events.
"""

import logging
import math
import time

import redis

from infra.redis_connection import client

log = logging.getLogger(__name__)

# Atomic, so two processes cannot both see room for their batches in the last slot.
ADMIT = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then
  return 0
end
redis.call('INCRBY', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], 2)
return 1
"""


def clock() -> float:
    return time.time()


def seconds_to_wait(key_digest: bytes, limit: int, events: int) -> int | None:
    """None when `events` more fit in this second's window; else whole seconds until the next."""
    now = clock()
    window = int(now)
    key = f"switchyard:rate:{key_digest.hex()[:32]}:{window}"
    try:
        admitted = client().register_script(ADMIT)(keys=[key], args=[limit, events])
    except redis.RedisError:
        log.warning("rate limit not enforced: Redis did not answer", exc_info=True)
        return None
    if admitted:
        return None
    return max(1, math.ceil(window + 1 - now))
