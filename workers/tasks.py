"""Celery tasks of the petition plugin.

``@shared_task`` binds them to whichever Celery app the host runs. They take
ids, not objects, and are safe to run twice.
"""

import logging

from anymail.exceptions import AnymailAPIError
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError

from cms import deliveries, emails, fraud, milestones, reconcile, retention, signing, webhooks
from cms.conf import get_setting
from cms.store import get_store

logger = logging.getLogger("petitions")


# Every task that writes rows is safe to run twice, so it is acked late and retried with
# backoff on a transient database error (a lock timeout, a dropped connection).
RETRYING = {
    "acks_late": True,
    "max_retries": 8,
    "ignore_result": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
}


def _backoff(retries):
    return min(600, 5 * 2**retries)


# A backstop for the ESP timeout (ANYMAIL["REQUESTS_TIMEOUT"]): a batch of OUTBOX_BATCH emails at a
# slow ESP's pace, or one nobody set a timeout for, is stopped rather than holding its worker for
# ever. The emails it recorded stay recorded (each in its own transaction), and a send task tries
# the batch again. Enforced by the prefork pool (Celery's default), not by solo or threads.
SEND_TIME_LIMITS = {"soft_time_limit": 240, "time_limit": 300}


def _send_batch(signature_ids) -> tuple[list, list]:
    """(sent, to retry) of one batch; out of time at a slow ESP, the whole batch is to retry.

    What was sent before the time ran out is recorded (each email in its own transaction), so
    the retry sends only the rest.
    """
    try:
        return emails.send_verification_emails(signature_ids)
    except SoftTimeLimitExceeded:
        return [], list(signature_ids)


@shared_task(name="petitions.send_verification_emails", bind=True, **RETRYING, **SEND_TIME_LIMITS)
def send_verification_emails(self, signature_ids: list, sweep: bool = False) -> int:
    """Send a batch of owed verification emails; retry only the ones the ESP failed to take.

    A batch the overdue sweeper queued (``sweep``) is not retried: the next sweep, a minute on,
    queues what is still owed. Retried, every sweep during an ESP outage would start one more
    retry chain per batch, and the requests to the failing ESP would grow with the outage.
    """
    sent, retry = _send_batch(signature_ids)
    if retry and not sweep:
        raise self.retry(args=[retry], countdown=_backoff(self.request.retries))
    return len(sent)


@shared_task(name="petitions.drain_outbox", ignore_result=True, **SEND_TIME_LIMITS)
def drain_outbox(max_batches: int = 200) -> int:
    """Move queued email ids from the Redis outbox into send tasks, in batches; send the last one here.

    Every batch but the last is published as soon as the next one is popped, so the other workers
    take them while this one drains; the last (the whole outbox when it holds one batch or less)
    is sent here, which saves that batch a task's publish and consume. What the ESP failed to take,
    or the time limit left unsent, goes to a send task with a countdown; should the batch fail
    otherwise (a database error), its ids go to a send task too, which retries them.
    """
    store = get_store()
    store.start_draining()
    batch = get_setting("OUTBOX_BATCH")
    queued, held = 0, None
    for _ in range(max_batches):
        ids = store.pop_outbox(batch)
        if not ids:
            break
        if held:
            send_verification_emails.delay(held)
        held = ids
        queued += len(ids)
        if len(ids) < batch:  # the outbox is empty
            break
    else:
        drain_outbox.delay(max_batches)  # more left: carry on in a fresh task
    if held:
        _send_here(held)
    return queued


def _send_here(ids):
    try:
        _, retry = _send_batch(ids)
    except Exception:
        send_verification_emails.delay(ids)  # the emails it sent are recorded: the task skips them
        raise
    if retry:
        send_verification_emails.apply_async((retry,), countdown=_backoff(0))


@shared_task(name="petitions.resend_overdue_verification_emails", ignore_result=True)
def resend_overdue_verification_emails(page_size: int = 1000, max_pages: int = 100) -> int:
    """The outbox sweeper: re-queue emails that a lost message or a Redis flush never sent.

    It pages through the whole backlog by id (up to ``max_pages`` pages a run), not just its first
    thousand: after Redis is lost in a surge, tens of thousands of emails may be owed at once, and
    a thousand a minute would take an hour to send them.
    """
    batch = get_setting("OUTBOX_BATCH")
    queued, after = 0, 0
    for _ in range(max_pages):
        ids = signing.overdue_verification_email_ids(limit=page_size, after=after)
        for start in range(0, len(ids), batch):
            send_verification_emails.delay(ids[start : start + batch], sweep=True)
        queued += len(ids)
        if len(ids) < page_size:
            break
        after = ids[-1]
    if queued:
        logger.info("Re-queued %d overdue verification emails", queued)
    return queued


@shared_task(name="petitions.reconcile_counts", ignore_result=True)
def reconcile_counts() -> dict | None:
    """Apply what was verified since the last run; one run at a time across all workers."""
    return reconcile.reconcile_counts()


@shared_task(name="petitions.full_recount", ignore_result=True)
def full_recount() -> dict | None:
    """Recount everything and correct drift (daily)."""
    return reconcile.full_recount()


@shared_task(name="petitions.run_invalidation", **RETRYING)
def run_invalidation(invalidation_id: int) -> int:
    """Invalidate a bulk invalidation's matches in batches; a second run finds nothing left to do."""
    return fraud.run_invalidation(invalidation_id)


@shared_task(name="petitions.notify_milestone", bind=True, **RETRYING)
def notify_milestone(self, milestone_id: int) -> bool:
    try:
        return milestones.notify(milestone_id)
    except AnymailAPIError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries))


# --- deliveries --------------------------------------------------------------------------


@shared_task(name="petitions.build_delivery_files", **RETRYING)
def build_delivery_files(delivery_id: int) -> bool:
    """Stream the consenting signers into the delivery's CSV and PDF (progress shown in the admin)."""
    return deliveries.build_files(delivery_id)


@shared_task(name="petitions.send_delivery", **RETRYING)
def send_delivery(delivery_id: int) -> dict:
    """One message per official, with the files; each outcome stored. Retries go through the admin."""
    return deliveries.send(delivery_id)


@shared_task(name="petitions.send_signer_updates", bind=True, **RETRYING)
def send_signer_updates(self, kind: str, object_id: int) -> int:
    """Tell opted-in signers of a delivery or response, a batch per task, never in a request."""
    try:
        sent = deliveries.send_signer_updates(kind, object_id)
    except AnymailAPIError as exc:
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries))
    if sent is not None:
        send_signer_updates.delay(kind, object_id)  # the next batch
    return sent or 0


# --- retention (daily; README: "Retention") ----------------------------------------------------


@shared_task(name="petitions.purge_unverified_signatures", **RETRYING)
def purge_unverified_signatures() -> int:
    """Delete pending signatures older than RETENTION_UNVERIFIED_DAYS, in batches."""
    return retention.purge_unverified()


@shared_task(name="petitions.anonymise_closed_petitions", **RETRYING)
def anonymise_closed_petitions() -> int:
    """Anonymise the signatures of petitions closed RETENTION_ANONYMISE_MONTHS ago; counts and tallies stay."""
    return retention.anonymise_closed_petitions()


@shared_task(name="petitions.delete_delivery_files", **RETRYING)
def delete_delivery_files() -> int:
    """Delete deliveries' CSV and PDF after RETENTION_DELIVERY_FILES_DAYS; records and totals stay."""
    return retention.delete_delivery_files()


# A backstop for WEBHOOKS_TIMEOUT, which bounds each socket read, not the whole answer: a receiver
# that trickles its headers a byte at a time is cut here (the attempt is recorded as failed).
WEBHOOK_TIME_LIMITS = {"soft_time_limit": 60, "time_limit": 90}


@shared_task(name="petitions.deliver_webhook", bind=True, **RETRYING, **WEBHOOK_TIME_LIMITS)
def deliver_webhook(self, event_id: str) -> None:
    """One attempt at a webhook event; the next one is scheduled with backoff until the retry window ends.

    Scheduled as a new task with a countdown rather than ``self.retry``, so the window
    (``WEBHOOKS_RETRY_WINDOW``), not a retry count, decides when to stop. In eager mode (tests)
    there is no scheduler: the failure is recorded and retries are left to the caller.
    """
    delay = webhooks.deliver(event_id)
    if delay is not None and not self.request.is_eager:
        deliver_webhook.apply_async((event_id,), countdown=delay)


def queue_webhooks(event_ids) -> None:
    """Queue one ``deliver_webhook`` per event id (the queue ``cms.webhooks.emit`` is given)."""
    for event_id in event_ids:
        deliver_webhook.delay(str(event_id))


@shared_task(name="petitions.requeue_stalled_webhooks", ignore_result=True)
def requeue_stalled_webhooks() -> int:
    """Queue again the pending webhook events whose task was lost (a broker restarted empty)."""
    ids = webhooks.stalled_event_ids()
    queue_webhooks(ids)
    return len(ids)
