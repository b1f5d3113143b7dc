"""The plugin's periodic tasks, for a host's ``CELERY_BEAT_SCHEDULE``::

from workers.schedules import beat_schedule

CELERY_BEAT_SCHEDULE = beat_schedule()
"""

from celery.schedules import crontab


def beat_schedule(reconcile_seconds: float = 30, sweep_seconds: float = 60, drain_seconds: float = 2) -> dict:
    return {
        "petitions-reconcile-counts": {
            "task": "petitions.reconcile_counts",
            "schedule": reconcile_seconds,
            "options": {"expires": reconcile_seconds},
        },
        "petitions-full-recount": {
            "task": "petitions.full_recount",
            "schedule": crontab(hour=3, minute=17),
        },
        # A backstop: signers normally wake the drain task themselves.
        "petitions-drain-outbox": {
            "task": "petitions.drain_outbox",
            "schedule": drain_seconds,
            "options": {"expires": drain_seconds},
        },
        "petitions-resend-overdue-verification-emails": {
            "task": "petitions.resend_overdue_verification_emails",
            "schedule": sweep_seconds,
            "options": {"expires": sweep_seconds},
        },
        # Webhook events whose delivery task was lost (cms.webhooks.stalled_event_ids).
        "petitions-requeue-stalled-webhooks": {
            "task": "petitions.requeue_stalled_webhooks",
            "schedule": 600,
            "options": {"expires": 600},
        },
        # Retention (cms.retention), nightly after the recount; each job is off when its setting is None.
        "petitions-purge-unverified-signatures": {
            "task": "petitions.purge_unverified_signatures",
            "schedule": crontab(hour=4, minute=7),
        },
        "petitions-anonymise-closed-petitions": {
            "task": "petitions.anonymise_closed_petitions",
            "schedule": crontab(hour=4, minute=27),
        },
        "petitions-delete-delivery-files": {
            "task": "petitions.delete_delivery_files",
            "schedule": crontab(hour=4, minute=47),
        },
    }
