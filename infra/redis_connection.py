"""The process's Redis client for doorbells and metrics (Celery keeps its own connections)."""

import redis
from django.conf import settings

_clients: dict[str, redis.Redis] = {}


def client() -> redis.Redis:
    # By URL, so a test that points REDIS_URL elsewhere gets a client for that place.
    url = settings.REDIS_URL
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    return _clients[url]
