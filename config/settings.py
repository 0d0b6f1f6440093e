"""Settings, read from the environment (or a `.env` file) through django-environ.

Nothing has to be configured: the defaults run the product on an embedded SQLite
database and a broker that needs no server (files under `var/`).
"""

import secrets
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# What the embedded default keeps on disk: the SQLite database, the broker's files, static
# files, generated keys and the first admin's password.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _key_from_file(name: str) -> str:
    """A random key kept under var/, created on first use, for set-ups that give none."""
    path = VAR_DIR / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _key_from_file("secret.key")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The key that encrypts integration credentials, kept apart from SECRET_KEY so that
# rotating one does not touch the other. Old keys are only read by `credentials_rotate`.
CREDENTIALS_KEY = env.str("CREDENTIALS_KEY", default="") or _key_from_file("credentials.key")
CREDENTIALS_KEY_PREVIOUS = env.list("CREDENTIALS_KEY_PREVIOUS", default=[])
CRYPTOGRAPHY_KEY = CREDENTIALS_KEY

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "axes",
    "integrations",
    "catalog",
]

MIDDLEWARE = [
    # Outermost, so that every response carries the policy, error pages and static files too.
    "config.security.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.security.SecureCookiesOverHttpsMiddleware",
    # Serves static files from the app server itself: no separate web server to set up.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A NUL in a query parameter is a 400 before any view reads it (PostgreSQL refuses it).
    "config.access.NulByteGuardMiddleware",
    # Every page needs a login; the login page itself is marked login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # ... and a role: an account in no group sees only whom to ask for one.
    "config.access.RoleRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: answers a login POST from a locked-out account and address with the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Script and style only from this site's own files: no inline script, handler, style attribute
# or eval anywhere (config/security.py sends it; Django 6.0's middleware reads the same setting).
# Cookies: the session and CSRF cookies are HttpOnly (the CSRF token travels in the form)
# and SameSite=Lax, and Secure on HTTPS requests (config.security); behind a proxy that ends
# TLS, SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https tells Django a request was HTTPS.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
if proxy_header := env.tuple("SECURE_PROXY_SSL_HEADER", default=()):
    SECURE_PROXY_SSL_HEADER = proxy_header
# Headers on every response (SecurityMiddleware, XFrameOptionsMiddleware).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'catalog.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker write to one file: wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Failed logins are counted per account and address (django-axes): after
# LOGIN_FAILURE_LIMIT wrong passwords in a row, that pair is refused (429) for
# LOGIN_COOLOFF_MINUTES; a good login resets the count. Admins lift a lock in Django admin.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# The largest request body a form or upload may send, in bytes (Django's 2.5 MB), and the
# most fields one may carry: past either, a 400 before any view reads it.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("UPLOAD_MAX_BYTES", default=2_621_440)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("UPLOAD_MAX_FIELDS", default=1000)

# The longest description the catalog keeps, in characters: a person's longer one is refused,
# a warehouse comment or dbt description longer is kept cut, with a warning on the sync run.
CATALOG_DESCRIPTION_MAX_LENGTH = 100_000

# Celery. The default broker keeps its messages in files under var/, so a fresh
# machine runs a worker with no server; set CELERY_BROKER_URL=redis://... for real use.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem:"):
    _queue_dir = VAR_DIR / "broker"
    (_queue_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
    }
else:
    # A message comes back this long after a worker that took it died without acking.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="catalog")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker outlives a broker restart: it reconnects for as long as it takes (Celery's
# default gives up, and exits, after 100 tries), and a sync it is running goes on; the
# message restored meanwhile is redelivered and its claim finds the run owned by a live worker.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "reap-stale-syncs": {"task": "integrations.tasks.sync_reap_stale_task", "schedule": 60.0},
}

# Sync behaviour. The most databases, schemas, tables and columns one warehouse sync takes.
SYNC_MAX_OBJECTS = env.int("SYNC_MAX_OBJECTS", default=5_000_000)
SYNC_MAX_ATTEMPTS = env.int("SYNC_MAX_ATTEMPTS", default=4)
SYNC_RETRY_BACKOFF = env.int("SYNC_RETRY_BACKOFF", default=30)
# A running sync that wrote no heartbeat for this long is taken to have lost its worker.
SYNC_STALE_AFTER = env.int("SYNC_STALE_AFTER", default=600)
# How often a running sync writes its heartbeat from a thread of its own. Off on SQLite,
# where a second writer would contend with the apply's transaction for the file's one lock.
SYNC_HEARTBEAT_EVERY = env.float(
    "SYNC_HEARTBEAT_EVERY",
    default=0 if DATABASES["default"]["ENGINE"].endswith("sqlite3") else min(30, SYNC_STALE_AFTER / 5),
)
# Seconds to wait for a worker on another machine to say what it runs, before taking it for dead.
SYNC_OWNER_PING_TIMEOUT = env.float("SYNC_OWNER_PING_TIMEOUT", default=2.0)
# A queued sync no worker took for this long is sent again (its message may have been lost
# with a broker restart); after this many sends it fails with the reason.
SYNC_RESEND_AFTER = env.int("SYNC_RESEND_AFTER", default=300)
SYNC_MAX_RESENDS = env.int("SYNC_MAX_RESENDS", default=24)
SYNC_WARNINGS_CAP = 100

# dbt Cloud. Hosts beyond dbt's multi-tenant ones (single-tenant deployments), e.g.
# "acme.getdbt.com"; and plain http to a loopback address, for local stand-ins only.
DBT_CLOUD_EXTRA_HOSTS = env.list("DBT_CLOUD_EXTRA_HOSTS", default=[])
DBT_CLOUD_ALLOW_LOOPBACK_HTTP = env.bool("DBT_CLOUD_ALLOW_LOOPBACK_HTTP", default=False)
# The API client's timeouts, in seconds, per phase: connecting; the first byte of an answer;
# silence while a body streams (a stalled download is abandoned and retried); one artifact's
# whole download. Then attempts per request, and backoff between attempts (doubling from
# DBT_CLOUD_BACKOFF, with jitter, capped; a Retry-After header is honoured).
DBT_CLOUD_CONNECT_TIMEOUT = env.float("DBT_CLOUD_CONNECT_TIMEOUT", default=10)
DBT_CLOUD_TIMEOUT = env.float("DBT_CLOUD_TIMEOUT", default=30)
DBT_CLOUD_IDLE_TIMEOUT = env.float("DBT_CLOUD_IDLE_TIMEOUT", default=10)
DBT_CLOUD_DOWNLOAD_DEADLINE = env.float("DBT_CLOUD_DOWNLOAD_DEADLINE", default=600)
# The largest artifact taken, in bytes once decompressed: a bigger one fails the sync with a
# message naming this setting, and a compressed download that inflates past it stops there.
DBT_CLOUD_ARTIFACT_MAX_BYTES = env.int("DBT_CLOUD_ARTIFACT_MAX_BYTES", default=2**30)
DBT_CLOUD_MAX_ATTEMPTS = env.int("DBT_CLOUD_MAX_ATTEMPTS", default=5)
DBT_CLOUD_BACKOFF = env.float("DBT_CLOUD_BACKOFF", default=2)
DBT_CLOUD_MAX_BACKOFF = env.float("DBT_CLOUD_MAX_BACKOFF", default=300)
# A 429 without Retry-After: dbt enforces a five-minute cooldown, so the waits start here.
DBT_CLOUD_RATE_LIMIT_BACKOFF = env.float("DBT_CLOUD_RATE_LIMIT_BACKOFF", default=60)
# A job with no trigger on (started by the API or an orchestrator) counts as live while a
# run of it finished within this many days; older, it is inactive and not read.
DBT_CLOUD_ACTIVE_WINDOW_DAYS = env.int("DBT_CLOUD_ACTIVE_WINDOW_DAYS", default=30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
