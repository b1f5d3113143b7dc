"""Hosts hear a petition's events as Django signals, once each, after the data is there."""

from contextlib import contextmanager

import pytest
from django.utils import timezone

from cms import deliveries, reconcile
from cms.models import Delivery, Milestone, Signature
from cms.signals import delivery_sent, milestone_reached, signature_signed, signature_verified
from cms.tokens import make_token

from .conftest import confirm_url
from .factories import PetitionPageFactory, SignatureFactory

pytestmark = pytest.mark.django_db


@contextmanager
def heard(signal):
    """Collect what ``signal`` sends while the block runs."""
    events = []

    def receiver(sender, **kwargs):
        events.append({"sender": sender, **kwargs})

    signal.connect(receiver)
    try:
        yield events
    finally:
        signal.disconnect(receiver)


def test_signature_signed_is_sent_after_commit_for_a_new_and_a_repeated_address(petition, sign):
    with heard(signature_signed) as events:
        sign(petition, email="ada@example.org")
        # Past the resend interval, a repeat asks for a new email.
        Signature.objects.update(email_requested_at=timezone.now() - timezone.timedelta(hours=1))
        sign(petition, email="ADA@example.org")

    [signature] = Signature.objects.all()
    assert [(e["sender"], e["signature_id"], e["petition_id"], e["created"]) for e in events] == [
        (Signature, signature.pk, petition.pk, True),
        (Signature, signature.pk, petition.pk, False),
    ]


def test_signature_verified_is_sent_once_however_often_the_button_is_pressed(
    petition, client, django_capture_on_commit_callbacks
):
    pending = SignatureFactory(petition=petition)
    with heard(signature_verified) as events, django_capture_on_commit_callbacks(execute=True):
        client.post(confirm_url(petition), {"token": make_token(pending)})
        client.post(confirm_url(petition), {"token": make_token(pending)})

    [event] = events
    assert (event["signature_id"], event["petition_id"], event["page"].pk) == (pending.pk, petition.pk, petition.pk)
    assert Signature.objects.get(pk=event["signature_id"]).status == Signature.Status.VERIFIED


def test_milestone_reached_is_sent_once_per_milestone(index_page, django_capture_on_commit_callbacks):
    petition = PetitionPageFactory(parent=index_page, goal=3, milestone_step=2)
    SignatureFactory.create_batch(3, petition=petition, verified=True)
    with heard(milestone_reached) as events, django_capture_on_commit_callbacks(execute=True):
        reconcile.reconcile_counts([petition.pk])
        reconcile.reconcile_counts([petition.pk])

    assert [(e["milestone"].threshold, e["milestone"].kind, e["page"].pk) for e in events] == [
        (2, Milestone.Kind.STEP, petition.pk),
        (3, Milestone.Kind.GOAL, petition.pk),
    ]
    assert all(e["sender"] is Milestone and e["milestone"].pk for e in events)


def test_delivery_sent_is_sent_once_when_every_official_has_their_copy(
    petition, official, django_capture_on_commit_callbacks
):
    SignatureFactory(petition=petition, verified=True, share_with_officials=True)
    with django_capture_on_commit_callbacks(execute=True):
        reconcile.reconcile_counts([petition.pk])
    with django_capture_on_commit_callbacks(execute=True):
        delivery = deliveries.prepare_delivery(petition, [official])
    with heard(delivery_sent) as events, django_capture_on_commit_callbacks(execute=True):
        deliveries.start_sending(Delivery.objects.get(pk=delivery.pk))
        deliveries.send(delivery.pk)  # a duplicate task finds nothing to send

    [event] = events
    assert event["sender"] is Delivery
    assert (event["delivery"].pk, event["delivery"].status) == (delivery.pk, Delivery.Status.SENT)
