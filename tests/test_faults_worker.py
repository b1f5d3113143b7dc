"""Faults around the workers: an ESP failing or hanging, a worker killed mid-batch, counts while a
verification's transaction is held open, and every task delivered more than once (issue 11).

Real PostgreSQL and Redis; where the behaviour is asynchronous, a real ``celery worker`` process.
No test sleeps to synchronise: each waits on a condition, with a deadline.
"""

import threading
import time

import pytest
from django.db import connection, transaction
from django.test import Client

from cms import emails, signing
from cms import reconcile as reconciling
from cms.models import PetitionStats, Signature, live_counts
from cms.signals import signature_verified
from cms.store import get_store
from cms.tokens import make_token
from workers import tasks

from .concurrency import run_together
from .conftest import confirm_url
from .factories import PetitionPageFactory, SignatureFactory
from .fake_esp import FakeESP

pytestmark = pytest.mark.services

WAIT = 20  # seconds: the deadline of every wait below


def live_count(petition):
    return live_counts([petition.pk])[petition.pk]


# --- counts exact after one reconcile (scenario 3's counting half) --------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_verification_held_open_past_the_lag_is_counted_by_the_next_reconcile(index_page):
    petition = PetitionPageFactory(parent=index_page)
    signature = SignatureFactory(petition=petition)
    reconciling.reconcile_counts([petition.pk])
    updated, release, failures = threading.Event(), threading.Event(), []

    def verify_in_a_slow_transaction():
        try:
            with transaction.atomic():  # a stalled request: the UPDATE done, the commit late
                assert signing.verify_signature(petition, make_token(signature)) == signing.VerifyResult.VERIFIED
                updated.set()
                assert release.wait(WAIT)
        except Exception as exc:  # surfaced in the test's thread
            failures.append(exc)
            updated.set()
        finally:
            connection.close()

    thread = threading.Thread(target=verify_in_a_slow_transaction)
    thread.start()
    try:
        assert updated.wait(WAIT)
        # RECONCILE_LAG is 0 in the tests: this run's watermark is past the verification's time.
        assert reconciling.reconcile_counts([petition.pk]) == {petition.pk: 0}
    finally:
        release.set()
        thread.join(WAIT)
    assert not failures, failures
    assert Signature.objects.get(pk=signature.pk).status == Signature.Status.VERIFIED
    assert live_count(petition) == 1  # recorded after commit, above the watermark

    assert reconciling.reconcile_counts([petition.pk]) == {petition.pk: 1}
    assert PetitionStats.objects.get(petition_id=petition.pk).signature_count == 1
    assert live_count(petition) == 1


@pytest.mark.django_db
def test_a_reconcile_published_after_a_newer_one_does_not_move_the_watermark_back(petition):
    """Two reconciles in a row publish after commit, in either order: the older must not win."""
    from django.utils import timezone

    store = get_store()
    t0 = timezone.now()
    store.apply_reconcile(petition.pk, 0, t0 - timezone.timedelta(seconds=10))
    for pk, seconds in ((101, -5), (102, -1)):
        assert store.record_verification(petition.pk, pk, t0 + timezone.timedelta(seconds=seconds), None)
    # Run 1 counted up to t0-6 (nothing); run 2, later, up to t0 (both). Run 2 publishes first.
    assert store.apply_reconcile(petition.pk, 2, t0) == 2
    store.apply_reconcile(petition.pk, 0, t0 - timezone.timedelta(seconds=6))

    assert live_count(petition) == 2
    assert store.record_verification(petition.pk, 103, t0 - timezone.timedelta(seconds=3), None) is False


# --- the ESP failing or hanging (scenario 7) ----------------------------------------------


@pytest.fixture
def fake_esp():
    esp = FakeESP().start()
    try:
        yield esp
    finally:
        esp.stop()


@pytest.fixture
def postmark(settings, fake_esp):
    """This process sends through anymail's Postmark backend to the fake ESP, with short timeouts."""
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "fault-tests", "POSTMARK_API_URL": fake_esp.url,
                        "REQUESTS_TIMEOUT": (1, 1)}  # fmt: skip
    return fake_esp


@pytest.mark.django_db
def test_an_esp_outage_costs_one_request_per_batch_and_leaves_every_email_owed(petition, postmark):
    ids = [signature.pk for signature in SignatureFactory.create_batch(10, petition=petition)]
    postmark.set_mode("fail")

    assert emails.send_verification_emails(ids) == ([], ids)

    assert postmark.failed == 1  # the first 503 stops the batch: the other nine were not tried
    assert not Signature.objects.filter(email_sent_at__isnull=False).exists()
    assert sorted(signing.overdue_verification_email_ids(now=time_after(minutes=10))) == ids

    postmark.set_mode("accept")  # the ESP is back: the retry sends each email once
    assert emails.send_verification_emails(ids) == (ids, [])
    assert all(postmark.accepted[pk] == 1 for pk in ids)


@pytest.mark.django_db
def test_a_hanging_esp_times_out_and_the_batch_is_retried_not_held(petition, postmark):
    ids = [signature.pk for signature in SignatureFactory.create_batch(5, petition=petition)]
    postmark.set_mode("hold")
    started = time.monotonic()

    assert emails.send_verification_emails(ids) == ([], ids)

    assert time.monotonic() - started < 5  # one read timeout (1 s), not one per email
    assert len(postmark.received) == 1
    postmark.release()
    postmark.set_mode("accept")
    assert emails.send_verification_emails(ids) == (ids, [])


def test_the_retries_of_a_five_minute_outage_reach_the_esp_within_a_minute_of_its_return():
    outage = 300
    attempts, at = [], 0.0
    for retries in range(tasks.send_verification_emails.max_retries):
        at += tasks._backoff(retries)
        attempts.append(at)
    first_after = next(t for t in attempts if t >= outage)
    assert first_after - outage <= 60
    assert tasks.send_verification_emails.max_retries == 8 and attempts[-1] > 20 * 60  # then the sweeper


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_sweeper_and_a_retry_at_once_send_one_email(index_page, postmark, settings):
    """A retry still sending when the sweeper re-queues the same email: the row lock lets one through."""
    settings.ANYMAIL = {**settings.ANYMAIL, "REQUESTS_TIMEOUT": (1, WAIT)}  # held until released
    petition = PetitionPageFactory(parent=index_page)
    signature = SignatureFactory(petition=petition, email_requested_at=time_after(minutes=-10))
    postmark.set_mode("hold")
    results = []

    def retry():
        try:
            results.append(emails.send_verification_emails([signature.pk]))
        finally:
            connection.close()

    thread = threading.Thread(target=retry)
    thread.start()
    try:
        postmark.wait_for(lambda esp: esp.held == 1, WAIT, "the retry's request")
        assert signing.overdue_verification_email_ids() == [signature.pk]  # the sweeper finds it owed...
        assert emails.send_verification_emails([signature.pk]) == ([], [])  # ...and skips the locked row
    finally:
        postmark.release()
        thread.join(WAIT)
    assert results == [([signature.pk], [])]
    assert emails.send_verification_emails([signature.pk]) == ([], [])  # recorded: owed no more
    assert postmark.accepted[signature.pk] == 1


def time_after(**delta):
    from django.utils import timezone

    return timezone.now() + timezone.timedelta(**delta)


# --- 20 parallel clicks of one confirm link (scenario 3) ------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_parallel_clicks_of_one_confirm_link_verify_once_and_count_once(index_page):
    petition = PetitionPageFactory(parent=index_page)
    signature = SignatureFactory(petition=petition)
    reconciling.reconcile_counts([petition.pk])
    token = make_token(signature)
    heard = []
    signature_verified.connect(lambda **kwargs: heard.append(kwargs["signature_id"]), weak=False, dispatch_uid="t20")
    try:
        answers = run_together(
            *[lambda: Client().post(confirm_url(petition), {"token": token}).status_code for _ in range(20)]
        )
    finally:
        signature_verified.disconnect(dispatch_uid="t20")

    assert answers == [200] * 20
    assert heard == [signature.pk]  # one verification announced
    assert Signature.objects.filter(pk=signature.pk, status=Signature.Status.VERIFIED).count() == 1
    assert live_count(petition) == 1
    assert reconciling.reconcile_counts([petition.pk]) == {petition.pk: 1}
    assert live_count(petition) == 1
