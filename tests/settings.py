"""Test settings: the real PostgreSQL and Redis.

Defaults point at the services on 127.0.0.1. Without them the suite falls
back to SQLite and a file cache, and the tests marked ``services`` skip;
with ``CI`` set a missing service is an error instead.

Each run keeps to itself, so a demo, a benchmark or a second run on the same
PostgreSQL and Redis neither disturbs it nor is disturbed by it. A run id
(``PETITIONS_TEST_RUN``, new per run, inherited by threads and subprocesses)
names its test database (``test_petitions_<run>``), its cache's
``KEY_PREFIX`` (``petitions-test-<run>``, which every key of the plugin's
store goes through), and its Celery queue and broker keys. The tests clear
only keys under that prefix, never the whole Redis database.
"""

import os
import socket
import tempfile
import uuid
from urllib.parse import urlparse

TEST_RUN = os.environ.setdefault("PETITIONS_TEST_RUN", uuid.uuid4().hex[:12])
#: Every cache key of this run starts with "<TEST_RUN_PREFIX>:" (Django's make_key).
TEST_RUN_PREFIX = f"petitions-test-{TEST_RUN}"
#: Every broker key of this run (queues, bindings, unacked) starts with this.
TEST_BROKER_PREFIX = f"{TEST_RUN_PREFIX}-broker:"

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ.setdefault("PETITIONS_VAR_DIR", tempfile.mkdtemp(prefix=f"{TEST_RUN_PREFIX}-"))
# Uploaded images (the demo's campaign logo, renditions) go to the run's own folder, not the repo's media/.
os.environ.setdefault("MEDIA_ROOT", os.path.join(os.environ["PETITIONS_VAR_DIR"], "media"))
# Worker threads in the end-to-end tests must not keep connections to the test database.
os.environ.setdefault("DB_CONN_MAX_AGE", "0")


def _reachable(url):
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=1):
            return True
    except OSError:
        return False


MISSING_SERVICES = [name for name in ("DATABASE_URL", "REDIS_URL") if not _reachable(os.environ[name])]
if MISSING_SERVICES:
    if os.environ.get("CI"):
        raise RuntimeError(
            f"CI is set but {', '.join(MISSING_SERVICES)} is not reachable: start PostgreSQL and Redis "
            "(see .ci/run) instead of skipping their tests."
        )
    for name in MISSING_SERVICES:
        del os.environ[name]
SERVICES_AVAILABLE = not MISSING_SERVICES

# The demo's settings load in their local mode (its demo key and hosts); DEBUG is turned off below.
os.environ.setdefault("DEBUG", "1")

from petitions_site.settings import *  # noqa: E402, F403

# Languages as the demo has them (LANGUAGES en-gb/fr/ar, WAGTAIL_I18N_ENABLED, LocaleMiddleware,
# wagtail-localize, /fr/ and /ar/ page URLs), so translations are tested: tests/test_translations.py.
assert WAGTAIL_I18N_ENABLED and len(LANGUAGES) > 1  # noqa: F405, S101

_test_db = DATABASES["default"]["TEST"]  # noqa: F405
if os.environ.get("TEST_DATABASE_NAME"):
    _test_db["NAME"] = os.environ["TEST_DATABASE_NAME"]
elif DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    _test_db["NAME"] = str(VAR_DIR / "test.sqlite3")  # noqa: F405
else:
    _test_db["NAME"] = f"test_petitions_{TEST_RUN}"

CACHES["default"]["KEY_PREFIX"] = TEST_RUN_PREFIX  # noqa: F405
# The broker (REDIS_URL's database unless CELERY_BROKER_URL is set) holds only this run's queue:
# its own name, and on Redis every key under this run's prefix, so no other worker takes our
# tasks and our worker takes no one else's.
CELERY_TASK_DEFAULT_QUEUE = f"{TEST_RUN_PREFIX}-tasks"
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):  # noqa: F405
    CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": TEST_BROKER_PREFIX}  # noqa: F405

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# No lag: tests verify and reconcile within the same second.
# No per-process memo either: tests read a count right after changing it.
# No ESP pause either: tests count the requests a failing ESP gets per batch (one test turns it on).
PETITIONS = {"SITE_URL": "http://testserver", "RECONCILE_LAG": 0, "LOCAL_CACHE_SECONDS": 0, "ESP_PAUSE_SECONDS": 0}
DEBUG = False
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = VAR_DIR / "static"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
ALLOWED_HOSTS = ["*"]
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
LOGGING = {"version": 1, "disable_existing_loggers": False}
INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp"]  # noqa: F405  (a custom signature model)
