"""The worker's prebuilt SQL per email reads and writes what the ORM's queries did."""

import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from cms import emails
from cms.models import Signature

from .factories import SignatureFactory

pytestmark = [pytest.mark.django_db, pytest.mark.services]
# Another connection must see the rows, and each transaction must be a real one.
committed = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def values(signature) -> dict:
    return {field.attname: getattr(signature, field.attname) for field in Signature._meta.concrete_fields}


@pytest.fixture
def rows():
    return emails.SignatureRows(Signature, connection)


def test_the_lock_reads_the_row_as_the_orm_does(petition, rows):
    signature = SignatureFactory(petition=petition, email="Ada@Example.org", email_sent_at=timezone.now())

    with transaction.atomic(), connection.cursor() as cursor:
        locked = rows.lock(cursor, signature.pk)

    assert isinstance(locked, Signature) and not locked.get_deferred_fields()
    assert values(locked) == values(Signature.objects.get(pk=signature.pk))


def test_the_lock_finds_no_signature_that_is_not_pending(petition, rows):
    signature = SignatureFactory(petition=petition)
    signature.verify()

    with transaction.atomic(), connection.cursor() as cursor:
        assert rows.lock(cursor, signature.pk) is None


@committed
def test_the_lock_skips_a_row_another_transaction_holds(petition, rows):
    signature = SignatureFactory(petition=petition)
    held, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                Signature.objects.select_for_update().get(pk=signature.pk)
                held.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10)
        with transaction.atomic(), connection.cursor() as cursor:
            assert rows.lock(cursor, signature.pk) is None  # skipped at once, not waited for
    finally:
        release.set()
        holder.join()


def test_the_record_writes_the_outcome_and_nothing_else(petition, rows, mailoutbox):
    signature = SignatureFactory(petition=petition)
    before = values(Signature.objects.get(pk=signature.pk))

    assert emails.send_verification_emails([signature.pk]) == ([signature.pk], [])

    after = values(Signature.objects.get(pk=signature.pk))
    changed = {name for name in after if after[name] != before[name]}
    assert {"email_status", "email_sent_at"} <= changed <= set(emails.SignatureRows.RECORDED)
    assert after["email_status"] == Signature.EmailStatus.SENT
    assert after["email_sent_at"] > before["email_requested_at"]


@committed
def test_the_record_commits_without_waiting_for_the_disk_in_its_own_transaction_only(petition, rows):
    signature = SignatureFactory(petition=petition)
    signature.email_status = Signature.EmailStatus.SENT

    with connection.cursor() as cursor:
        with transaction.atomic():
            rows.record(cursor, signature)
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("off",)
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)
