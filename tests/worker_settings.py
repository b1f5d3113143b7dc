"""Settings of the ``celery worker`` process the fault tests start (tests/test_faults_worker.py).

The test suite's settings, with what the test's environment says on top:
``PETITIONS_WORKER_DATABASE`` (the test database the test is using: a
``transaction=True`` test commits its rows there), ``REDIS_URL`` (the test's
private Redis, as broker and cache), ``PETITIONS_FAKE_ESP_URL`` (the test's
Postmark-shaped ESP), ``PETITIONS_EMAIL_OVERDUE_AFTER``. The run id
(``PETITIONS_TEST_RUN``) is inherited, so the key prefix and queue are the test's.

Each finished task appends its id to ``<run prefix>:tasks-finished`` in that Redis, so
a test waits for "every task it published has run" instead of for time to pass.
"""

import os

import redis
from celery.signals import task_postrun

from tests.settings import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_EAGER_PROPAGATES = False
DATABASES["default"]["NAME"] = os.environ["PETITIONS_WORKER_DATABASE"]  # noqa: F405
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Restore a dead worker's unacked messages soon, and look for them often (kombu's Redis transport).
CELERY_BROKER_TRANSPORT_OPTIONS = {  # noqa: F405
    **CELERY_BROKER_TRANSPORT_OPTIONS,  # noqa: F405
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
ANYMAIL = {
    "POSTMARK_SERVER_TOKEN": "fault-tests",
    "POSTMARK_API_URL": os.environ["PETITIONS_FAKE_ESP_URL"],
    "REQUESTS_TIMEOUT": (3.05, float(os.environ.get("PETITIONS_ESP_READ_TIMEOUT", "10"))),
}
PETITIONS = {**PETITIONS, "EMAIL_OVERDUE_AFTER": int(os.environ.get("PETITIONS_EMAIL_OVERDUE_AFTER", "120"))}  # noqa: F405
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"petitions": {"handlers": ["console"], "level": "INFO"}},
}

FINISHED_KEY = f"{TEST_RUN_PREFIX}:tasks-finished"  # noqa: F405


@task_postrun.connect(weak=False)
def _record_finished(task_id=None, **kwargs):
    redis.Redis.from_url(REDIS_URL).rpush(FINISHED_KEY, task_id or "")  # noqa: F405
