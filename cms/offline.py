"""Paper signatures: adding and voiding batches, and keeping the petition's offline total.

A batch goes under the canonical petition (``cms.translations``), like every online
signature. The offline total (``PetitionStats.offline_count``) is recomputed from the standing
batches, never incremented, so saving or voiding twice cannot count twice. It is written
under the reconcile lock, where the milestones its change crosses are recorded; after commit
the reconcile publishes the live count (verified online + paper) to the store. The sign and
confirm paths are untouched: they never read a batch.
"""

import logging
import time

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext

from . import milestones
from . import reconcile as reconciling
from .models import OfflineSignatureBatch, PetitionStats
from .store import RECONCILE_LOCK_KEY, get_cache
from .translations import canonical_id

logger = logging.getLogger("petitions")

#: How long a batch's save waits for a running reconcile (other databases than PostgreSQL), seconds.
LOCK_WAIT = 30


def add_batch(petition, *, count, collected_at, collected_where, entered_by, note="", scan=None):
    """Record a paper batch for ``petition`` (any of its translations); return it.

    Validates as the admin form does (``ValidationError`` with field errors): a total of at
    least one and at most ``PETITIONS["OFFLINE_BATCH_MAX"]``, a collection date not in the future.
    """
    batch = OfflineSignatureBatch(
        petition_id=canonical_id(petition),
        count=count,
        collected_at=collected_at,
        collected_where=collected_where,
        note=note,
        scan=scan,
        entered_by=entered_by,
    )
    batch.full_clean()
    with transaction.atomic():
        batch.save()
        update_offline_total(batch.petition_id)
    logger.info("Paper batch %s: %s signatures for petition %s by %s", batch.pk, count, batch.petition_id, entered_by)
    return batch


def void_batch(batch, *, voided_by, reason=""):
    """Void ``batch`` (it stops counting; the row and who voided it stay). Voiding twice changes nothing."""
    with transaction.atomic():
        updated = OfflineSignatureBatch.objects.filter(pk=batch.pk, voided_at__isnull=True).update(
            voided_at=timezone.now(), voided_by=voided_by, void_reason=reason[:255]
        )
        if not updated:
            raise ValidationError(gettext("This batch was already voided."), code="voided")
        update_offline_total(batch.petition_id)
    batch.refresh_from_db()
    logger.info("Paper batch %s of petition %s voided by %s", batch.pk, batch.petition_id, voided_by)
    return batch


def offline_total(petition_id) -> int:
    """The standing paper signatures of a (canonical) petition, summed from its batches."""
    return OfflineSignatureBatch.objects.standing().filter(petition_id=petition_id).aggregate(n=Sum("count"))["n"] or 0


def update_offline_total(petition_id, now=None) -> int:
    """Recompute ``offline_count`` from the batches, record the milestones the change crosses; return the total.

    Call inside the transaction that changed a batch. Holds the reconcile lock until commit, so the
    reconcile never reads an offline total that is not yet its "before"; after commit it publishes.
    """
    now = now or timezone.now()
    _lock()
    PetitionStats.objects.get_or_create(petition_id=petition_id)
    stats = PetitionStats.objects.select_for_update().get(petition_id=petition_id)
    online = stats.signature_count if stats.counted_until else 0
    offline = offline_total(petition_id)
    if offline != stats.offline_count:
        PetitionStats.objects.filter(petition_id=petition_id).update(offline_count=offline)
        milestones.record({petition_id: online + offline}, {petition_id: online + stats.offline_count}, now)
    transaction.on_commit(lambda: publish(petition_id))
    return online + offline


def publish(petition_id):
    """Publish the petition's live count through a reconcile of it; if one is running, ask the next run."""
    if reconciling.reconcile_counts([petition_id]) is None:
        # A closed petition is not in the beat's list: a recount request brings it in.
        PetitionStats.objects.filter(petition_id=petition_id).update(recount_requested_at=timezone.now())


def _lock():
    """Take the reconcile lock for this transaction, waiting for a running reconcile to finish."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [reconciling.RECONCILE_LOCK_ID])
        return
    cache = get_cache()
    deadline = time.monotonic() + LOCK_WAIT
    while not cache.add(RECONCILE_LOCK_KEY, 1, timeout=300):
        if time.monotonic() > deadline:
            raise TimeoutError("The reconcile lock stayed taken")
        time.sleep(0.05)
    transaction.on_commit(lambda: cache.delete(RECONCILE_LOCK_KEY))


def paper_series(petition_id) -> list:
    """[{"day", "count", "cumulative", "places"}]: the standing paper batches per collection day, oldest first."""
    days = {}
    for day, count, where in (
        OfflineSignatureBatch.objects.standing()
        .filter(petition_id=petition_id)
        .order_by("collected_at", "pk")
        .values_list("collected_at", "count", "collected_where")
    ):
        row = days.setdefault(day, {"day": day, "count": 0, "places": []})
        row["count"] += count
        if where not in row["places"]:
            row["places"].append(where)
    cumulative, rows = 0, []
    for row in days.values():
        cumulative += row["count"]
        rows.append({**row, "cumulative": cumulative})
    return rows
