"""The plugin's periodic tasks, for a host's ``CELERY_BEAT_SCHEDULE``::

from workers.schedules import beat_schedule
CELERY_BEAT_SCHEDULE = beat_schedule()
"""


def beat_schedule(reconcile_seconds: float = 30, sweep_seconds: float = 60) -> dict:
    return {
        "petitions-reconcile-counts": {
            "task": "petitions.reconcile_counts",
            "schedule": reconcile_seconds,
            "options": {"expires": reconcile_seconds},
        },
        "petitions-resend-overdue-verification-emails": {
            "task": "petitions.resend_overdue_verification_emails",
            "schedule": sweep_seconds,
            "options": {"expires": sweep_seconds},
        },
    }
