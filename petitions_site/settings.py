"""Settings for the demo site, read from the environment.

With ``DEBUG=1`` and nothing else set (what ``make demo`` does) this is the
embedded demo: a public demo ``SECRET_KEY``, SQLite, a Celery broker on the
filesystem, a file-based cache shared by the web and worker processes, and
mail written as ``.eml`` files under ``var/mail/``. Set ``DATABASE_URL`` and
``REDIS_URL`` to use PostgreSQL and Redis; set ``ANYMAIL_ESP`` (plus that
ESP's ``ANYMAIL_*`` keys) to send real mail.

With ``DEBUG`` unset or off the settings refuse to load (``ImproperlyConfigured``,
naming the variable) until ``SECRET_KEY`` (not the demo's), ``ALLOWED_HOSTS``
and ``PETITIONS_SITE_URL`` are set.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PETITIONS_VAR_DIR", BASE_DIR / "var"))


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_proxies(name):
    """PETITIONS["TRUSTED_PROXIES"] from the environment: a count ("1") or networks ("10.0.0.0/8,::1")."""
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else env_list(name)


def refuse(variable, problem):
    raise ImproperlyConfigured(
        f"{problem}: set {variable} in the environment (or DEBUG=1 for the local demo, as `make demo` does)."
    )


# DEBUG comes from DEBUG alone, never from another setting: unset, it is off and the checks below
# hold. The embedded demo asks for it explicitly (`make demo` and bin/demo set DEBUG=1).
DEBUG = env_bool("DEBUG")
# Public in this repository: anyone holding it can forge verification links offline.
DEMO_SECRET_KEY = "demo-only-insecure-key-set-SECRET_KEY-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "").strip() or (DEMO_SECRET_KEY if DEBUG else "")
if not DEBUG and SECRET_KEY in ("", DEMO_SECRET_KEY):
    refuse("SECRET_KEY", "DEBUG is off and SECRET_KEY is missing or the public demo key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
if not ALLOWED_HOSTS:
    refuse("ALLOWED_HOSTS", "DEBUG is off and ALLOWED_HOSTS is not set (e.g. petitions.example.org)")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# The base of every link in the emails: never a guess in production.
SITE_URL = (
    os.environ.get("PETITIONS_SITE_URL", "").strip()
    or os.environ.get("WAGTAILADMIN_BASE_URL", "").strip()
    or ("http://127.0.0.1:8000" if DEBUG else "")
)
if not SITE_URL:
    refuse("PETITIONS_SITE_URL", "DEBUG is off and PETITIONS_SITE_URL is not set (e.g. https://petitions.example.org)")
if urlsplit(SITE_URL).scheme not in ("http", "https") or not urlsplit(SITE_URL).hostname:
    refuse("PETITIONS_SITE_URL", f"PETITIONS_SITE_URL {SITE_URL!r} is not an http(s) URL with a host")

INSTALLED_APPS = [
    # The petition plugin: three apps a host project adds.
    "cms",
    "petition_blocks",
    "workers",
    # The host site (demo content, mail backend).
    "petitions_site",
    "django_countries",
    "anymail",
    "csp",  # django-csp: the Content-Security-Policy header (its checks catch old-style settings)
    # Translations of pages as Wagtail content (the host's choice: the plugin works without it).
    "wagtail_localize",
    "wagtail_localize.locales",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.routable_page",
    "wagtail.contrib.settings",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail.api.v3",
    "wagtail",
    "modelcluster",
    "taggit",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before the page cache, so a cached copy gets the same policy as a fresh page (no nonces).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The database or Redis down, anywhere below: a 503 with Retry-After and a page a person
    # understands, with the security headers above (cms.middleware.OutageMiddleware).
    "cms.middleware.OutageMiddleware",
    # Before sessions: a cached petition page costs one cache read.
    "cms.middleware.PetitionPageCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language from the URL's prefix (/fr/, /ar/; none for English): after sessions, before common.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "petitions_site.urls"
WSGI_APPLICATION = "petitions_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The demo's web server, worker and beat share one file: wait for its lock rather than fail,
    # and take the write lock at BEGIN so a transaction never fails upgrading to it. The journal
    # stays SQLite's rollback journal: on a full disk a write fails ("database or disk is full")
    # before the database file is touched, and nothing committed is lost (faults/disk_full.py;
    # WAL, tried there too, was no safer on a full disk).
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
# Behind pgbouncer in transaction mode (DATABASE_POOL_MODE=transaction) consecutive transactions of
# one connection may run on different server connections. A QuerySet.iterator() outside a
# transaction declares a WITH HOLD cursor on one and fetches from another ("cursor does not
# exist"), so the exports, deliveries and retention read through client-side cursors instead.
# Prepared statements are already off (Django's psycopg backend: prepare_threshold=None).
# deploy/README.md has the proof (deploy/pgbouncer/check_pooling.py).
DATABASE_POOL_MODE = os.environ.get("DATABASE_POOL_MODE", "session").strip().lower() or "session"
if DATABASE_POOL_MODE not in ("session", "transaction"):
    raise ImproperlyConfigured(
        f"DATABASE_POOL_MODE is {DATABASE_POOL_MODE!r}: set 'session' (a direct connection or a session pool) "
        "or 'transaction' (pgbouncer's pool_mode=transaction); statement pooling breaks Django's transactions."
    )
if DATABASE_POOL_MODE == "transaction":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# A connection kept for CONN_MAX_AGE is checked before a request reuses it, so the first request
# after PostgreSQL restarts (or fails over) gets a new connection, not the dead one's error.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get("TEST_DATABASE_NAME") or (
    "test_petitions" if DATABASES["default"]["ENGINE"].endswith("postgresql") else None
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL")
if REDIS_URL:
    # Django's RedisCache, except that while Redis is down a read is a miss and a write is skipped:
    # Wagtail keeps the site's root paths here, which every page URL needs (cms.cache).
    CACHES = {
        "default": {
            "BACKEND": "cms.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            # An unreachable Redis (a dead host, not a refused port) fails in a second or two rather
            # than hanging a web worker; the plugin's store uses the same options (cms.store).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        },
    }
else:
    # Shared by the web server and the worker processes, unlike LocMemCache.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        },
    }

# Celery: Redis when REDIS_URL is set, otherwise a broker on the filesystem
# that needs no server (the web process, worker and beat share var/broker/).
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER")
CELERY_TASK_IGNORE_RESULT = True
# One message reserved per worker process beyond the one it runs: a send batch waiting on a slow
# ESP holds no other batch back, and a worker killed holds as few unacked messages as it can
# (each waits out the visibility timeout below, or the overdue sweeper, whichever comes first).
CELERY_WORKER_PREFETCH_MULTIPLIER = int(os.environ.get("CELERY_WORKER_PREFETCH_MULTIPLIER", "1"))
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if os.environ.get("CELERY_BROKER_URL") or REDIS_URL:
    CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL
    # A task acked late is redelivered after this long if its worker died. It must exceed the longest
    # a message stays unacked: a retry's countdown (up to 600 s: workers.tasks) plus its run (the send
    # task's time limit, 300 s). Shorter, Redis hands a retry still waiting in one worker to a second:
    # harmless (the rows are locked and checked), but wasted. Emails a dead worker held are re-queued
    # sooner anyway, by the overdue sweeper (EMAIL_OVERDUE_AFTER).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
        # A Redis that vanishes without closing the connection (a failover) must not hang a publish.
        "socket_timeout": float(os.environ.get("CELERY_BROKER_SOCKET_TIMEOUT", "30")),
    }
else:
    _broker_dir = VAR_DIR / "broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    # kombu's filesystem transport, but a message is renamed into place once whole: a full disk
    # leaves no cut-short message behind to stop the worker (petitions_site/broker.py).
    CELERY_BROKER_TRANSPORT = "petitions_site.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        # Exchange tables, which kombu would otherwise write to ./control in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "polling_interval": 0.2,
    }

from workers.schedules import beat_schedule  # noqa: E402  (the plugin's default schedule)

CELERY_BEAT_SCHEDULE = beat_schedule(
    reconcile_seconds=float(os.environ.get("PETITIONS_RECONCILE_SECONDS", "15")),
)

# Email: a real ESP through anymail when ANYMAIL_ESP names one (e.g.
# "postmark", "mailgun", "amazon_ses"), otherwise .eml files a person can open.
ANYMAIL_ESP = os.environ.get("ANYMAIL_ESP")
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in os.environ.items()
    if key.startswith("ANYMAIL_") and key != "ANYMAIL_ESP"
}
# anymail's HTTP backends wait 30 s by default for the ESP (its REQUESTS_TIMEOUT); a hanging ESP
# would hold a worker, and the row it is sending, that long per email. (connect, read) seconds:
# ANYMAIL_REQUESTS_CONNECT_TIMEOUT and ANYMAIL_REQUESTS_READ_TIMEOUT (a timeout is retried).
# ANYMAIL_REQUESTS_TIMEOUT (one number for both) wins over the pair.
_esp_timeout = ANYMAIL.pop("REQUESTS_TIMEOUT", None)
ANYMAIL["REQUESTS_TIMEOUT"] = (
    float(_esp_timeout)
    if _esp_timeout
    else (float(ANYMAIL.pop("REQUESTS_CONNECT_TIMEOUT", "3.05")), float(ANYMAIL.pop("REQUESTS_READ_TIMEOUT", "10")))
)
if ANYMAIL_ESP:
    EMAIL_BACKEND = f"anymail.backends.{ANYMAIL_ESP}.EmailBackend"
else:
    EMAIL_BACKEND = "petitions_site.mail.EmlFileEmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Petitions <petitions@example.org>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
# The site's languages, for its interface and its pages' content (Wagtail's locales). English stays
# "en-gb", the locale every existing page is in; its URLs have no prefix (petitions_site/urls.py).
LANGUAGES = [("en-gb", "English"), ("fr", "Français"), ("ar", "العربية")]
WAGTAIL_I18N_ENABLED = True
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "static"))
STATICFILES_DIRS = []
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

WAGTAIL_SITE_NAME = os.environ.get("WAGTAIL_SITE_NAME", "Petitions")
WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", SITE_URL)
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}

# The petition plugin's settings (see cms/conf.py for every key and default).
PETITIONS = {
    "SITE_URL": SITE_URL,
    # Behind nginx or a load balancer: how many proxies, or their networks (README "Behind a proxy").
    "TRUSTED_PROXIES": env_proxies("PETITIONS_TRUSTED_PROXIES"),
    # DEBUG only (petitions.E020 refuses it otherwise): addresses the sign rate limit lets through.
    "RATE_LIMIT_ALLOW": env_list("PETITIONS_RATE_LIMIT_ALLOW"),
    "ALLOWED_ORIGINS": env_list("PETITIONS_ALLOWED_ORIGINS"),
}

# An optional challenge (CAPTCHA) before a signature is stored: PETITIONS_CHALLENGE=turnstile or hcaptcha,
# with PETITIONS_CHALLENGE_SITE_KEY and _SECRET_KEY; PETITIONS_CHALLENGE_THRESHOLD=<signs a minute on a
# petition> asks only above that rate (README: "Challenge (CAPTCHA)").
CHALLENGE_PROVIDER = os.environ.get("PETITIONS_CHALLENGE", "").strip().lower()
#: What each provider's widget needs of the CSP below (equal to cms.challenge's, which a system check compares).
CHALLENGE_CSP = {
    "turnstile": {
        "script-src": ["https://challenges.cloudflare.com"],
        "frame-src": ["https://challenges.cloudflare.com"],
    },
    "hcaptcha": {
        directive: ["https://hcaptcha.com", "https://*.hcaptcha.com"]
        for directive in ("script-src", "frame-src", "style-src", "connect-src")
    },
}
if CHALLENGE_PROVIDER:
    PETITIONS["CHALLENGE"] = {
        "PROVIDER": CHALLENGE_PROVIDER,
        "SITE_KEY": os.environ.get("PETITIONS_CHALLENGE_SITE_KEY", ""),
        "SECRET_KEY": os.environ.get("PETITIONS_CHALLENGE_SECRET_KEY", ""),
    }
    if os.environ.get("PETITIONS_CHALLENGE_THRESHOLD"):
        PETITIONS["CHALLENGE"].update(MODE="threshold", THRESHOLD=int(os.environ["PETITIONS_CHALLENGE_THRESHOLD"]))

# Sent by SecurityMiddleware (Django's default, said here): the sign endpoint's Origin check falls back
# to the Referer of our own pages, and other sites learn nothing of the page a visitor came from.
SECURE_REFERRER_POLICY = "same-origin"

# The public pages need nothing but their own files: petitions.css, live-count.js (which polls
# count.json on this origin), the images under MEDIA_URL, and forms that post to this origin. No
# inline script or style, so no 'unsafe-inline' and no nonce: a nonce would differ per response and
# break the copy of a petition page that anonymous visitors share (cms.middleware).
# Left out: Wagtail's admin (its templates run inline scripts and style attributes, e.g. the inline
# panels and date widgets, and it previews pages in frames) and django-ninja's Swagger UI at
# /api/docs/ (from a CDN): both are served with their own framework's headers.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/admin/", "/api/docs/"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],  # as X-Frame-Options: DENY
    },
}
# The challenge's widget: its script, its frame (and hCaptcha's styles and requests) from the provider.
for _directive, _sources in CHALLENGE_CSP.get(CHALLENGE_PROVIDER, {}).items():
    CONTENT_SECURITY_POLICY["DIRECTIVES"].setdefault(_directive, []).extend(_sources)

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "petitions": {"handlers": ["console"], "level": os.environ.get("PETITIONS_LOG_LEVEL", "INFO")},
    },
}

for _path in (VAR_DIR, VAR_DIR / "mail"):
    _path.mkdir(parents=True, exist_ok=True)
