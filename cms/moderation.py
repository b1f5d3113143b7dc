"""What a campaign lead does to signatures they picked in the listing: hide, invalidate, restore.

Each takes ids (a list, or a queryset of ids for "every row of the listing") that the caller
has already scoped to the lead's campaigns, and returns how many rows changed, so a second run
changes nothing and says so. Counts go through ``cms.fraud`` (invalidated rows are recounted at
the next reconcile); the public feed is rebuilt after the commit, as an erasure does.
"""

from django.db import transaction

from . import fraud
from .conf import get_signature_model
from .erasure import refresh_feeds


def _petitions_of(rows):
    return set(rows.order_by().values_list("petition_id", flat=True).distinct())


def _refresh_feeds_on_commit(petition_ids):
    if petition_ids:
        transaction.on_commit(lambda: refresh_feeds(petition_ids))


def hide_from_feed(signature_ids) -> int:
    """Take these signers out of the public feed, whatever they allowed; the feed is rebuilt now."""
    Signature = get_signature_model()
    with transaction.atomic():
        rows = Signature.objects.filter(pk__in=signature_ids, hidden_from_feed=False)
        petition_ids = _petitions_of(rows)
        hidden = rows.update(hidden_from_feed=True)
        _refresh_feeds_on_commit(petition_ids)
    return hidden


def invalidate(signature_ids) -> int:
    """Invalidate these signatures (``cms.fraud.invalidate_signatures``); they leave the feed now."""
    Signature = get_signature_model()
    with transaction.atomic():
        petition_ids = _petitions_of(Signature.objects.filter(pk__in=signature_ids, status__in=fraud.INVALIDATABLE))
        invalidated = fraud.invalidate_signatures(signature_ids)
        _refresh_feeds_on_commit(petition_ids)
    return invalidated


def restore(signature_ids) -> int:
    """Undo ``invalidate`` and ``hide_from_feed`` on these signatures; return how many rows changed."""
    Signature = get_signature_model()
    with transaction.atomic():
        rows = Signature.objects.filter(pk__in=signature_ids).filter(hidden_from_feed=True) | Signature.objects.filter(
            pk__in=signature_ids, status=Signature.Status.INVALIDATED
        )
        changed = list(rows.order_by().values_list("pk", "petition_id"))
        if not changed:
            return 0
        ids = [pk for pk, _petition in changed]
        Signature.objects.filter(pk__in=ids, hidden_from_feed=True).update(hidden_from_feed=False)
        fraud.restore_signatures(ids)
        _refresh_feeds_on_commit({petition for _pk, petition in changed})
    return len(changed)
