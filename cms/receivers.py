"""The plugin's own receivers, connected when the app is ready (``PetitionsCmsConfig.ready``).

Events flow one way: counting sends ``milestone_reached`` and sending a
delivery sends ``delivery_sent``; what follows from them (emails to leads,
automatic deliveries, updates to signers) is decided here, so the modules
that count never import the ones that deliver.
"""

import logging

from anymail.signals import tracking
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from wagtail.signals import page_published, page_unpublished

from . import deliveries, landing_copies, quarantine, suppression, translations
from .models import FraudRule, Milestone
from .permissions import can_deliver
from .signals import delivery_sent, milestone_reached
from .views import forget_petition

logger = logging.getLogger("petitions")


@receiver(milestone_reached, dispatch_uid="petitions-deliver-at-milestone")
def deliver_at_milestone(sender, milestone, page, **kwargs):
    """Prepare the one delivery a milestone asks for (a OneToOne on the milestone keeps it one).

    Runs inside the reconcile's transaction and lock: the delivery exists if and only if the milestone does.
    The lead who decided the page's delivery settings is recorded as its author; with none (or one
    who no longer has the permission) it stops at READY for a lead to send (``deliveries.sends_itself``).
    """
    wanted = page.deliver_at_goal if milestone.kind == Milestone.Kind.GOAL else page.deliver_at_milestones
    if not wanted:
        return
    lead = page.delivery_settings_by if page.delivery_settings_by_id else None
    try:
        with transaction.atomic():
            deliveries.prepare_delivery(
                page,
                page.get_officials(),
                user=lead if can_deliver(lead, page) else None,
                trigger=milestone.kind,
                milestone=milestone,
                recount=False,
            )
    except deliveries.DeliveryError as exc:
        logger.warning("No automatic delivery of petition %s at %s: %s", page.pk, milestone.threshold, exc)


@receiver(milestone_reached, dispatch_uid="petitions-notify-leads-of-milestone")
def notify_leads_of_milestone(sender, milestone, page, **kwargs):
    if milestone.pk and page.get_milestone_notify_emails():
        from workers.tasks import notify_milestone

        transaction.on_commit(lambda: notify_milestone.delay(milestone.pk))


@receiver(delivery_sent, dispatch_uid="petitions-tell-signers-of-delivery")
def tell_signers_of_delivery(sender, delivery, **kwargs):
    from workers.tasks import send_signer_updates

    send_signer_updates.delay("delivery", delivery.pk)


# The ESP's tracking webhooks: bounces, refusals and complaints suppress the address (cms.suppression).
tracking.connect(suppression.record_tracking_event, dispatch_uid="petitions-suppress-on-tracking-events")

for _signal in (page_published, page_unpublished, post_delete):
    _signal.connect(forget_petition, dispatch_uid=f"petitions-forget-petition-{id(_signal)}")
    _signal.connect(landing_copies.forget, dispatch_uid=f"petitions-forget-landing-copies-{id(_signal)}")
post_delete.connect(translations.forget, dispatch_uid="petitions-forget-canonical-ids")


@receiver(post_save, sender=FraudRule, dispatch_uid="petitions-forget-fraud-rules-on-save")
@receiver(post_delete, sender=FraudRule, dispatch_uid="petitions-forget-fraud-rules-on-delete")
def forget_fraud_rules(sender, **kwargs):
    """A new, changed or deleted rule applies from the next confirmation (after commit, so no stale list is cached)."""
    transaction.on_commit(quarantine.forget_rules)
