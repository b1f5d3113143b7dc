"""Celery tasks of the petition plugin.

``@shared_task`` binds them to whichever Celery app the host runs. They take
ids, not objects, and are safe to run twice.
"""

import logging

from anymail.exceptions import AnymailAPIError
from celery import shared_task

from cms import counters, emails, services

logger = logging.getLogger("petitions")


@shared_task(
    name="petitions.send_verification_email",
    bind=True,
    acks_late=True,
    max_retries=8,
    ignore_result=True,
)
def send_verification_email(self, signature_id: int) -> bool:
    try:
        return emails.send_verification_email(signature_id)
    except AnymailAPIError as exc:
        # Transient ESP trouble (refused addresses were handled inside): back off and retry.
        raise self.retry(exc=exc, countdown=min(600, 5 * 2**self.request.retries))


@shared_task(name="petitions.resend_overdue_verification_emails", ignore_result=True)
def resend_overdue_verification_emails() -> int:
    """The outbox sweeper: re-enqueue emails a lost task message never sent."""
    ids = services.overdue_verification_email_ids()
    for signature_id in ids:
        send_verification_email.delay(signature_id)
    if ids:
        logger.info("Re-enqueued %d overdue verification emails", len(ids))
    return len(ids)


@shared_task(name="petitions.reconcile_counts", ignore_result=True)
def reconcile_counts() -> dict | None:
    """Correct every active petition's count from the database, one run at a time."""
    cache = counters.get_cache()
    if not cache.add(counters.RECONCILE_LOCK_KEY, 1, timeout=300):
        logger.info("Reconcile already running; skipped")
        return None
    try:
        return services.reconcile_counts()
    finally:
        cache.delete(counters.RECONCILE_LOCK_KEY)
