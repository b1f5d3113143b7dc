"""Retention: how long the plugin keeps what it knows about signers (issue 10; README: "Retention").

Three jobs, each a daily beat task (``workers.tasks``) that takes no arguments and, run
twice, changes nothing more:

- :func:`purge_unverified` deletes PENDING signatures RETENTION_UNVERIFIED_DAYS after their
  last verification email was asked for. Nobody confirmed them, so nothing counted them.
  QUARANTINED, FRAUDULENT and INVALIDATED rows are not purged here: the fraud tools still
  need them (a lead's review, an invalidation's undo and figures). They are anonymised with
  their petition.
- :func:`anonymise_closed_petitions` blanks the personal fields of every signature of a
  petition RETENTION_ANONYMISE_MONTHS after it closed. The UK Parliament's petitions site does
  this for all signatures six months on (alphagov/e-petitions ``AnonymizePetitionsJob`` and
  ``Anonymize#anonymize!``). Status, country and times stay, so the count, the country
  tallies and a full recount stay what they were. The milestones and deliveries are not
  touched. The consents go with the names, so the feed shows nobody and a delivery prepared
  later lists nobody, while it still counts everyone.
- :func:`delete_delivery_files` deletes a delivery's CSV and PDF RETENTION_DELIVERY_FILES_DAYS
  after it was sent (or prepared, if it never was). The record keeps its letter, total,
  country breakdown and row count.

The two row jobs work in batches of RETENTION_BATCH primary keys, one statement and one
short transaction each (autocommit). A table of a million rows is never locked at once, and a
signer confirming meanwhile waits at most one batch.
"""

import logging
from datetime import timedelta

from dateutil.relativedelta import relativedelta
from django.db import connection
from django.db.models import Max, Min, Q
from django.utils import timezone
from wagtail.models import Page, get_page_models

from .conf import get_setting, get_signature_model
from .models import Delivery, PetitionMixin, PetitionStats
from .store import get_store

logger = logging.getLogger("petitions")


def _pk_batches(queryset, size):
    """``queryset`` cut into consecutive primary-key ranges of ``size`` ids (each at most ``size`` rows)."""
    bounds = queryset.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return
    for start in range(bounds["low"], bounds["high"] + 1, size):
        yield start, start + size


def purge_unverified(now=None) -> int:
    """Delete the PENDING signatures whose last verification email was asked for too long ago; the number deleted.

    Signing again asks for a fresh email (and link), so the time runs from ``email_requested_at``
    (or ``created_at`` for a row never emailed).
    """
    days = get_setting("RETENTION_UNVERIFIED_DAYS")
    if days is None:
        return 0
    Signature = get_signature_model()
    cutoff = (now or timezone.now()) - timedelta(days=days)
    due = Signature.objects.filter(status=Signature.Status.PENDING, created_at__lt=cutoff).filter(
        Q(email_requested_at__isnull=True) | Q(email_requested_at__lt=cutoff)
    )
    # The conditions are on the DELETE itself, not only on the query that found the range: a row
    # confirmed (or signed again) while a batch waits for its lock is re-checked and kept. Raw
    # SQL because QuerySet.delete() would load each row to send post_delete, which any host
    # receiver asks for.
    opts = Signature._meta
    column = {name: connection.ops.quote_name(opts.get_field(name).column) for name in (
        "status", "created_at", "email_requested_at")}  # fmt: skip
    pk = connection.ops.quote_name(opts.pk.column)
    sql = (
        f"DELETE FROM {connection.ops.quote_name(opts.db_table)} WHERE {pk} >= %s AND {pk} < %s "  # noqa: S608
        f"AND {column['status']} = %s AND {column['created_at']} < %s "
        f"AND ({column['email_requested_at']} IS NULL OR {column['email_requested_at']} < %s)"
    )
    deleted = 0
    for start, stop in _pk_batches(due, get_setting("RETENTION_BATCH")):
        with connection.cursor() as cursor:
            cursor.execute(sql, [start, stop, Signature.Status.PENDING, cutoff, cutoff])
            deleted += cursor.rowcount
    if deleted:
        logger.info("Retention: deleted %d unverified signatures older than %d days", deleted, days)
    return deleted


def petitions_due_for_anonymising(now=None) -> list:
    """Ids of the petitions closed RETENTION_ANONYMISE_MONTHS ago or longer and not anonymised since they closed."""
    months = get_setting("RETENTION_ANONYMISE_MONTHS")
    if months is None:
        return []
    cutoff = (now or timezone.now()) - relativedelta(months=months)
    closed = {}
    for model in get_page_models():
        if issubclass(model, PetitionMixin) and not model._meta.abstract:
            closed.update(model.objects.filter(closes_at__lt=cutoff).values_list("pk", "closes_at"))
    done = dict(
        PetitionStats.objects.filter(petition_id__in=closed, anonymised_at__isnull=False).values_list(
            "petition_id", "anonymised_at"
        )
    )
    # Anonymised before it last closed: it was reopened and has had new signers since.
    return sorted(pk for pk, closes_at in closed.items() if pk not in done or done[pk] < closes_at)


def anonymise_closed_petitions(now=None) -> int:
    """Anonymise every signature of the petitions due (``petitions_due_for_anonymising``); the number anonymised.

    Rows already anonymised are left as they are. Each petition is marked done in
    ``PetitionStats.anonymised_at`` once all its rows are, and its cached feed is rebuilt,
    so no name stays on show.
    """
    Signature = get_signature_model()
    values = Signature.anonymised_values()
    size = get_setting("RETENTION_BATCH")
    now = now or timezone.now()
    total = 0
    for petition_id in petitions_due_for_anonymising(now):
        due = Signature.objects.filter(petition_id=petition_id, anonymised_at__isnull=True)
        anonymised = 0
        for start, stop in _pk_batches(due, size):
            anonymised += due.filter(pk__gte=start, pk__lt=stop).update(**values)
        PetitionStats.objects.bulk_create([PetitionStats(petition_id=petition_id)], ignore_conflicts=True)
        PetitionStats.objects.filter(petition_id=petition_id).update(anonymised_at=now)
        _refresh_feed(petition_id)
        if anonymised:
            logger.info("Retention: anonymised %d signatures of petition %s", anonymised, petition_id)
        total += anonymised
    return total


def _refresh_feed(petition_id):
    page = Page.objects.filter(pk=petition_id).specific().first()
    if isinstance(page, PetitionMixin):
        get_store().set_feed(petition_id, page.get_feed_from_database())


def delete_delivery_files(now=None) -> int:
    """Delete the CSV and PDF of deliveries sent (or prepared) too long ago; the number of deliveries.

    Storage first, then the row: a run that fails in between finds the row again and deletes
    nothing twice (a missing file is no error). A delivery still being built or sent is left alone.
    """
    days = get_setting("RETENTION_DELIVERY_FILES_DAYS")
    if days is None:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    due = (
        Delivery.objects.filter(files_deleted_at__isnull=True)
        .exclude(status__in=[Delivery.Status.PREPARING, Delivery.Status.SENDING])
        .filter(Q(sent_at__lt=cutoff) | Q(sent_at__isnull=True, created_at__lt=cutoff))
        .exclude(csv_file="", pdf_file="")
    )
    done = 0
    for delivery in due.only("pk", "csv_file", "pdf_file").order_by("pk").iterator():
        for field in (delivery.csv_file, delivery.pdf_file):
            if field:
                field.storage.delete(field.name)
        done += Delivery.objects.filter(pk=delivery.pk, files_deleted_at__isnull=True).update(
            csv_file="", pdf_file="", files_deleted_at=timezone.now()
        )
    if done:
        logger.info("Retention: deleted the files of %d deliveries older than %d days", done, days)
    return done
