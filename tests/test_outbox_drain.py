"""The drain task publishes every outbox batch but the last, which it sends itself."""

import pytest
from django.db import OperationalError

from cms import emails
from cms.models import Signature
from cms.store import get_store
from workers import tasks

from .factories import SignatureFactory

pytestmark = [pytest.mark.django_db, pytest.mark.services]


@pytest.fixture
def published(monkeypatch):
    """The send tasks the drain publishes, each then run here as a worker would."""
    batches = []

    def delay(ids, **kwargs):
        batches.append(list(ids))
        return tasks.send_verification_emails.apply(args=[ids], kwargs=kwargs)

    monkeypatch.setattr(tasks.send_verification_emails, "delay", delay)
    return batches


def queue(petition, n):
    ids = [signature.pk for signature in SignatureFactory.create_batch(n, petition=petition)]
    for pk in ids:
        get_store().push_outbox(pk)
    return ids


def test_every_batch_but_the_last_is_published_and_each_email_goes_once(petition, settings, published, mailoutbox):
    settings.PETITIONS = {**settings.PETITIONS, "OUTBOX_BATCH": 2}
    ids = queue(petition, 5)

    assert tasks.drain_outbox() == 5

    assert published == [ids[0:2], ids[2:4]]  # the last, ids[4:], sent by the drain itself
    assert sorted(int(message.anymail_test_params["metadata"]["signature_id"]) for message in mailoutbox) == ids
    assert not Signature.objects.filter(pk__in=ids, email_sent_at__isnull=True).exists()


def test_a_full_outbox_sends_its_last_full_batch_in_the_drain(petition, settings, published, mailoutbox):
    settings.PETITIONS = {**settings.PETITIONS, "OUTBOX_BATCH": 2}
    ids = queue(petition, 4)

    assert tasks.drain_outbox() == 4

    assert published == [ids[0:2]]
    assert len(mailoutbox) == 4


def test_a_database_error_in_the_drains_own_batch_hands_it_to_a_send_task(petition, monkeypatch):
    ids = queue(petition, 3)
    published = []
    monkeypatch.setattr(tasks.send_verification_emails, "delay", lambda ids: published.append(list(ids)))
    monkeypatch.setattr(emails, "send_verification_emails", lambda ids: (_ for _ in ()).throw(OperationalError()))

    with pytest.raises(OperationalError):
        tasks.drain_outbox()

    assert published == [ids]  # the send task retries them with backoff
