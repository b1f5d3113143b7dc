"""Receivers that turn the petition's events (``cms.signals``) into outgoing webhooks (``cms.webhooks``).

``signature_verified`` is the hot one: it asks the per-process endpoint table first, so a
verification with no endpoint wanting it adds no query. ``official.responded`` has no signal
of its own: a new :class:`OfficialResponse` row is the event.
"""

import logging

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from workers.tasks import queue_webhooks

from . import webhooks
from .conf import get_signature_model
from .models import OfficialResponse, WebhookEndpoint
from .signals import delivery_sent, milestone_reached, signature_verified

logger = logging.getLogger("petitions")

Event = WebhookEndpoint.Event


def _emit(event_type, page, build):
    """Never let a webhook break the flow that sent the event (a verification, a reconcile)."""
    try:
        webhooks.emit(event_type, page, build, queue_webhooks)
    except Exception:
        logger.exception("Could not queue the %s webhooks of petition %s", event_type, getattr(page, "pk", None))


@receiver(signature_verified, dispatch_uid="petitions-webhooks-signature-verified")
def on_signature_verified(sender, signature_id, petition_id, page=None, **kwargs):
    if page is None or not webhooks.wanted(Event.SIGNATURE_VERIFIED, page):
        return
    signature = get_signature_model().objects.filter(pk=signature_id).first()
    if signature is not None:
        _emit(Event.SIGNATURE_VERIFIED, page, lambda counts_only: webhooks.signature_data(signature, page, counts_only))


@receiver(milestone_reached, dispatch_uid="petitions-webhooks-milestone-reached")
def on_milestone_reached(sender, milestone, page, **kwargs):
    # Sent inside the reconcile's transaction: the event rows commit (or roll back) with the milestone.
    if webhooks.wanted(Event.MILESTONE_REACHED, page):
        _emit(Event.MILESTONE_REACHED, page, lambda counts_only: webhooks.milestone_data(milestone, page, counts_only))


@receiver(delivery_sent, dispatch_uid="petitions-webhooks-delivery-sent")
def on_delivery_sent(sender, delivery, **kwargs):
    page = delivery.petition if delivery.petition_id else None
    if page is not None and webhooks.wanted(Event.DELIVERY_SENT, page):
        _emit(Event.DELIVERY_SENT, page, lambda counts_only: webhooks.delivery_data(delivery, page, counts_only))


@receiver(post_save, sender=OfficialResponse, dispatch_uid="petitions-webhooks-official-responded")
def on_official_responded(sender, instance, created, **kwargs):
    if not created:
        return
    page = instance.petition
    if webhooks.wanted(Event.OFFICIAL_RESPONDED, page):
        _emit(Event.OFFICIAL_RESPONDED, page, lambda counts_only: webhooks.response_data(instance, page, counts_only))


@receiver(post_save, sender=WebhookEndpoint, dispatch_uid="petitions-webhooks-forget-on-save")
@receiver(post_delete, sender=WebhookEndpoint, dispatch_uid="petitions-webhooks-forget-on-delete")
def forget_endpoints(sender, **kwargs):
    # Now (this process must see its own change) and after commit (no other process caches the old table).
    webhooks.forget_endpoints()
    transaction.on_commit(webhooks.forget_endpoints)
