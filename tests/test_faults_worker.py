"""Faults around the workers: an ESP failing or hanging, a worker killed mid-batch, counts while a
verification's transaction is held open, and every task delivered more than once (issue 11).

Real PostgreSQL and Redis; where the behaviour is asynchronous, a real ``celery worker`` process.
No test sleeps to synchronise: each waits on a condition, with a deadline.
"""

import threading

import pytest
from django.db import connection, transaction

from cms import reconcile as reconciling
from cms import signing
from cms.models import PetitionStats, Signature, live_counts
from cms.store import get_store
from cms.tokens import make_token

from .factories import PetitionPageFactory, SignatureFactory

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
