"""Switchyard settings, read from the environment (see .env.example for every name)."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# Without DEBUG a missing SECRET_KEY must stop the process rather than sign sessions with a
# well-known value.
SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key" if DEBUG else "")
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("SECRET_KEY is required when DEBUG is off")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The admin whose home is the operator's overview (project/admin_site.py).
    "project.apps.SwitchyardAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "project",
    "ingest",
    "destinations",
    "tables",
    "warehouse",
    "configuration",
]

# Sessions, users and messages (project/middleware.py) let the Tracking API's paths through.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "project.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "project.middleware.AuthenticationMiddleware",
    "project.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # The admin's template tags live with the admin code, not in an app's templatetags/.
            "libraries": {"delivery_log": "destinations.admin.delivery_tags"},
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'switchyard.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: WAL lets readers run beside the writer, IMMEDIATE
    # transactions take the write lock up front instead of failing half-way with "locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that live servers and worker processes of a test see its rows.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    # Performance: no health check (a SELECT 1 round trip) before each request's first query;
    # it cost /v1/track a few per cent of its CPU (make bench). A connection the database
    # dropped fails one request (the Tracking API answers 503 + Retry-After, which SDKs retry)
    # and Django then discards it. DB_CONN_HEALTH_CHECKS=true brings the check back.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
STORAGES = {
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve admin assets straight from the installed apps so `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = True

# --- Redis and Celery -------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Well below the broker's visibility timeout, so a task is never handed out twice while alive.
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=8)
# Celery's Django fix-up closes every database connection before and after each task unless
# this is set: at 1,000 events/s that was 1,052 new connections in a 40 s soak, each a
# PostgreSQL backend forked with cold caches; without them the ordering soak's p95 went from
# 0.3-0.8 s to 0.08-0.27 s (make bench, ordering; issue 30, docs/performance.md). Set,
# connections are reused, and project/celery.py closes them as Django does after a request:
# past CONN_MAX_AGE, or unusable after an error.
CELERY_DB_REUSE_MAX = 10**9
CELERY_BEAT_SCHEDULE = {
    "sweep": {"task": "destinations.sweep", "schedule": 1.0, "options": {"expires": 5}},
    # A held delivery whose blocker vanished (its mapping deleted, say) waits this long at most;
    # so does one whose release was missed, which two workers on 100 busy users still showed
    # now and then (a lane left held after its blocker was delivered; docs/delivery.md).
    "held": {"task": "destinations.release_held", "schedule": 5.0, "options": {"expires": 4}},
    "purge": {"task": "destinations.purge", "schedule": 3600.0, "options": {"expires": 600}},
    # Partitions exist two days ahead; an hourly round leaves many chances to create them.
    "partitions": {
        "task": "destinations.partitions",
        "schedule": 3600.0,
        "options": {"expires": 600},
    },
    "table-sources": {"task": "tables.schedule", "schedule": 30.0, "options": {"expires": 25}},
    "table-source-runs": {"task": "tables.purge", "schedule": 3600.0, "options": {"expires": 600}},
}
# A kick is only a doorbell (the database is the queue of record), so publishing must fail
# fast instead of holding an ingest request while Redis is away.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    # Give up on an unreachable broker after one quick retry; callers decide what next.
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}

# --- Tracking API -----------------------------------------------------------------------
INGEST_MAX_MESSAGE_BYTES = env.int("INGEST_MAX_MESSAGE_BYTES", default=32 * 1024)
INGEST_MAX_BATCH_BYTES = env.int("INGEST_MAX_BATCH_BYTES", default=500 * 1024)
INGEST_MAX_BATCH_EVENTS = env.int("INGEST_MAX_BATCH_EVENTS", default=2500)
INGEST_RETRY_AFTER_SECONDS = env.int("INGEST_RETRY_AFTER_SECONDS", default=5)
# Addresses of reverse proxies whose X-Forwarded-For is believed (IPs or CIDR blocks).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# How long a process remembers a write key lookup; rotation and disabling take effect
# everywhere within this delay (and at once in the process that made the change).
SOURCE_CACHE_SECONDS = env.float("SOURCE_CACHE_SECONDS", default=5.0)
# Events a second a source may send when its own limit is empty; 0 means no limit.
SOURCE_RATE_LIMIT = env.int("SOURCE_RATE_LIMIT", default=0)
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=7)
# A messageId seen again from the same source within this many hours is acknowledged and
# ignored. Segment promises about a day; less would let SDK retries through, so 24 is the floor.
DEDUP_WINDOW_HOURS = env.int("DEDUP_WINDOW_HOURS", default=24)
if DEDUP_WINDOW_HOURS < 24:
    raise environ.ImproperlyConfigured("DEDUP_WINDOW_HOURS must be at least 24")
# PostgreSQL keeps events, deliveries and attempts in time partitions of this length ("day" or
# "hour"); retention drops whole partitions. Hourly suits rates where a day is too big to drop.
PARTITION_INTERVAL = env.str("PARTITION_INTERVAL", default="day")
if PARTITION_INTERVAL not in ("day", "hour"):
    raise environ.ImproperlyConfigured('PARTITION_INTERVAL must be "day" or "hour"')

# --- Destinations -----------------------------------------------------------------------
# Fernet keys for destination secrets, newest first: the first encrypts, all decrypt (so a
# key can be rotated in, then `manage.py rotate_secrets`, then the old one dropped).
SECRETS_KEYS = env.list("SECRETS_KEYS", default=[])
# Webhook and forwarder URLs may point at loopback/private networks only when this is on.
ALLOW_PRIVATE_DESTINATIONS = env.bool("ALLOW_PRIVATE_DESTINATIONS", default=False)
DESTINATION_CONNECT_TIMEOUT = env.float("DESTINATION_CONNECT_TIMEOUT", default=10.0)
DESTINATION_READ_TIMEOUT = env.float("DESTINATION_READ_TIMEOUT", default=10.0)
# A request's whole exchange (connect, send, the full answer), however slowly the destination
# answers: the timeouts above bound each read, and a byte a second never trips them.
DESTINATION_REQUEST_DEADLINE_SECONDS = env.float(
    "DESTINATION_REQUEST_DEADLINE_SECONDS", default=20.0
)
# How long a claimed batch is held for its worker; past it, the batch goes out again. It must
# outlast a request (its deadline) by a margin, or a slow answer would be sent twice.
DELIVERY_LEASE_SECONDS = env.float("DELIVERY_LEASE_SECONDS", default=60.0)
# Deliveries one claim may take when a mapping's requests carry fewer: that many requests of
# batch size 1, sent one after another, cost one claim and one record of their outcomes.
CLAIM_MAX_DELIVERIES = env.int("CLAIM_MAX_DELIVERIES", default=100)
# A batch starts its last request before half its lease: that request must end inside it.
if not 0 < DESTINATION_REQUEST_DEADLINE_SECONDS < DELIVERY_LEASE_SECONDS / 2:
    raise environ.ImproperlyConfigured(
        "DESTINATION_REQUEST_DEADLINE_SECONDS must be above 0 and below half of "
        "DELIVERY_LEASE_SECONDS"
    )
# Routers running at once; the other worker processes are left to the dispatchers.
ROUTER_PROCESSES = env.int("ROUTER_PROCESSES", default=2)
if ROUTER_PROCESSES < 1:
    raise environ.ImproperlyConfigured("ROUTER_PROCESSES must be at least 1: nothing would route")
# Attempts carried by one dispatcher run before it hands the mapping back to the queue.
DISPATCH_RUN_SECONDS = env.float("DISPATCH_RUN_SECONDS", default=20.0)
ATTEMPT_RETENTION_DAYS = env.int("ATTEMPT_RETENTION_DAYS", default=7)
# When set, /metrics wants `Authorization: Bearer <token>`.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# /healthz turns "degraded" once an event has waited this long for the router.
UNROUTED_ALARM_SECONDS = env.float("UNROUTED_ALARM_SECONDS", default=900.0)

# --- Table sources ----------------------------------------------------------------------
# Rows read, diffed and stored per transaction: a run that stops keeps the chunks done.
TABLE_SOURCE_CHUNK_ROWS = env.int("TABLE_SOURCE_CHUNK_ROWS", default=1000)
# A run stops after this long and the next one carries on; below the broker's visibility
# timeout (3600 s), or a long run's task would be handed to a second worker.
TABLE_SOURCE_RUN_SECONDS = env.int("TABLE_SOURCE_RUN_SECONDS", default=3000)
# A running run beats with each chunk; silent for its statement timeout and this long, it lost
# its worker and is marked failed, so that the next one may start.
TABLE_SOURCE_GRACE_SECONDS = env.int("TABLE_SOURCE_GRACE_SECONDS", default=300)
TABLE_SOURCE_RUN_RETENTION_DAYS = env.int("TABLE_SOURCE_RUN_RETENTION_DAYS", default=90)

# --- Transformations --------------------------------------------------------------------
# CPU per event and memory per loaded script; past either, the event fails for that destination.
TRANSFORMATION_CPU_MS = env.int("TRANSFORMATION_CPU_MS", default=50)
TRANSFORMATION_MEMORY_MB = env.int("TRANSFORMATION_MEMORY_MB", default=64)

CORS_ALLOW_ALL_ORIGINS = True
CORS_URLS_REGEX = r"^/v1/.*$"
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-encoding",
    "content-type",
    "user-agent",
    "x-requested-with",
)
CORS_ALLOW_METHODS = ("OPTIONS", "POST")
CORS_PREFLIGHT_MAX_AGE = 86400

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "ingest.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchyard Tracking API",
    "DESCRIPTION": "Segment-compatible HTTP Tracking API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ loads Swagger UI from the sidecar's static files: nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "writeKeyBasic": {
                "type": "http",
                "scheme": "basic",
                "description": "The source's write key as the username, empty password.",
            }
        }
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # httpx logs every request at INFO: the attempt log already keeps them, with more detail.
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

# --- Security when DEBUG is off (`manage.py check --deploy` passes with these defaults) ---
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# HTTPS everywhere: plain-http requests are redirected, and browsers are told to remember it.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
# Load balancers and Prometheus probe over plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
# Behind a TLS-terminating proxy, it says which requests came in over HTTPS.
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
