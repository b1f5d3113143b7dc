"""The demo site's settings for `make faults`: production settings from the environment, plus the harness's knobs.

Only the fault suite loads this module (DJANGO_SETTINGS_MODULE=faults.settings in
the processes faults/run.py starts). It shortens two timers so that a scenario's
recovery fits in minutes, and can make every task publish several copies
(scenario 9); the plugin's code is the same as in production.
"""

import os

from petitions_site.settings import *  # noqa: F403
from petitions_site.settings import PETITIONS
from workers.schedules import beat_schedule

# The sweeper re-queues an email not sent this long after it was owed (production: 120 s) and runs
# this often (production: 60 s): a lost outbox is repaired within a minute rather than three.
PETITIONS["EMAIL_OVERDUE_AFTER"] = int(os.environ.get("FAULTS_EMAIL_OVERDUE_AFTER", "30"))
CELERY_BEAT_SCHEDULE = beat_schedule(
    reconcile_seconds=float(os.environ.get("PETITIONS_RECONCILE_SECONDS", "15")),
    sweep_seconds=float(os.environ.get("FAULTS_SWEEP_SECONDS", "15")),
)

# Scenario 9: every task message published this many times, with one task id.
if int(os.environ.get("FAULTS_TASK_COPIES", "1")) > 1:
    from faults import copies

    copies.install(int(os.environ["FAULTS_TASK_COPIES"]))
