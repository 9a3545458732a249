"""/healthz for load balancers and /metrics for Prometheus (docs/operations.md, "Health checks" and
"Metrics")."""

import hmac

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from destinations.delivery.gauges import oldest_unrouted_age
from infra import metrics, partitions
from infra.metrics import SwitchyardCollector
from infra.redis_connection import client

CLOSED = "/metrics is closed: set METRICS_TOKEN and scrape with 'Authorization: Bearer <token>'\n"
registry = CollectorRegistry(auto_describe=False)
registry.register(SwitchyardCollector())
metrics.register_gauges(partitions.gauges)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": database_answers(), "redis": redis_answers()}
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unavailable"}
    body |= {name: "ok" if fine else "down" for name, fine in checks.items()}
    # Alarms, not outages: without partitions ahead, events go to the default partition; events
    # the router has not reached wait in the table (and retention keeps them).
    if checks["database"]:
        alarms = {"partitions": partitions_alarm(), "routing": routing_alarm()}
        body |= {name: alarm or "ok" for name, alarm in alarms.items()}
        if healthy and any(alarms.values()):
            body["status"] = "degraded"
    return JsonResponse(body, status=200 if healthy else 503)


def partitions_alarm() -> str:
    missing = partitions.missing_ahead()
    return f"missing ahead: {', '.join(missing)}" if missing else ""


def routing_alarm() -> str:
    age = oldest_unrouted_age()
    if age is None or age <= settings.UNROUTED_ALARM_SECONDS:
        return ""
    return f"oldest unrouted event received {age:.0f} s ago"


def database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


def redis_answers() -> bool:
    try:
        return bool(client().ping())
    except redis.RedisError:
        return False


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    # With METRICS_TOKEN set, scrapers must send it as a bearer token; without one, only a
    # DEBUG server shows its sources' and destinations' names to anyone who asks.
    if settings.METRICS_TOKEN:
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(sent, settings.METRICS_TOKEN):
            return HttpResponse("a bearer token is required\n", status=401)
    elif not settings.DEBUG:
        return HttpResponse(CLOSED, status=403, content_type="text/plain")
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
