"""Keeping the insights' aggregates: signatures made and verified per hour and per source.

Called by ``cms.reconcile`` inside its transaction, under its lock, so every writer of these
rows holds the lock and absolute values are safe (read, add, write back). The increments follow
the totals' watermark logic (``cms.reconcile.counted_until``): each run counts what was made
(``created_at``) and what was verified (``verified_at``) after the petition's
``insights_counted_until`` and up to this run's watermark, then moves that watermark forward,
never back. A second run over the same window adds nothing. The first run of a petition (no
watermark yet, e.g. counted before this table existed) counts all of its rows up to the watermark.

``created_at`` is stamped by the web process a moment before its INSERT, where ``verified_at``
is the database's own; ``RECONCILE_LAG`` covers that moment, and the full recount
(:func:`rebuild`) corrects anything it missed, as it does for the totals.

Bounces and complaints change at any time (``cms.suppression``), so they are not incremental:
a petition whose signatures were marked asks for a recount of them
(:func:`request_email_recount`), which the next reconcile does in one grouped query.
"""

import datetime
from collections import defaultdict

from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from .conf import get_signature_model
from .models import PetitionHourlyStats, PetitionSourceStats, PetitionStats

UTC = datetime.UTC


def _ranges(field, petition_ids, watermarks, until):
    """One Q per petition: ``field`` after its watermark (if any) and up to ``until``."""
    ranges = Q()
    for petition_id in petition_ids:
        since = watermarks.get(petition_id)
        condition = Q(petition_id=petition_id, **{f"{field}__lte": until})
        if since is not None:
            condition &= Q(**{f"{field}__gt": since})
        ranges |= condition
    return ranges


def _grouped(rows, field):
    """{(petition_id, hour, source): n} of ``rows`` grouped by the UTC hour of ``field``."""
    grouped = (
        rows.annotate(bucket=TruncHour(field, tzinfo=UTC))
        .values_list("petition_id", "bucket", "source")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(petition_id, hour, source or ""): n for petition_id, hour, source, n in grouped}


def _count(petition_ids, watermarks, until):
    """(made, verified): {(petition_id, hour, source): n} in each petition's window."""
    Signature = get_signature_model()
    made = _grouped(Signature.objects.filter(_ranges("created_at", petition_ids, watermarks, until)), "created_at")
    verified = _grouped(
        Signature.objects.filter(
            _ranges("verified_at", petition_ids, watermarks, until), status=Signature.Status.VERIFIED
        ),
        "verified_at",
    )
    return made, verified


def _tally(made, verified):
    """{(petition_id, hour): [signed, verified]}, {(petition_id, source): [signed, verified]}."""
    hours, sources = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
    for column, counts in ((0, made), (1, verified)):
        for (petition_id, hour, source), n in counts.items():
            hours[petition_id, hour][column] += n
            sources[petition_id, source][column] += n
    return hours, sources


def _add(model, key_field, petition_ids, tally):
    """Add ``tally`` ({(petition_id, key): [signed, verified]}) to ``model``'s rows (under the lock)."""
    if not tally:
        return
    existing = {
        (petition_id, key): (signed, verified)
        for petition_id, key, signed, verified in model.objects.filter(
            petition_id__in={petition_id for petition_id, _ in tally},
            **{f"{key_field}__in": {key for _, key in tally}},
        ).values_list("petition_id", key_field, "signed", "verified")
    }
    rows = []
    for (petition_id, key), (signed, verified) in tally.items():
        old_signed, old_verified = existing.get((petition_id, key), (0, 0))
        values = {"signed": old_signed + signed, "verified": old_verified + verified, key_field: key}
        rows.append(model(petition_id=petition_id, **values))
    model.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["petition", key_field], update_fields=["signed", "verified"]
    )


def count_new(petition_ids, until) -> None:
    """Add what was made and verified since each petition's insights watermark, up to ``until``.

    Call it inside the reconcile's transaction, after its ``PetitionStats`` rows exist.
    """
    stats = PetitionStats.objects.filter(petition_id__in=petition_ids)
    watermarks = dict(stats.values_list("petition_id", "insights_counted_until"))
    # A watermark already at or past ``until`` (a run whose clock is behind) has nothing to count.
    due = [pk for pk in petition_ids if watermarks.get(pk) is None or watermarks[pk] < until]
    if not due:
        return
    hours, sources = _tally(*_count(due, watermarks, until))
    _add(PetitionHourlyStats, "hour", due, hours)
    _add(PetitionSourceStats, "source", due, sources)
    stats.filter(petition_id__in=due).update(insights_counted_until=until)


def rebuild(stats) -> None:
    """Recount the hourly and source rows of {petition_id: PetitionStats} up to each insights watermark.

    For the full recount (under the lock). A petition never counted for insights is left to the
    next reconcile, which counts it from its first row. An anonymised petition keeps its sources:
    anonymising blanks ``source`` on the rows, and the tally is what they were.
    """
    for petition_id, row in stats.items():
        until = row.insights_counted_until
        if until is None:
            continue
        hours, sources = _tally(*_count([petition_id], {}, until))
        PetitionHourlyStats.objects.filter(petition_id=petition_id).delete()
        PetitionHourlyStats.objects.bulk_create(
            PetitionHourlyStats(petition_id=petition_id, hour=hour, signed=signed, verified=verified)
            for (_, hour), (signed, verified) in hours.items()
        )
        if row.anonymised_at is None:
            PetitionSourceStats.objects.filter(petition_id=petition_id).delete()
            PetitionSourceStats.objects.bulk_create(
                PetitionSourceStats(petition_id=petition_id, source=source, signed=signed, verified=verified)
                for (_, source), (signed, verified) in sources.items()
            )


# --- bounces and complaints -------------------------------------------------------------------


def request_email_recount(petition_ids) -> None:
    """Ask the next reconcile to recount these petitions' bounces and complaints (their signatures were marked)."""
    petition_ids = list(petition_ids)
    if petition_ids:
        PetitionStats.objects.filter(petition_id__in=petition_ids).update(email_recount_requested_at=timezone.now())


def recount_emails(petition_ids) -> None:
    """Set each petition's bounced and complained counts from its signatures' ``email_status``."""
    Signature = get_signature_model()
    status = Signature.EmailStatus
    counts = defaultdict(lambda: {"bounced_count": 0, "complained_count": 0})
    rows = (
        Signature.objects.filter(
            petition_id__in=petition_ids, email_status__in=[status.BOUNCED, status.REFUSED, status.COMPLAINED]
        )
        .values_list("petition_id", "email_status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for petition_id, email_status, n in rows:
        counts[petition_id]["complained_count" if email_status == status.COMPLAINED else "bounced_count"] += n
    for petition_id in petition_ids:
        PetitionStats.objects.filter(petition_id=petition_id).update(**counts[petition_id])


def recount_emails_requested() -> None:
    """Recount the bounces and complaints of every petition that asked; a request made meanwhile stays."""
    requested = dict(
        PetitionStats.objects.filter(email_recount_requested_at__isnull=False).values_list(
            "petition_id", "email_recount_requested_at"
        )
    )
    if not requested:
        return
    recount_emails(list(requested))
    for petition_id, requested_at in requested.items():
        PetitionStats.objects.filter(petition_id=petition_id, email_recount_requested_at=requested_at).update(
            email_recount_requested_at=None
        )
