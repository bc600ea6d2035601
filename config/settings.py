"""Settings, read from the environment (see the table in README.md).

With no configuration at all this runs on one machine: SQLite in the project folder, the
django-q2 ORM broker, console email, DEBUG off (`make run` turns it on) and a random
SECRET_KEY generated on first start and kept in .env. Production sets DATABASE_URL,
REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and the security block at the end (docs/operations.md);
with DEBUG off a short or published SECRET_KEY refuses to start.
"""

import sys
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.secret_key import kept_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# The .env file: settings for this install, and where a generated SECRET_KEY is kept.
ENV_FILE = Path(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))
if ENV_FILE.exists():
    environ.Env.read_env(ENV_FILE)

# Published keys (an old default) are refused: anyone could sign links with them.
INSECURE_SECRET_KEYS = {"insecure-development-key-change-me"}

# Off unless asked for: `make run` sets DEBUG=1 for development.
DEBUG = env.bool("DEBUG", default=False)
# From the environment; otherwise generated once for this install and kept in ENV_FILE.
SECRET_KEY = env.str("SECRET_KEY", default="") or kept_secret_key(ENV_FILE)
if SECRET_KEY in INSECURE_SECRET_KEYS or (not DEBUG and len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 32 characters when DEBUG is off "
        "(or left unset: a random one is then generated and kept in .env)."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Absolute base for links that leave the site: tracking pixels, click redirects, unsubscribe.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "config.apps.ProductAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from here, pinned: no CDN on the admin's origin
    "django_q",
    "content",
    "triggers",
    "journeys",
    "analytics",
]

# Django's, with three that serve people (session, login, messages) passed by on the ingest
# endpoints, which websites' servers call with an API key (config/middleware.py).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.middleware.AuthenticationMiddleware",
    "config.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web and qcluster processes share one file: WAL lets readers run beside the writer,
    # IMMEDIATE transactions take the write lock up front instead of failing on upgrade,
    # and the timeout makes a writer wait for the lock rather than raise "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            # FULL: a commit is on disk before the API answers 202, power cut included.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
        }
    )
else:
    # The ORM broker opens a connection per poll when connections are not kept (ENGINE-NOTES):
    # persistent connections with health checks are an 8-10x difference in task throughput.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    if sys.argv[1:2] == ["runserver"]:
        # The development server runs each request in a thread of its own, and a kept
        # connection per thread filled PostgreSQL's max_connections under a few clients:
        # there, each request closes its connection (Django's default).
        DATABASES["default"]["CONN_MAX_AGE"] = 0
    # No SELECT 1 before each request's first query (a round trip per API event): a
    # connection the database closed fails that one request instead; the ingest API answers
    # it with 503 and Retry-After (its retries are idempotent), workers' tasks are retried,
    # and Django reconnects on the next request.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=False)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and task queue -----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The ORM broker leases a task for `retry` seconds and hands it out again if it is not
# acknowledged: `retry` must exceed `timeout` or a slow task runs twice while still running.
# The Redis broker is faster but loses a task in flight when a worker dies; the engine's
# periodic sweep heals both cases. journeys.checks enforces these rules at start-up.
Q_BROKER = env.str("Q_BROKER", default="redis" if REDIS_URL else "orm")
Q_CLUSTER = {
    "name": "journeys",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=60),
    "retry": env.int("Q_RETRY", default=120),
    "max_attempts": env.int("Q_MAX_ATTEMPTS", default=5),
    "catch_up": False,
    "ack_failures": True,
    # django-q2 prunes kept successes by loading every kept row under a lock on each task's
    # result: at 1,000 rows that cost more than the task. Successes are not kept (the
    # participants, deliveries and events tables are the record); failures always are.
    "save_limit": env.int("Q_SAVE_LIMIT", default=-1),
    # A worker process is replaced after this many tasks (a guard against leaks); starting
    # one costs over a second of CPU, so django-q2's default of 500 taxed every task ~3 ms.
    "recycle": env.int("Q_RECYCLE", default=10_000),
    "bulk": env.int("Q_BULK", default=10),
    "poll": env.float("Q_POLL", default=0.1),
    "label": "Task queue",
}
if Q_BROKER == "redis":
    if not REDIS_URL:
        raise ImproperlyConfigured("Q_BROKER=redis needs REDIS_URL.")
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Email, text, push --------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Journeys <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Text messages and push notifications: the EMAIL_BACKEND pattern (content.backends).
TEXT_BACKEND = env.str("TEXT_BACKEND", default="content.backends.common.ConsoleBackend")
PUSH_BACKEND = env.str("PUSH_BACKEND", default="content.backends.common.ConsoleBackend")
MESSAGES_FILE_PATH = env.str("MESSAGES_FILE_PATH", default=str(BASE_DIR / "sent-messages.jsonl"))
PROVIDER_TIMEOUT = env.float("PROVIDER_TIMEOUT", default=10.0)
TWILIO_BASE_URL = env.str("TWILIO_BASE_URL", default="https://api.twilio.com")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM = env.str("TWILIO_FROM", default="")
WEBPUSH_VAPID_PRIVATE_KEY = env.str("WEBPUSH_VAPID_PRIVATE_KEY", default="")
WEBPUSH_VAPID_SUBJECT = env.str("WEBPUSH_VAPID_SUBJECT", default="mailto:noreply@localhost")
WEBPUSH_TTL = env.int("WEBPUSH_TTL", default=24 * 3600)
# Status callbacks from SMS and push providers are signed with this secret (HMAC-SHA256 of
# the body); empty disables the webhook.
PROVIDER_WEBHOOK_SECRET = env.str("PROVIDER_WEBHOOK_SECRET", default="")
# Webhook steps: each call is signed with this secret (X-Journeys-Signature, HMAC-SHA256 of
# "<t>.<body>"); empty sends unsigned calls (a system check warns). Hosts in
# WEBHOOK_ALLOWED_HOSTS may be called although they resolve to a private or loopback address.
WEBHOOK_SIGNING_SECRET = env.str("WEBHOOK_SIGNING_SECRET", default="")
WEBHOOK_ALLOWED_HOSTS = env.list("WEBHOOK_ALLOWED_HOSTS", default=[])
# Sending: attempts before a transient provider error becomes a failure.
DELIVERY_MAX_ATTEMPTS = env.int("DELIVERY_MAX_ATTEMPTS", default=5)

# --- Auth, i18n, static -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Journeys API",
    "DESCRIPTION": "Raise triggers from your website and read what journeys did.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security when deployed (docs/operations.md: a production .env passing check --deploy) --
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=SITE_URL.startswith("https://"))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    # Only behind a proxy that sets the header itself: a client could claim HTTPS otherwise.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How long a link in a message stays valid. Opens and clicks are counted for this long;
# unsubscribing is by the link for a year (CAN-SPAM asks for 30 days at least), and after
# that by the next message's link. Expired or forged links answer 404.
TRACKING_LINK_MAX_AGE = env.int("TRACKING_LINK_MAX_AGE_DAYS", default=180) * 24 * 3600
UNSUBSCRIBE_LINK_MAX_AGE = env.int("UNSUBSCRIBE_LINK_MAX_AGE_DAYS", default=365) * 24 * 3600
# The most an API key may be given: events per second, and events at once.
API_KEY_MAX_RATE = env.int("API_KEY_MAX_RATE", default=2_000)
API_KEY_MAX_BURST = env.int("API_KEY_MAX_BURST", default=10_000)

# --- Health, metrics, workers (docs/operations.md) ------------------------------------------
# /health/* and /metrics are answered by the first middleware, before ALLOWED_HOSTS and login.
MIDDLEWARE.insert(0, "journeys.health_views.HealthMiddleware")
# /metrics: a bearer token, or scrapers' addresses; with neither it answers 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
# A send whose outcome a crash left unknown: "at-most-once" records it as `unknown` and never
# sends it again; "at-least-once" sends it again after its lease (a duplicate over a gap).
DELIVERY_GUARANTEE = env.str("DELIVERY_GUARANTEE", default="at-most-once")
# How long a claimed send may take before its outcome counts as unknown: longer than any
# provider call (PROVIDER_TIMEOUT, the SMTP timeout).
DELIVERY_LEASE_SECONDS = env.int("DELIVERY_LEASE_SECONDS", default=300)
# `run_workers` clusters take turns to enqueue the sweep this often (one cluster per turn),
# on top of the one-minute schedule; 0 leaves only the schedule.
SWEEP_EVERY_SECONDS = env.int("SWEEP_EVERY_SECONDS", default=15)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
