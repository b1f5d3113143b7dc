"""Fraud tools for campaign leads: quarantine, review, and bulk invalidation (after UK e-petitions).

Quarantine happens when a signature is confirmed (``cms.signing.verify_signature``, asking
``cms.quarantine``): a signature whose canonical address, email domain or client address a
``FraudRule`` flags becomes QUARANTINED instead of VERIFIED. The signer sees what every signer sees (the same
pages, the same email, the same "already confirmed" on a second click), and nothing counts
it: every count, tally, feed, export and delivery reads VERIFIED rows only. A lead then
releases it (``release``) or invalidates it (``invalidate_quarantined``).

A bulk invalidation (``Invalidation``) names conditions; ``preview`` counts what they match,
``run_invalidation`` (the ``petitions.run_invalidation`` task) marks the matches INVALIDATED in
batches, and ``restore`` undoes it. Whatever changes counted rows asks for a recount
(``request_recount``), which the next reconcile (``cms.reconcile``) does in full for those
petitions: totals, country tallies and the cached feed correct themselves there.
"""

import ipaddress
import logging

from django.db import connection, transaction
from django.db.models import BooleanField, F, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from wagtail.models import Page

from .conf import get_setting, get_signature_model
from .models import Invalidation, PetitionStats
from .quarantine import is_flagged, load_rules

logger = logging.getLogger("petitions")

#: The statuses an invalidation takes a signature from (AbstractSignature.Status values).
INVALIDATABLE = ("pending", "verified", "quarantined")

# --- quarantine ----------------------------------------------------------------------------


def release(signature_ids) -> int:
    """Count quarantined signatures after all: they become VERIFIED, and their petitions are recounted.

    Only quarantined rows change, so releasing twice (or a row that is not quarantined) does nothing.
    ``verified_at`` stays the signer's own confirmation time.
    """
    Signature = get_signature_model()
    with transaction.atomic():
        rows = Signature.objects.filter(pk__in=list(signature_ids), status=Signature.Status.QUARANTINED)
        petition_ids = set(rows.values_list("petition_id", flat=True))
        released = rows.update(status=Signature.Status.VERIFIED)
        request_recount(petition_ids)
    return released


def invalidate_quarantined(signature_ids) -> int:
    """Invalidate quarantined signatures for good; they were never counted, so nothing is recounted."""
    Signature = get_signature_model()
    return Signature.objects.filter(pk__in=list(signature_ids), status=Signature.Status.QUARANTINED).update(
        status=Signature.Status.INVALIDATED
    )


def request_recount(petition_ids):
    """Ask the next reconcile to recount these petitions in full (their counted rows changed)."""
    if petition_ids:
        PetitionStats.objects.filter(petition_id__in=list(petition_ids)).update(recount_requested_at=timezone.now())


# --- bulk invalidation ---------------------------------------------------------------------


def matching_signatures(invalidation):
    """The signatures an invalidation's conditions match that it may still invalidate.

    Pending, verified and quarantined signatures match; invalidated and fraudulent ones
    are done with already, which is what makes a second run change nothing.
    """
    rows = get_signature_model().objects.filter(status__in=INVALIDATABLE)
    if invalidation.petition_id:
        rows = rows.filter(petition_id=invalidation.petition_id)
    elif invalidation.campaign_id:
        # The petitions under the campaign: Wagtail tree paths start with their ancestors'.
        rows = rows.filter(petition__path__startswith=Page.objects.get(pk=invalidation.campaign_id).path)
    if invalidation.email_domain:
        domain = invalidation.email_domain
        rows = rows.filter(Q(email_normalized__endswith="@" + domain) | Q(email_normalized__endswith="." + domain))
    if invalidation.created_after:
        rows = rows.filter(created_at__gte=invalidation.created_after)
    if invalidation.created_before:
        rows = rows.filter(created_at__lt=invalidation.created_before)
    if invalidation.ip_network:
        rows = _in_network(rows, invalidation.ip_network)
    return rows


def _in_network(rows, network):
    if connection.vendor == "postgresql":
        # inet's "is contained by or equals" (an unqualified column: Django aliases subqueries).
        column = connection.ops.quote_name(rows.model._meta.get_field("ip_address").column)
        return rows.filter(RawSQL(f"{column} <<= %s::inet", [network], output_field=BooleanField()))  # noqa: S611
    # Other databases store the address as text: compare in Python (the demo's scale).
    network = ipaddress.ip_network(network, strict=False)
    ids = [
        pk
        for pk, ip in rows.filter(ip_address__isnull=False).values_list("pk", "ip_address")
        if ipaddress.ip_address(ip).version == network.version and ipaddress.ip_address(ip) in network
    ]
    return rows.filter(pk__in=ids)


def preview(invalidation, sample_size: int = 20) -> list:
    """Count what an invalidation would invalidate now, record the count, and return a sample of it."""
    rows = matching_signatures(invalidation)
    invalidation.matching_count = rows.count()
    invalidation.counted_at = timezone.now()
    Invalidation.objects.filter(pk=invalidation.pk).update(
        matching_count=invalidation.matching_count, counted_at=invalidation.counted_at
    )
    return list(rows.order_by("-created_at", "-pk")[:sample_size])


def start(invalidation) -> bool:
    """Mark an invalidation queued; True only for the call that did it (the caller enqueues the task)."""
    if invalidation.matching_count is None:
        return False  # nobody has seen a preview count
    started = Invalidation.objects.filter(pk=invalidation.pk, enqueued_at__isnull=True).update(
        enqueued_at=timezone.now()
    )
    return bool(started)


def run_invalidation(invalidation_id: int) -> int:
    """Invalidate what an invalidation matches, in batches; return how many this run invalidated.

    Each batch is one UPDATE of at most INVALIDATION_BATCH rows and the progress count, in one
    transaction, so the recorded count is exact even if a worker dies midway; a second run (a
    retry, a duplicated message) finds only what is left, usually nothing. A restored
    invalidation is not run again.
    """
    invalidation = Invalidation.objects.filter(pk=invalidation_id, restored_at__isnull=True).first()
    if invalidation is None:
        return 0
    Signature = get_signature_model()
    Invalidation.objects.filter(pk=invalidation_id, started_at__isnull=True).update(started_at=timezone.now())
    matching = matching_signatures(invalidation)
    batch_size = get_setting("INVALIDATION_BATCH")
    invalidated = 0
    while True:
        with transaction.atomic():
            batch = matching.order_by().values("pk")[:batch_size]
            n = Signature.objects.filter(
                pk__in=batch,
                status__in=[Signature.Status.PENDING, Signature.Status.VERIFIED, Signature.Status.QUARANTINED],
            ).update(status=Signature.Status.INVALIDATED, invalidation=invalidation_id)
            if n:
                Invalidation.objects.filter(pk=invalidation_id).update(invalidated_count=F("invalidated_count") + n)
        invalidated += n
        if n < batch_size:
            break
    # The petitions of what it invalidated (this run or an earlier one that died before this point).
    petition_ids = Signature.objects.filter(invalidation=invalidation_id).values_list("petition_id", flat=True)
    with transaction.atomic():
        request_recount(set(petition_ids.order_by().distinct()))
        Invalidation.objects.filter(pk=invalidation_id).update(completed_at=timezone.now())
    logger.info("Invalidation %s invalidated %s signatures", invalidation_id, invalidated)
    return invalidated


def restore(invalidation) -> int:
    """Undo a completed invalidation: its signatures return to what they were, and are recounted.

    A signature that was confirmed is VERIFIED again (QUARANTINED if a rule flags it now), one
    that was not is PENDING again. Only rows still INVALIDATED by this invalidation change.
    """
    Signature = get_signature_model()
    with transaction.atomic():
        return _restore(Signature, invalidation)


def _restore(Signature, invalidation):
    if not Invalidation.objects.filter(pk=invalidation.pk, completed_at__isnull=False, restored_at__isnull=True).update(
        restored_at=timezone.now()
    ):
        return 0
    rows = Signature.objects.filter(invalidation=invalidation.pk, status=Signature.Status.INVALIDATED)
    petition_ids = set(rows.order_by().values_list("petition_id", flat=True).distinct())
    restored = _reinstate(Signature, rows)
    Invalidation.objects.filter(pk=invalidation.pk).update(restored_count=restored)
    request_recount(petition_ids)
    return restored


def _reinstate(Signature, rows) -> int:
    """Give invalidated ``rows`` the status they would have had: PENDING, QUARANTINED (flagged now) or VERIFIED."""
    rules = load_rules()
    restored = rows.filter(verified_at__isnull=True).update(status=Signature.Status.PENDING, invalidation=None)
    quarantined = [
        pk
        for pk, email, ip, path in rows.filter(verified_at__isnull=False).values_list(
            "pk", "email_normalized", "ip_address", "petition__path"
        )
        if rules and is_flagged(rules, email, ip, path)
    ]
    restored += rows.filter(pk__in=quarantined).update(status=Signature.Status.QUARANTINED, invalidation=None)
    restored += rows.filter(verified_at__isnull=False).update(status=Signature.Status.VERIFIED, invalidation=None)
    return restored


# --- one lead's pick (the signatures listing's bulk actions) ---------------------------------


def invalidate_signatures(signature_ids) -> int:
    """Invalidate these signatures (ids or an id queryset); return how many changed.

    As a bulk invalidation does, but for rows a lead picked: pending, verified and quarantined
    rows become INVALIDATED (with no ``Invalidation`` of their own, so ``restore_signatures``
    undoes them one by one), and their petitions are recounted at the next reconcile.
    """
    Signature = get_signature_model()
    with transaction.atomic():
        rows = Signature.objects.filter(pk__in=signature_ids, status__in=INVALIDATABLE)
        petition_ids = set(rows.order_by().values_list("petition_id", flat=True).distinct())
        invalidated = rows.update(status=Signature.Status.INVALIDATED)
        request_recount(petition_ids)
    return invalidated


def restore_signatures(signature_ids) -> int:
    """Undo an invalidation of these signatures (whoever invalidated them); return how many changed.

    Each gets back the status ``restore`` would give it; their petitions are recounted.
    """
    Signature = get_signature_model()
    with transaction.atomic():
        rows = Signature.objects.filter(pk__in=signature_ids, status=Signature.Status.INVALIDATED)
        petition_ids = set(rows.order_by().values_list("petition_id", flat=True).distinct())
        restored = _reinstate(Signature, rows)
        request_recount(petition_ids)
    return restored
