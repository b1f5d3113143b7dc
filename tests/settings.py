"""Test settings: the real PostgreSQL and Redis.

Defaults point at the services on 127.0.0.1. Without them the suite falls
back to SQLite and a file cache, and the tests marked ``services`` skip;
with ``CI`` set a missing service is an error instead.
"""

import os
import socket
import tempfile
from urllib.parse import urlparse

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ.setdefault("PETITIONS_VAR_DIR", tempfile.mkdtemp(prefix="petitions-test-"))
os.environ.setdefault("TEST_DATABASE_NAME", "test_petitions")
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

from petitions_site.settings import *  # noqa: E402, F403
from petitions_site.settings import REDIS_URL  # noqa: E402

if REDIS_URL:
    # The broker lives in the next Redis database, so clearing the cache never drops queued tasks.
    _redis = urlparse(REDIS_URL)
    CELERY_BROKER_URL = _redis._replace(path=f"/{int(_redis.path.strip('/') or 0) + 1}").geturl()

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# No lag: tests verify and reconcile within the same second.
# No per-process memo either: tests read a count right after changing it.
PETITIONS = {"SITE_URL": "http://testserver", "RECONCILE_LAG": 0, "LOCAL_CACHE_SECONDS": 0}
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
