"""Django settings. Every environment read of the service happens in this file.

Each variable is documented in .env.example. Other modules read ``django.conf.settings``
when they run, never at import time.
"""

from __future__ import annotations

import json
import warnings
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import environ
from django.core.exceptions import ImproperlyConfigured

from otpsite import secretbox

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# --- Core -------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)
_DEV_SECRET = "insecure-development-key-only-for-make-run-and-tests-0123456789abcdef"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set in the environment when DEBUG is off.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
ADMIN_URL = env.str("ADMIN_URL", default="admin/")
if not ADMIN_URL.endswith("/"):
    ADMIN_URL += "/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts.apps.AccountsConfig",
    "messaging.apps.MessagingConfig",
    "messaging.templating.apps.TemplatingConfig",
    "otp.apps.OtpConfig",
    "notifications.apps.NotificationsConfig",
    "otpsite.idempotency.apps.IdempotencyConfig",
    "observability.apps.ObservabilityConfig",
    "web.console.apps.ConsoleConfig",
]

MIDDLEWARE = [
    "otpsite.security.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ (the signup page's script, the API docs' Swagger UI) from the service itself.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The composition root: the one module that imports every app's views (the top layer, pyproject.toml).
ROOT_URLCONF = "web.urls"
WSGI_APPLICATION = "otpsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # `console_url` and `is_tenant_member`: the landing and signup pages link the tenant console.
                "web.console.context.console_link",
            ],
        },
    },
]

# PostgreSQL only (the one-statement writes in messaging/one_statement.py use its data-modifying
# CTEs). The default is the embedded server `make run` starts (scripts/devstack.py).
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5433/otp")}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must name a PostgreSQL database (postgres://...).")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
# Seconds to wait for PostgreSQL to accept a connection: a dead database answers 503 fast, never a hang.
# 2 is libpq's smallest: a refused connection fails at once, a silent host after this long.
DATABASE_CONNECT_TIMEOUT = env.int("DATABASE_CONNECT_TIMEOUT", default=2)
if DATABASE_CONNECT_TIMEOUT < 2:
    raise ImproperlyConfigured("DATABASE_CONNECT_TIMEOUT must be at least 2 (seconds; libpq's smallest).")
# A reused connection is checked before each request, so the first request after PostgreSQL
# restarts gets a fresh connection instead of a 503.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The hot statements of a send and a delivery (messaging/one_statement.py) are prepared: PostgreSQL
# plans each once per connection instead of on every run. Turn off (0) behind a connection pooler
# that cannot carry prepared statements, e.g. PgBouncer before 1.21 in transaction mode.
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = DATABASE_CONNECT_TIMEOUT
if DATABASE_PREPARED_STATEMENTS:
    # psycopg prepares a statement once a connection ran it this many times (0: from the first
    # run). Only a server-side binding cursor (one_statement.cursor) prepares; Django's never do.
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 0
# Django's QuerySet.iterator() would DECLARE a cursor WITH HOLD, which outlives its transaction:
# behind PgBouncer in transaction mode the next statement may reach another server connection.
# Nothing here needs a server-side cursor, so Django never opens one (README, "PgBouncer").
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# Tenant messages and OTP texts: the locale a template falls back to, and the ones shipped.
MESSAGES_DEFAULT_LOCALE = "en"
LANGUAGES = [("en", "English"), ("es", "Español"), ("fr", "Français"), ("de", "Deutsch"), ("pt", "Português")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Times with seconds and time zone, e.g. 2026-11-28 16:32:05 UTC (observability/formats/en/formats.py).
FORMAT_MODULE_PATH = ["observability.formats"]
# Without collectstatic (make run, tests) WhiteNoise serves straight from the apps' static folders.
WHITENOISE_USE_FINDERS = True
# ...so a missing STATIC_ROOT is expected there, not worth a warning on every process's stderr.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

# --- Security (production defaults; `manage.py check --deploy` is clean with DEBUG off) ---

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Only where every request comes through a TLS proxy that sets X-Forwarded-Proto (docker-compose.yml
# turns it on and publishes web on loopback only); a client reaching the server directly could claim https.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# On every response (otpsite/security.py): this origin only, no inline script, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DEFAULT_EXCEPTION_REPORTER_FILTER = "otpsite.reporting.ExceptionReporterFilter"
# The code is a POST field; cap what a request may carry so oversized bodies get a 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
# Largest JSON body the API parser reads (the OTP bodies are under 1 KB): larger ones get 413.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=8192)
# Idempotency-Key: how long a key's answer is kept (replayed), and how long an in-flight request holds it.
IDEMPOTENCY_TTL_SECONDS = env.int("IDEMPOTENCY_TTL_SECONDS", default=86400)
IDEMPOTENCY_LEASE_SECONDS = env.int("IDEMPOTENCY_LEASE_SECONDS", default=60)
# Status callbacks to tenants (Standard Webhooks): attempt timeout, exponential backoff, how long to keep
# trying before the endpoint is disabled, and whether private, loopback and plain-http URLs are allowed
# (tests and private deployments only: otherwise a tenant could make the service call its own network).
CALLBACKS_TIMEOUT_SECONDS = env.float("CALLBACKS_TIMEOUT_SECONDS", default=5.0)
CALLBACKS_BACKOFF_BASE_SECONDS = env.float("CALLBACKS_BACKOFF_BASE_SECONDS", default=10.0)
CALLBACKS_BACKOFF_MAX_SECONDS = env.float("CALLBACKS_BACKOFF_MAX_SECONDS", default=7200.0)
CALLBACKS_RETRY_WINDOW_SECONDS = env.int("CALLBACKS_RETRY_WINDOW_SECONDS", default=86400)
CALLBACKS_SWEEP_SECONDS = env.float("CALLBACKS_SWEEP_SECONDS", default=5.0)
CALLBACKS_ALLOW_PRIVATE_URLS = env.bool("CALLBACKS_ALLOW_PRIVATE_URLS", default=False)
# Limits on the tenant API (429 with Retry-After): requests per second and messages per UTC day,
# per API key and per tenant.
MESSAGES_KEY_REQUESTS_PER_SECOND = env.int("MESSAGES_KEY_REQUESTS_PER_SECOND", default=50)
MESSAGES_TENANT_REQUESTS_PER_SECOND = env.int("MESSAGES_TENANT_REQUESTS_PER_SECOND", default=100)
MESSAGES_KEY_PER_DAY = env.int("MESSAGES_KEY_PER_DAY", default=10000)
MESSAGES_TENANT_PER_DAY = env.int("MESSAGES_TENANT_PER_DAY", default=50000)
# POST /api/v1/messages carries a whole email (inline HTML and text): a larger cap of its own.
MESSAGES_MAX_BODY_BYTES = env.int("MESSAGES_MAX_BODY_BYTES", default=65536)

# --- Redis, Celery ----------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Seconds a Redis call from the web or a worker may take before the store counts as down.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.5)
# Redis behind Sentinel (README, "Redis Sentinel and Cluster"): the state (REDIS_DB there) and, by
# default, the Celery broker follow the current master of REDIS_SENTINEL_MASTER; REDIS_URL is unused.
REDIS_SENTINELS = env.list("REDIS_SENTINELS", default=[])
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", default="")
REDIS_SENTINEL_PASSWORD = env.str("REDIS_SENTINEL_PASSWORD", default="")  # the sentinels' own
REDIS_PASSWORD = env.str("REDIS_PASSWORD", default="")  # the master's and its replicas'
REDIS_DB = env.int("REDIS_DB", default=0)
# A Redis Cluster for the state (breakers, limits, lockout, quotas); the broker cannot be a cluster.
REDIS_CLUSTER_URL = env.str("REDIS_CLUSTER_URL", default="")
if REDIS_SENTINELS and REDIS_CLUSTER_URL:
    raise ImproperlyConfigured("Set REDIS_SENTINELS or REDIS_CLUSTER_URL, not both.")
if REDIS_SENTINELS and not REDIS_SENTINEL_MASTER:
    raise ImproperlyConfigured("REDIS_SENTINELS needs REDIS_SENTINEL_MASTER (the monitored master's name).")
for _sentinel in REDIS_SENTINELS:
    _host, _, _port = _sentinel.rpartition(":")
    if not _host or not _port.isdigit():
        raise ImproperlyConfigured(f"REDIS_SENTINELS takes host:port,host:port,...; got {_sentinel!r}.")


def _sentinel_broker_url() -> str:
    """kombu's sentinel transport URL for the same sentinels, master password and db."""
    auth = f":{quote(REDIS_PASSWORD, safe='')}@" if REDIS_PASSWORD else ""
    return ";".join(f"sentinel://{auth}{host}/{REDIS_DB}" for host in REDIS_SENTINELS)


_BROKER_URL_SET = env.str("CELERY_BROKER_URL", default="")
CELERY_BROKER_URL = _BROKER_URL_SET or (_sentinel_broker_url() if REDIS_SENTINELS else REDIS_URL)
if REDIS_CLUSTER_URL and not _BROKER_URL_SET:
    raise ImproperlyConfigured(
        "REDIS_CLUSTER_URL needs CELERY_BROKER_URL: the broker must be RabbitMQ or a Redis that is not a cluster."
    )
if CELERY_BROKER_URL.startswith("sentinel://") and not REDIS_SENTINEL_MASTER:
    raise ImproperlyConfigured("A sentinel:// CELERY_BROKER_URL needs REDIS_SENTINEL_MASTER.")
# A task is killed after CELERY_TASK_TIME_LIMIT seconds; an unacknowledged task (its worker died)
# goes back to the queue after CELERY_VISIBILITY_TIMEOUT. The limit must stay below the timeout.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30)
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
if CELERY_TASK_TIME_LIMIT >= CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured("CELERY_TASK_TIME_LIMIT must be below CELERY_VISIBILITY_TIMEOUT.")
# The worker's pool and its size (README, "Worker capacity"). Threads keep many provider calls in
# flight per process (each waits on the network, not the CPU); every thread holds one database
# connection, so nodes x CELERY_WORKER_CONCURRENCY must fit PostgreSQL's max_connections. A plain
# `celery -A workers worker` takes these from celeryconfig.py; --concurrency still wins, and the
# pool is chosen here only (Celery 5 takes --pool=prefork for its default and lets these win).
# gevent and eventlet are refused: psycopg and the Redis client are not patched for them here.
CELERY_WORKER_POOL = env.str("CELERY_WORKER_POOL", default="threads")
if CELERY_WORKER_POOL not in ("threads", "prefork", "solo"):
    raise ImproperlyConfigured("CELERY_WORKER_POOL must be threads, prefork or solo.")
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=64)
if CELERY_WORKER_CONCURRENCY < 1:
    raise ImproperlyConfigured("CELERY_WORKER_CONCURRENCY must be at least 1.")
# Task events (received, started, succeeded) are what Flower's task list shows; each costs the
# worker a publish to the broker (7-16 % of a delivery's CPU at 200 ms), so they are off unless
# asked for. Worker heartbeats stay on either way: Flower still lists the workers and their state.
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CELERY_WORKER_SEND_TASK_EVENTS", default=False)
# Celery's own INFO lines per task ("Task ... received", "Task ... succeeded in ...") are off unless
# asked for (LOGGING below sets their loggers to WARNING): they cost a delivery several per cent of its
# CPU and say what the attempt's own line (messaging.attempt) says. Retries and failures are logged either way.
CELERY_WORKER_LOG_TASKS = env.bool("CELERY_WORKER_LOG_TASKS", default=False)
# Queues, so slow work never waits in front of a code: delivery (deliver_otp) has a queue of its
# own; receipts and resends, the beat sweeps and retention have theirs (celeryconfig.task_routes).
CELERY_QUEUE_DELIVERY = "delivery"
CELERY_QUEUE_RECEIPTS = "receipts"
CELERY_QUEUE_SWEEPS = "sweeps"
CELERY_QUEUE_RETENTION = "retention"
CELERY_QUEUE_CALLBACKS = "callbacks"
# Every queue a worker consumes, delivery first: celeryconfig declares them, /metrics reports them.
CELERY_QUEUES = (
    CELERY_QUEUE_DELIVERY,
    CELERY_QUEUE_RECEIPTS,
    CELERY_QUEUE_SWEEPS,
    CELERY_QUEUE_RETENTION,
    CELERY_QUEUE_CALLBACKS,
)
CELERY_QUEUE_DEAD_LETTER = "dead-letter"  # quorum queues only: what went past the delivery limit; nobody consumes it
# RabbitMQ only: "quorum" declares every queue above as a quorum queue (replicated across the
# cluster's nodes, README "Brokers"), with a delivery limit and a dead-letter queue; "classic"
# keeps RabbitMQ's classic queues. A message returned CELERY_QUEUE_DELIVERY_LIMIT times (its
# worker died each time it held it) goes to the dead-letter queue instead of round again.
CELERY_QUEUE_TYPE = env.str("CELERY_QUEUE_TYPE", default="classic")
if CELERY_QUEUE_TYPE not in ("classic", "quorum"):
    raise ImproperlyConfigured("CELERY_QUEUE_TYPE must be classic or quorum.")
if CELERY_QUEUE_TYPE == "quorum" and not CELERY_BROKER_URL.startswith(("amqp://", "amqps://", "pyamqp://")):
    raise ImproperlyConfigured("CELERY_QUEUE_TYPE=quorum needs RabbitMQ as CELERY_BROKER_URL (amqp://...).")
CELERY_QUEUE_DELIVERY_LIMIT = env.int("CELERY_QUEUE_DELIVERY_LIMIT", default=20)
if CELERY_QUEUE_DELIVERY_LIMIT < 1:
    raise ImproperlyConfigured("CELERY_QUEUE_DELIVERY_LIMIT must be at least 1.")
# How long a worker's claim on a message stands before another worker may take it over.
OTP_CLAIM_LEASE_SECONDS = env.int("OTP_CLAIM_LEASE_SECONDS", default=CELERY_TASK_TIME_LIMIT + 10)
if OTP_CLAIM_LEASE_SECONDS <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("OTP_CLAIM_LEASE_SECONDS must be above CELERY_TASK_TIME_LIMIT.")
# A worker process's liveness key lives this long unless refreshed (every fifth of it): once a
# killed process's key is gone, a redelivered task takes its claims over without waiting for the
# lease (otpsite/liveness.py). A live process whose heartbeat stalls this long may lose its claims.
# (One at or above the lease changes nothing: the lease ends the claim first.)
WORKER_ALIVE_TTL_SECONDS = env.float("WORKER_ALIVE_TTL_SECONDS", default=5.0)
if WORKER_ALIVE_TTL_SECONDS < 1:
    raise ImproperlyConfigured("WORKER_ALIVE_TTL_SECONDS must be at least 1.")
# The way back that does not trust the broker (otp/recovery.py, on beat): every SWEEP seconds,
# delivery is published again for codes still queued GRACE seconds after they were last
# published, or still sending past their claim lease, while they are valid.
OTP_RECOVERY_SWEEP_SECONDS = env.float("OTP_RECOVERY_SWEEP_SECONDS", default=5.0)
OTP_RECOVERY_GRACE_SECONDS = env.float("OTP_RECOVERY_GRACE_SECONDS", default=10.0)

# --- OTP ---------------------------------------------------------------------------------

OTP_HMAC_KEY = env.str("OTP_HMAC_KEY", default="") or f"otp-hmac:{SECRET_KEY}"

# --- Tenant provider credentials (messaging/tenancy, otpsite/secretbox.py) ----------------
# Fernet keys (urlsafe base64 of 32 bytes), comma-separated: the first encrypts, every one decrypts
# (rotation: put the new key first, run `manage.py rotate_credentials`, then drop the old one).
# With DEBUG on (make run) a development key derived from SECRET_KEY stands in; with DEBUG off there
# is no default: tenant credentials can then be neither stored nor read (a clear error says so).
CREDENTIALS_ENCRYPTION_KEYS = env.list("CREDENTIALS_ENCRYPTION_KEYS", default=[])
if not CREDENTIALS_ENCRYPTION_KEYS and DEBUG:
    CREDENTIALS_ENCRYPTION_KEYS = [secretbox.development_key(SECRET_KEY)]
if not DEBUG and secretbox.development_key(_DEV_SECRET) in CREDENTIALS_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("CREDENTIALS_ENCRYPTION_KEYS holds the development key; set your own when DEBUG is off.")
secretbox.check_keys(CREDENTIALS_ENCRYPTION_KEYS, variable="CREDENTIALS_ENCRYPTION_KEYS")
OTP_LENGTH = env.int("OTP_LENGTH", default=6)
if OTP_LENGTH < 6:
    raise ImproperlyConfigured("OTP_LENGTH must be at least 6.")
OTP_TTL_SECONDS = env.int("OTP_TTL_SECONDS", default=600)
OTP_MAX_ATTEMPTS = env.int("OTP_MAX_ATTEMPTS", default=5)
# A code lives 1 to 15 minutes and takes 1 to 10 guesses (NIST 800-63B, OWASP ASVS).
if not 60 <= OTP_TTL_SECONDS <= 900:
    raise ImproperlyConfigured(f"OTP_TTL_SECONDS must be between 60 and 900; got {OTP_TTL_SECONDS}.")
if not 1 <= OTP_MAX_ATTEMPTS <= 10:
    raise ImproperlyConfigured(f"OTP_MAX_ATTEMPTS must be between 1 and 10; got {OTP_MAX_ATTEMPTS}.")
OTP_RESEND_COOLDOWN_SECONDS = env.int("OTP_RESEND_COOLDOWN_SECONDS", default=60)
OTP_PURPOSES = env.list("OTP_PURPOSES", default=["verification", "signup", "login", "password_reset", "verify_contact"])
# The purpose of a request that names none (the original design's one purpose).
OTP_DEFAULT_PURPOSE = "verification"
OTP_DEFAULT_TENANT = env.str("OTP_DEFAULT_TENANT", default="default")
# Where the signup page sends a new account (e.g. your app's onboarding); empty: the page says what happens now.
SIGNUP_SUCCESS_URL = env.str("SIGNUP_SUCCESS_URL", default="")
OTP_SERVICE_NAME = env.str("OTP_SERVICE_NAME", default="OTP Service")
# Delivery retries while the code is still valid (exponential backoff with full jitter).
OTP_DELIVERY_MAX_RETRIES = env.int("OTP_DELIVERY_MAX_RETRIES", default=6)
OTP_RETRY_BACKOFF_BASE = env.float("OTP_RETRY_BACKOFF_BASE", default=5.0)
OTP_RETRY_BACKOFF_MAX = env.float("OTP_RETRY_BACKOFF_MAX", default=120.0)
# A provider that says "try again later" without naming a delay (SMTP greylisting) is tried again
# after this many seconds, unless the code would expire first (then the next provider is tried).
MESSAGING_RETRY_LATER_SECONDS = env.float("MESSAGING_RETRY_LATER_SECONDS", default=60.0)
if MESSAGING_RETRY_LATER_SECONDS <= 0:
    raise ImproperlyConfigured("MESSAGING_RETRY_LATER_SECONDS must be positive.")
# A retry's ETA must not go past the visibility timeout, or Redis would hand the task out twice.
if max(OTP_RETRY_BACKOFF_MAX, OTP_CLAIM_LEASE_SECONDS) >= CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        "OTP_RETRY_BACKOFF_MAX and OTP_CLAIM_LEASE_SECONDS must be below CELERY_VISIBILITY_TIMEOUT."
    )

if OTP_RECOVERY_SWEEP_SECONDS <= 0 or OTP_RECOVERY_GRACE_SECONDS <= 0:
    raise ImproperlyConfigured("OTP_RECOVERY_SWEEP_SECONDS and OTP_RECOVERY_GRACE_SECONDS must be positive.")
# A killed worker's code must be found again while it is still valid.
if OTP_CLAIM_LEASE_SECONDS + OTP_RECOVERY_SWEEP_SECONDS >= OTP_TTL_SECONDS:
    raise ImproperlyConfigured("OTP_CLAIM_LEASE_SECONDS + OTP_RECOVERY_SWEEP_SECONDS must be below OTP_TTL_SECONDS.")
if OTP_RECOVERY_GRACE_SECONDS + OTP_RECOVERY_SWEEP_SECONDS >= OTP_TTL_SECONDS:
    raise ImproperlyConfigured("OTP_RECOVERY_GRACE_SECONDS + OTP_RECOVERY_SWEEP_SECONDS must be below OTP_TTL_SECONDS.")

# Send limits (atomic counters in Redis). Per (recipient, client) in the recipient window; per
# recipient from all clients OTP_SEND_RECIPIENT_CAP, past which each client still gets one send per
# window (the cap slows a stranger's sends, it never denies the owner's first).
OTP_SEND_LIMIT_PER_RECIPIENT = env.int("OTP_SEND_LIMIT_PER_RECIPIENT", default=3)
OTP_SEND_RECIPIENT_WINDOW_SECONDS = env.int("OTP_SEND_RECIPIENT_WINDOW_SECONDS", default=600)
OTP_SEND_RECIPIENT_CAP = env.int("OTP_SEND_RECIPIENT_CAP", default=10)
OTP_SEND_LIMIT_PER_IP = env.int("OTP_SEND_LIMIT_PER_IP", default=20)
OTP_SEND_IP_WINDOW_SECONDS = env.int("OTP_SEND_IP_WINDOW_SECONDS", default=3600)
OTP_SEND_LIMIT_PER_TENANT = env.int("OTP_SEND_LIMIT_PER_TENANT", default=1000)
OTP_SEND_TENANT_WINDOW_SECONDS = env.int("OTP_SEND_TENANT_WINDOW_SECONDS", default=3600)
# Sends an API key's backend may make per hour: for all its end users together, and per end user
# it names in X-End-User-IP the per-IP limit applies.
OTP_SEND_LIMIT_PER_KEY = env.int("OTP_SEND_LIMIT_PER_KEY", default=1000)
# Paid SMS per hour (every send and resend): anonymous traffic (the default tenant) and each tenant.
SMS_ANONYMOUS_HOURLY_BUDGET = env.int("SMS_ANONYMOUS_HOURLY_BUDGET", default=500)
SMS_TENANT_HOURLY_BUDGET = env.int("SMS_TENANT_HOURLY_BUDGET", default=500)
# ISO 3166 alpha-2 regions an SMS may go to (SMS pumping guard).
SMS_ALLOWED_COUNTRIES = [c.upper() for c in env.list("SMS_ALLOWED_COUNTRIES", default=["US", "CA", "GB"])]
# phonenumbers number types an SMS may go to (the others, e.g. PREMIUM_RATE, TOLL_FREE, VOIP and
# FIXED_LINE, cannot receive a code or earn a pumping ring money), and per-country overrides as
# JSON, e.g. {"GB": ["MOBILE"]}.
SMS_ALLOWED_NUMBER_TYPES = [
    t.upper() for t in env.list("SMS_ALLOWED_NUMBER_TYPES", default=["MOBILE", "FIXED_LINE_OR_MOBILE"])
]
SMS_ALLOWED_NUMBER_TYPES_BY_COUNTRY: dict[str, list[str]] = {
    country.upper(): [t.upper() for t in types]
    for country, types in json.loads(env.str("SMS_ALLOWED_NUMBER_TYPES_BY_COUNTRY", default="{}")).items()
}
_NUMBER_TYPES = {"FIXED_LINE", "MOBILE", "FIXED_LINE_OR_MOBILE", "TOLL_FREE", "PREMIUM_RATE", "SHARED_COST", "VOIP",
                 "PERSONAL_NUMBER", "PAGER", "UAN", "VOICEMAIL", "UNKNOWN"}  # fmt: skip
_TYPE_LISTS = [("SMS_ALLOWED_NUMBER_TYPES", SMS_ALLOWED_NUMBER_TYPES)]
_TYPE_LISTS += [("SMS_ALLOWED_NUMBER_TYPES_BY_COUNTRY", t) for t in SMS_ALLOWED_NUMBER_TYPES_BY_COUNTRY.values()]
for _variable, _types in _TYPE_LISTS:
    if set(_types) - _NUMBER_TYPES:
        raise ImproperlyConfigured(f"{_variable} names unknown number types {sorted(set(_types) - _NUMBER_TYPES)}.")
# Digits of the E.164 number (after '+') that make one prefix (8: a block of 1,000 numbers in +1).
SMS_PREFIX_DIGITS = env.int("SMS_PREFIX_DIGITS", default=8)
# SMS pumping guard (otp/pumping.py), per source (anonymous or a tenant): within the window, a prefix
# with at least SMS_PUMPING_PREFIX_MIN_UNVERIFIED unverified sends and a verification rate under
# SMS_PUMPING_MIN_VERIFY_RATE is blocked for SMS_PUMPING_BLOCK_SECONDS. When the whole country's
# unverified sends reach SMS_PUMPING_COUNTRY_MIN_UNVERIFIED at a low rate, its prefixes block at
# SMS_PUMPING_PREFIX_MIN_UNVERIFIED_UNDER_ATTACK. One client counts at most
# SMS_PUMPING_PER_CLIENT unverified sends to one prefix, then is refused for that prefix.
SMS_PUMPING_WINDOW_SECONDS = env.int("SMS_PUMPING_WINDOW_SECONDS", default=3600)
SMS_PUMPING_PREFIX_MIN_UNVERIFIED = env.int("SMS_PUMPING_PREFIX_MIN_UNVERIFIED", default=10)
SMS_PUMPING_PREFIX_MIN_UNVERIFIED_UNDER_ATTACK = env.int("SMS_PUMPING_PREFIX_MIN_UNVERIFIED_UNDER_ATTACK", default=3)
SMS_PUMPING_COUNTRY_MIN_UNVERIFIED = env.int("SMS_PUMPING_COUNTRY_MIN_UNVERIFIED", default=50)
SMS_PUMPING_MIN_VERIFY_RATE = env.float("SMS_PUMPING_MIN_VERIFY_RATE", default=0.5)
SMS_PUMPING_PER_CLIENT = env.int("SMS_PUMPING_PER_CLIENT", default=3)
SMS_PUMPING_BLOCK_SECONDS = env.int("SMS_PUMPING_BLOCK_SECONDS", default=3600)
if not 0 < SMS_PUMPING_MIN_VERIFY_RATE <= 1:
    raise ImproperlyConfigured("SMS_PUMPING_MIN_VERIFY_RATE must be in (0, 1].")
# Verification tokens (JWT, ES256): lifetime, issuer, and where the signing keys live. A key file
# (JSON, made and rotated by `manage.py otp_signing_keys --rotate`) keeps retired keys published
# until their tokens expire; OTP_SIGNING_KEY_PEM (one PEM private key) overrides the file.
OTP_TOKEN_TTL_SECONDS = env.int("OTP_TOKEN_TTL_SECONDS", default=600)
OTP_TOKEN_ISSUER = env.str("OTP_TOKEN_ISSUER", default="otp-service")
OTP_SIGNING_KEY_FILE = env.str("OTP_SIGNING_KEY_FILE", default=str(BASE_DIR / ".run" / "signing-keys.json"))
OTP_SIGNING_KEY_PEM = env.str("OTP_SIGNING_KEY_PEM", default="")
# Verification lockout per (recipient, client IP): failures within the window before a lock, lock grows.
OTP_LOCKOUT_THRESHOLD = env.int("OTP_LOCKOUT_THRESHOLD", default=10)
OTP_LOCKOUT_WINDOW_SECONDS = env.int("OTP_LOCKOUT_WINDOW_SECONDS", default=3600)
OTP_LOCKOUT_BASE_SECONDS = env.int("OTP_LOCKOUT_BASE_SECONDS", default=300)
# The longest one lock may last, however many locks came before it.
OTP_LOCKOUT_MAX_SECONDS = env.int("OTP_LOCKOUT_MAX_SECONDS", default=86400)
# Consecutive failures for one (tenant, recipient, purpose), from any client, within
# OTP_LOCKOUT_RECIPIENT_WINDOW_SECONDS of the last (NIST: <= 100) before guessing slows down: then
# each client may make one guess per OTP_SLOW_GUESS_SECONDS, so the owner's right code still passes.
OTP_LOCKOUT_RECIPIENT_CAP = env.int("OTP_LOCKOUT_RECIPIENT_CAP", default=100)
OTP_LOCKOUT_RECIPIENT_WINDOW_SECONDS = env.int("OTP_LOCKOUT_RECIPIENT_WINDOW_SECONDS", default=86400)
OTP_SLOW_GUESS_SECONDS = env.int("OTP_SLOW_GUESS_SECONDS", default=3600)
# Verify requests per client IP (IPv6 per /64) in a sliding window; an API key without
# X-End-User-IP gets OTP_VERIFY_LIMIT_PER_KEY instead.
OTP_VERIFY_LIMIT_PER_IP = env.int("OTP_VERIFY_LIMIT_PER_IP", default=60)
OTP_VERIFY_LIMIT_PER_KEY = env.int("OTP_VERIFY_LIMIT_PER_KEY", default=3000)
OTP_VERIFY_IP_WINDOW_SECONDS = env.int("OTP_VERIFY_IP_WINDOW_SECONDS", default=3600)
# Admin login attempts per (username, client IP) and per client IP in the window; past either,
# refused. Past ADMIN_LOGIN_USER_CEILING attempts for one username from all addresses, each address
# gets one attempt per window for it (slowed, never denied: the owner from a new address still logs in).
ADMIN_LOGIN_LIMIT_PER_USER = env.int("ADMIN_LOGIN_LIMIT_PER_USER", default=5)
ADMIN_LOGIN_USER_CEILING = env.int("ADMIN_LOGIN_USER_CEILING", default=50)
ADMIN_LOGIN_LIMIT_PER_IP = env.int("ADMIN_LOGIN_LIMIT_PER_IP", default=20)
ADMIN_LOGIN_WINDOW_SECONDS = env.int("ADMIN_LOGIN_WINDOW_SECONDS", default=900)
# Number of reverse proxies in front of the web server whose X-Forwarded-For entries are trusted.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Retention (Celery beat).
OTP_CODE_RETENTION_HOURS = env.int("OTP_CODE_RETENTION_HOURS", default=24)
MESSAGING_LOG_RETENTION_DAYS = env.int("MESSAGING_LOG_RETENTION_DAYS", default=90)

# --- Messaging providers ------------------------------------------------------------------

# Every provider the service knows: one package each, declaring its name, sender, label, price and
# receipt webhook (messaging/registry.py). A provider is added here and to no other table.
MESSAGING_PROVIDER_PACKAGES = [
    "messaging.providers.ses",
    "messaging.providers.sendgrid",
    "messaging.providers.smtp",
    "messaging.providers.sns",
    "messaging.providers.twilio",
    "messaging.providers.console",
]
# The chains, in priority order; the registry refuses an unknown name, one of the other channel,
# and (without DEBUG) a development-only one such as the console, naming the variable.
MESSAGING_EMAIL_PROVIDERS = env.list("MESSAGING_EMAIL_PROVIDERS", default=["ses", "sendgrid", "smtp"])
MESSAGING_SMS_PROVIDERS = env.list("MESSAGING_SMS_PROVIDERS", default=["sns", "twilio"])
# Every provider call has these timeouts, in seconds.
PROVIDER_CONNECT_TIMEOUT = env.float("PROVIDER_CONNECT_TIMEOUT", default=3.0)
PROVIDER_READ_TIMEOUT = env.float("PROVIDER_READ_TIMEOUT", default=5.0)
# Connections each HTTP provider keeps alive per process: one per call the worker can have in flight.
PROVIDER_HTTP_POOL_SIZE = max(10, CELERY_WORKER_CONCURRENCY)

OTP_FROM_EMAIL = env.str("OTP_FROM_EMAIL", default="no-reply@example.com")
OTP_FROM_NAME = env.str("OTP_FROM_NAME", default="OTP Service")

AWS_REGION = env.str("AWS_REGION", default="") or env.str("AWS_DEFAULT_REGION", default="")
AWS_ENDPOINT_URL = env.str("AWS_ENDPOINT_URL", default="") or None
SNS_SENDER_ID = env.str("SNS_SENDER_ID", default="")

SENDGRID_API_KEY = env.str("SENDGRID_API_KEY", default="")
SENDGRID_API_HOST = env.str("SENDGRID_API_HOST", default="https://api.sendgrid.com")

TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="https://api.twilio.com")

SMTP_HOST = env.str("SMTP_HOST", default="")
SMTP_PORT = env.int("SMTP_PORT", default=587)
SMTP_USER = env.str("SMTP_USER", default="")
SMTP_PASSWORD = env.str("SMTP_PASSWORD", default="")
SMTP_USE_TLS = env.bool("SMTP_USE_TLS", default=False)

# --- Delivery receipts (messaging/receipts/) -----------------------------------------------
# Public base URL providers call back, exactly as they reach it (scheme and host of the proxy).
MESSAGING_WEBHOOK_BASE_URL = env.str("MESSAGING_WEBHOOK_BASE_URL", default="").rstrip("/")
SENDGRID_WEBHOOK_PUBLIC_KEY = env.str("SENDGRID_WEBHOOK_PUBLIC_KEY", default="")
# SES events arrive through an SNS HTTPS subscription (off: /webhooks/ses answers 404). SNS
# signing certificates are fetched only from https://<authority>/SimpleNotificationService-<hex>.pem
# where the authority (host, and port if any) matches this pattern, verified against this CA bundle
# (empty: system store).
SES_RECEIPTS_ENABLED = env.bool("SES_RECEIPTS_ENABLED", default=False)
SNS_CERT_HOST_PATTERN = env.str("SNS_CERT_HOST_PATTERN", default="") or r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"
SNS_CERT_CA_BUNDLE = env.str("SNS_CERT_CA_BUNDLE", default="")
# One certificate or SubscribeURL fetch, DNS included, ends within this many seconds; at most this
# many run at once (more are refused at once with 503); a failed URL is not fetched again for a while.
SNS_CERT_FETCH_TIMEOUT_SECONDS = env.float("SNS_CERT_FETCH_TIMEOUT_SECONDS", default=3.0)
SNS_CERT_MAX_CONCURRENT_FETCHES = env.int("SNS_CERT_MAX_CONCURRENT_FETCHES", default=2)
SNS_CERT_FAILURE_CACHE_SECONDS = env.float("SNS_CERT_FAILURE_CACHE_SECONDS", default=60.0)
# TopicArns whose messages /webhooks/ses accepts; empty: none (every message is refused).
SES_SNS_TOPIC_ARNS = env.list("SES_SNS_TOPIC_ARNS", default=[])
# CloudWatch Logs groups where SNS writes SMS delivery status; empty: SNS SMS sends no receipts.
SNS_SMS_DELIVERY_LOG_GROUPS = env.list("SNS_SMS_DELIVERY_LOG_GROUPS", default=[])
# A signed receipt older than this is refused as a replay.
MESSAGING_WEBHOOK_MAX_AGE_SECONDS = env.int("MESSAGING_WEBHOOK_MAX_AGE_SECONDS", default=600)
# Seconds without any receipt before a code goes out once more through the next provider; 0 = off.
MESSAGING_RECEIPT_TIMEOUT_SMS = env.int("MESSAGING_RECEIPT_TIMEOUT_SMS", default=120)
MESSAGING_RECEIPT_TIMEOUT_EMAIL = env.int("MESSAGING_RECEIPT_TIMEOUT_EMAIL", default=300)
# How often beat looks for messages without receipts and reads the SNS delivery logs.
MESSAGING_RECEIPT_SWEEP_SECONDS = env.float("MESSAGING_RECEIPT_SWEEP_SECONDS", default=30.0)
# Provider-blamed failure receipts count against that provider's breaker at most this many times
# per window (0: never), so receipts alone cannot open a breaker faster than failing sends do.
MESSAGING_RECEIPT_BREAKER_FAILURES_PER_WINDOW = env.int("MESSAGING_RECEIPT_BREAKER_FAILURES_PER_WINDOW", default=1)
MESSAGING_RECEIPT_BREAKER_WINDOW_SECONDS = env.int("MESSAGING_RECEIPT_BREAKER_WINDOW_SECONDS", default=60)
# A receipt dated before its message was created, or after now, by more than this is refused.
MESSAGING_RECEIPT_CLOCK_SKEW_SECONDS = env.int("MESSAGING_RECEIPT_CLOCK_SKEW_SECONDS", default=60)
# A signed receipt for a message id not stored yet waits in Redis this long (at most this many per
# provider) and is applied by beat once the id appears.
MESSAGING_PENDING_RECEIPT_TTL_SECONDS = env.int("MESSAGING_PENDING_RECEIPT_TTL_SECONDS", default=600)
MESSAGING_PENDING_RECEIPTS_MAX = env.int("MESSAGING_PENDING_RECEIPTS_MAX", default=2000)
MESSAGING_PENDING_RECEIPT_SWEEP_SECONDS = env.float("MESSAGING_PENDING_RECEIPT_SWEEP_SECONDS", default=5.0)

# Where the console SMS provider writes messages: '-' for standard output, or a file path.
CONSOLE_SMS_OUTPUT = env.str("CONSOLE_SMS_OUTPUT", default="-")

# Circuit breaker.
BREAKER_FAILURE_THRESHOLD = env.int("BREAKER_FAILURE_THRESHOLD", default=5)
BREAKER_RESET_TIMEOUT = env.float("BREAKER_RESET_TIMEOUT", default=60.0)
BREAKER_SUCCESS_THRESHOLD = env.int("BREAKER_SUCCESS_THRESHOLD", default=2)
# Prefix of every Redis key the service writes (breakers, limits, quotas).
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="otpsvc")
# Keys carry a Redis Cluster hash tag right after the prefix (otpsite.redis.slotted_key): a brace
# in the prefix would become the tag instead.
if "{" in REDIS_KEY_PREFIX or "}" in REDIS_KEY_PREFIX:
    raise ImproperlyConfigured("REDIS_KEY_PREFIX may not contain { or }.")

# Prices (USD): each provider's own (its registry entry) with these merged over it, per provider and
# field, from MESSAGING_PRICES_JSON, e.g. {"twilio": {"per_message": "0.0079"}}.
MESSAGING_PRICES: dict[str, dict[str, Decimal | int | None]] = {}
for _name, _entry in json.loads(env.str("MESSAGING_PRICES_JSON", default="{}")).items():
    MESSAGING_PRICES.setdefault(_name, {}).update(
        {k: Decimal(str(v)) if k == "per_message" else v for k, v in _entry.items()}
    )

# Tenant budgets (messaging/budgets.py): the share of a monthly cap that raises the notice and the
# alert; how many tenants /metrics labels (those nearest their cap); the cheaper chains a tenant at
# its cap may fall back to (empty: the channel's chain, cheapest first).
MESSAGING_BUDGET_WARNING_RATIO = env.float("MESSAGING_BUDGET_WARNING_RATIO", default=0.8)
MESSAGING_BUDGET_METRIC_TENANTS = env.int("MESSAGING_BUDGET_METRIC_TENANTS", default=20)
# Tenants' own breakers (one per tenant credential) that /health/messaging shows staff and /metrics
# exports, worst first: at most this many, so a tenant label stays bounded.
MESSAGING_HEALTH_TENANT_BREAKERS = env.int("MESSAGING_HEALTH_TENANT_BREAKERS", default=20)
MESSAGING_BUDGET_PROVIDERS = {
    "email": env.list("MESSAGING_BUDGET_EMAIL_PROVIDERS", default=[]),
    "sms": env.list("MESSAGING_BUDGET_SMS_PROVIDERS", default=[]),
}

# --- Flower ------------------------------------------------------------------------------

FLOWER_BASIC_AUTH = env.str("FLOWER_BASIC_AUTH", default="")

# --- Metrics and logs ----------------------------------------------------------------------

# Bearer token of GET /metrics; unset, /metrics answers 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# prometheus_client reads PROMETHEUS_MULTIPROC_DIR itself: this process group's own directory on
# this node's disk (gunicorn's, a Celery worker's); each node's /metrics merges only its own.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
# A Celery worker serves its own GET /metrics (same bearer token) on this port; unset: none.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
WORKER_METRICS_HOST = env.str("WORKER_METRICS_HOST", default="0.0.0.0")
if not 0 <= WORKER_METRICS_PORT <= 65535:
    raise ImproperlyConfigured("WORKER_METRICS_PORT must be a TCP port (1-65535), or unset.")
# Prometheus scrapes /metrics, and load balancers and orchestrators probe /health and
# /health/messaging, inside the private network over plain HTTP: those answer there, unredirected.
# Everything else over plain HTTP (without X-Forwarded-Proto: https from a trusted proxy,
# BEHIND_TLS_PROXY) is redirected to https:// on the same host name.
SECURE_REDIRECT_EXEMPT = [r"^metrics$", r"^health$", r"^health/messaging$"]
LOG_FORMAT = env.str("LOG_FORMAT", default="logfmt")
if LOG_FORMAT not in ("logfmt", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be logfmt or json.")

# --- REST framework ----------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["otpsite.parsers.LimitedJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "otpsite.json_errors.exception_handler",
}
# The authentication of callers that present a tenant's API key. accounts defines it; otp's send and
# verify views (a layer below accounts) take it from here (otpsite.authentication).
API_KEY_AUTHENTICATION = "accounts.keys.ApiKeyAuthentication"
SPECTACULAR_SETTINGS = {
    "TITLE": "OTP and unified messaging service",
    "DESCRIPTION": "Send and verify one-time codes by email and SMS; provider health.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from drf-spectacular-sidecar's static files: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Authorize offers only what the API reads: an API key in the Authorization header (no cookies).
    "AUTHENTICATION_WHITELIST": ["accounts.keys.ApiKeyAuthentication"],
    "ENUM_NAME_OVERRIDES": {
        "MessageStatusEnum": "messaging.models.MessageStatus",
        "MessageChannelEnum": "messaging.models.Channel",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "otp.schema.add_request_examples",
        "otpsite.idempotency.schema.add_idempotency_responses",
    ],
}

# --- Logging -----------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "logfmt": {"()": "otpsite.logs.LogfmtFormatter"},
        "json": {"()": "otpsite.logs.JsonLineFormatter"},
    },
    # Last line of defence: a run of OTP_LENGTH digits that reaches a handler is redacted.
    "filters": {
        "redact_codes": {"()": "otpsite.logs.RedactCodesFilter"},
        "drop_task_successes": {"()": "otpsite.logs.DropTaskSuccessLines"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact_codes"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # SDK loggers write whole request bodies (the code among them) at DEBUG: never below WARNING.
        "python_http_client": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "twilio": {"level": "WARNING"},
        "twilio.http_client": {"level": "WARNING"},
        # A line per task received and succeeded only with CELERY_WORKER_LOG_TASKS (see above); a
        # task's retry ("retry: Retry in 5s") is always logged.
        "celery.app.trace": {"level": "INFO", "filters": [] if CELERY_WORKER_LOG_TASKS else ["drop_task_successes"]},
        "celery.worker.strategy": {"level": "INFO" if CELERY_WORKER_LOG_TASKS else "WARNING"},
    },
}
