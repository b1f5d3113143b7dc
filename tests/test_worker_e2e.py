"""The signer's whole journey with a real Celery worker consuming from Redis."""

import re
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.core import mail
from django.db import transaction

from cms import store
from cms.models import PetitionStats, Signature
from workers import tasks

from .conftest import clear_run_cache, confirm_url, sign_url
from .factories import PetitionPageFactory, SignatureFactory, petition_body

# serialized_rollback: the migrated locale, root page and site are back for each test.
pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


class WorkerWatch:
    """The worker thread's progress, so a test waits for what it expects without polling.

    Everything these tests wait for (an email sent, a total stored, a delivery's
    status) happens inside a task, so a condition can only turn true when the
    worker finishes one: ``wait_for`` checks it, then blocks until the next
    ``task_postrun`` and checks again.
    """

    def __init__(self, app):
        self.app = app
        self.finished = 0
        self.changed = threading.Condition()

    def task_finished(self, **kwargs):
        with self.changed:
            self.finished += 1
            self.changed.notify_all()

    def wait_for(self, condition, timeout=15.0):
        deadline = time.monotonic() + timeout
        while True:
            with self.changed:
                seen = self.finished  # read before the check, so a task finishing during it is not missed
            if condition():
                return
            with self.changed:
                while self.finished == seen:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self.changed.wait(left):
                        raise AssertionError(f"timed out waiting for the worker ({self.finished} tasks finished)")


@pytest.fixture
def worker(settings):
    """A real worker thread consuming this run's own queue (see tests/settings.py)."""
    app = tasks.send_verification_emails.app
    watcher = WorkerWatch(app)
    app.conf.task_always_eager = False
    app.control.purge()
    task_postrun.connect(watcher.task_finished, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield watcher
    finally:
        task_postrun.disconnect(watcher.task_finished)
        app.conf.task_always_eager = True


def test_sign_email_confirm_and_count_through_a_real_worker(index_page, official, client, worker, mailoutbox):
    petition = PetitionPageFactory(parent=index_page, body=petition_body([official.pk]))

    # Sign: the request stores a pending row and enqueues the email on commit.
    response = client.post(
        sign_url(petition), {"first_name": "Stefanie", "email": "stefanie@example.org", "feed_display": "first"}
    )
    assert response.status_code == 302

    # The worker sends it through anymail, tagged, with the link.
    worker.wait_for(lambda: len(mail.outbox) == 1)
    message = mail.outbox[0]
    assert message.anymail_test_params["tags"] == ["petition-verification"]
    assert message.anymail_status.status == {"sent"}
    link = re.search(r"http://testserver(\S+)", message.body).group(1)

    # A GET (a mail scanner's prefetch) changes nothing.
    assert client.get(link).status_code == 200
    assert Signature.objects.get().status == Signature.Status.PENDING

    # The button's POST confirms; a second POST changes nothing.
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert "counted" in client.post(confirm_url(petition), {"token": token}).content.decode()
    verified_at = Signature.objects.get().verified_at
    assert "already confirmed" in client.post(confirm_url(petition), {"token": token}).content.decode()
    assert Signature.objects.get().verified_at == verified_at

    # The periodic reconcile, run by the worker, makes the count exactly 1.
    tasks.reconcile_counts.delay()
    worker.wait_for(lambda: PetitionStats.objects.filter(petition_id=petition.pk, signature_count=1).exists())
    page = client.get(petition.url).content.decode()
    assert 'data-count="1"' in page
    assert re.search(r'<li class="feed__entry"><span class="feed__name">Stefanie</span> signed', page)
    assert len(mail.outbox) == 1


def test_a_delivery_is_built_and_sent_by_a_real_worker(index_page, official, worker, mailoutbox):
    from cms import deliveries, reconcile
    from cms.models import Delivery

    petition = PetitionPageFactory(parent=index_page, body=petition_body([official.pk]))
    SignatureFactory.create_batch(3, petition=petition, verified=True, share_with_officials=True)
    SignatureFactory(petition=petition, verified=True, share_with_officials=False, first_name="Private")
    reconcile.reconcile_counts()

    delivery = deliveries.prepare_delivery(petition, [official])  # the worker builds the files
    worker.wait_for(lambda: Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.READY)
    with transaction.atomic():
        deliveries.start_sending(Delivery.objects.get(pk=delivery.pk))  # the worker sends
    worker.wait_for(lambda: Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SENT)

    [message] = [m for m in mail.outbox if m.anymail_test_params["tags"] == ["petition-delivery"]]
    assert message.to == [official.email]
    csv_name, csv_content, _ = next(a for a in message.attachments if a[0].endswith(".csv"))
    assert csv_content.count("\n") == 1 + 3  # heading and the three who consented
    assert "Private" not in csv_content
    recipient = Delivery.objects.get(pk=delivery.pk).recipients.get()
    assert (recipient.status, recipient.attempts) == ("sent", 1)


def test_a_run_keeps_to_its_own_keys_in_a_shared_redis_database(settings, worker):
    """A demo's or another run's keys next to ours survive our clears, our worker and its purge."""
    client = store.redis_client_for(store.get_cache())
    run = settings.TEST_RUN
    others = {
        f":1:petitions:count:{run}": b"42",  # a site without KEY_PREFIX, as the demo is
        f"petitions-test-not-{run}:1:petitions:count:1": b"7",  # a run whose id extends ours
    }
    client.mset(others)
    client.rpush(f"celery-{run}", b"a message for someone else's worker")
    try:
        clear_run_cache()
        store.get_store().clear()
        tasks.reconcile_counts.delay()
        worker.wait_for(lambda: worker.finished >= 1)
        worker.app.control.purge()

        assert client.mget(list(others)) == list(others.values())
        assert client.lrange(f"celery-{run}", 0, -1) == [b"a message for someone else's worker"]
        # Our worker's queue and bindings are under this run's broker prefix, and only there.
        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        assert queue.startswith(settings.TEST_RUN_PREFIX)
        assert client.exists(f"{settings.TEST_BROKER_PREFIX}_kombu.binding.{queue}")
        assert not client.exists(f"_kombu.binding.{queue}")
    finally:
        client.delete(*others, f"celery-{run}")
