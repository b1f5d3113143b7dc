"""Reconciling counts: the stored totals made from the signature rows, one run at a time.

``reconcile_counts`` (every few seconds, by beat) counts what was verified
since each petition's watermark, adds it to ``PetitionStats`` and the
country tallies, records milestones (``cms.milestones``, which sends
``milestone_reached``) and then sets the live values in the store.
``full_recount`` (daily) recounts everything up to the watermark and
corrects drift. Both keep the insights' aggregates too (``cms.insights``:
made and verified per hour and per source, bounces and complaints). A
petition whose counted rows changed status (``cms.fraud``:
a bulk invalidation, a release from quarantine) asks for that recount, and
the next ``reconcile_counts`` does it. All run under one PostgreSQL advisory
lock (a cache lock on other databases).
"""

import logging
from collections import defaultdict
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from wagtail.models import Page, get_page_models

from . import insights, milestones
from .conf import get_setting, get_signature_model
from .models import PetitionCountryCount, PetitionMixin, PetitionStats
from .store import RECONCILE_LOCK_KEY, get_cache, get_store
from .translations import canonical_ids

logger = logging.getLogger("petitions")

# One lock id for every reconcile and recount, across all workers (pg_try_advisory_xact_lock).
RECONCILE_LOCK_ID = 0x7065746974  # "petit"


def active_petition_ids(now=None) -> list:
    """Live petitions still open, or closed within the last day (late confirmations)."""
    now = now or timezone.now()
    ids = []
    for model in get_page_models():
        if issubclass(model, PetitionMixin) and not model._meta.abstract:
            ids += (
                model.objects.live()
                .filter(Q(closes_at__isnull=True) | Q(closes_at__gte=now - timedelta(days=1)))
                .values_list("pk", flat=True)
            )
    # Translations count on their canonical page (cms.translations): each petition once, by that id.
    if not ids:
        return ids
    canonical = canonical_ids(ids)
    return list(dict.fromkeys(canonical.get(pk, pk) for pk in ids))


def _try_lock() -> bool:
    """Take the reconcile lock for this transaction; False if another run holds it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RECONCILE_LOCK_ID])
            return cursor.fetchone()[0]
    cache = get_cache()
    if not cache.add(RECONCILE_LOCK_KEY, 1, timeout=300):
        return False
    transaction.on_commit(lambda: cache.delete(RECONCILE_LOCK_KEY))
    return True


# The start of the oldest transaction in progress on this database in another session, and the
# database's clock. A verification stamps ``verified_at`` with its statement's time, which is never
# before its transaction's start, so below both of these no uncommitted verification can land.
OLDEST_TRANSACTION_SQL = """
SELECT clock_timestamp(), (
    SELECT min(xact_start) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
)
"""
#: A watermark held back longer than this by one open transaction is logged (seconds).
HELD_BACK_WARNING = 60


def counted_until(now):
    """The watermark this run counts up to: nothing still committing may fall below it.

    Everywhere it is at most ``RECONCILE_LAG`` seconds before ``now``. On
    PostgreSQL it is also before the oldest transaction still open on this
    database (``pg_stat_activity.xact_start``) and before the database's own
    clock, which stamps ``verified_at`` (``cms.signing.verify_signature``): a
    verification however late its commit is above the watermark, and the next
    run counts it. That needs the reconciling role to see other sessions'
    ``xact_start``: the role the web processes use, or a member of
    ``pg_read_all_stats``; other roles' sessions show none, and for them the
    lag alone applies, as it does on every other database (there a commit
    later than the lag after its ``verified_at`` waits for the daily recount).
    Keep the lag (2 s by default) above zero all the same: it covers the
    instant between a transaction's start and its showing in
    ``pg_stat_activity``. A transaction left open holds the watermark back
    (logged after a minute): the live count stays right meanwhile
    (verifications after the watermark are counted in the store), only the
    stored total and milestones wait.
    Call it inside the run's transaction, before counting.
    """
    until = now - timedelta(seconds=get_setting("RECONCILE_LAG"))
    if connection.vendor != "postgresql":
        return until
    with connection.cursor() as cursor:
        cursor.execute(OLDEST_TRANSACTION_SQL)
        clock, oldest = cursor.fetchone()
    if oldest is not None and (clock - oldest).total_seconds() > HELD_BACK_WARNING:
        logger.warning("Reconcile watermark held back %s by a transaction open since %s", clock - oldest, oldest)
    bound = clock if oldest is None else min(clock, oldest)
    return min(until, bound - timedelta(microseconds=1))


def _verified_since_watermarks(petition_ids, until):
    """(petition_id, country, n) verified after each petition's watermark, up to ``until``.

    One grouped query. Each petition's range is spelled out with its own
    watermark as a parameter, so PostgreSQL scans only the new rows of the
    (petition, status, verified_at) index instead of every verified row.
    """
    Signature = get_signature_model()
    watermarks = dict(
        PetitionStats.objects.filter(petition_id__in=petition_ids).values_list("petition_id", "counted_until")
    )
    ranges, params = [], [Signature.Status.VERIFIED]
    for petition_id in petition_ids:
        since = watermarks.get(petition_id)
        if since is None:
            ranges.append("(petition_id = %s AND verified_at <= %s)")
            params += [petition_id, until]
        else:
            ranges.append("(petition_id = %s AND verified_at > %s AND verified_at <= %s)")
            params += [petition_id, since, until]
    sql = (
        f"SELECT petition_id, country, COUNT(*) FROM {Signature._meta.db_table} "  # noqa: S608 (a model's table)
        f"WHERE status = %s AND ({' OR '.join(ranges)}) GROUP BY petition_id, country"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _add_country_counts(rows):
    for petition_id, country, n in rows:
        updated = PetitionCountryCount.objects.filter(petition_id=petition_id, country=country or "").update(
            signature_count=F("signature_count") + n
        )
        if not updated:
            PetitionCountryCount.objects.create(petition_id=petition_id, country=country or "", signature_count=n)


def reconcile_counts(petition_ids=None, now=None) -> dict | None:
    """Count what was verified since each petition's watermark and apply it.

    One run at a time across all workers (an advisory lock); returns None if
    another run holds it, else {petition_id: total}. Counts up to
    ``counted_until(now)`` (RECONCILE_LAG seconds ago, and on PostgreSQL
    before any transaction still open), applies ``total = total + n`` and the country
    tallies, records milestones, then (after commit) sets the live values in
    Redis, rebuilding them if Redis was flushed.
    """
    now = now or timezone.now()
    petition_ids_given = petition_ids
    with transaction.atomic():
        if not _try_lock():
            logger.info("Reconcile already running; skipped")
            return None
        until = counted_until(now)
        petition_ids = list(active_petition_ids(now) if petition_ids is None else petition_ids)
        if petition_ids_given is None:  # a closed petition's recount request is answered too
            petition_ids += (
                PetitionStats.objects.filter(recount_requested_at__isnull=False)
                .exclude(petition_id__in=petition_ids)
                .values_list("petition_id", flat=True)
            )
        insights.recount_emails_requested()  # any petition's, open or closed
        if not petition_ids:
            return {}
        PetitionStats.objects.bulk_create([PetitionStats(petition_id=pk) for pk in petition_ids], ignore_conflicts=True)
        rows = _verified_since_watermarks(petition_ids, until)
        added = defaultdict(int)
        for petition_id, _, n in rows:
            added[petition_id] += n
        # A row without a watermark has never been counted this way: start it from zero.
        before, offline = {}, {}
        for pk, count, watermark, paper in PetitionStats.objects.filter(petition_id__in=petition_ids).values_list(
            "petition_id", "signature_count", "counted_until", "offline_count"
        ):
            before[pk] = count if watermark else 0
            offline[pk] = paper
        for petition_id, n in added.items():
            # Absolute values are safe: every writer of these rows holds the lock.
            PetitionStats.objects.filter(petition_id=petition_id).update(signature_count=before[petition_id] + n)
        # A watermark never moves back (a run whose clock is behind the last one's counts nothing
        # new): moved back, the next run would count again what lies between the two.
        stats = PetitionStats.objects.filter(petition_id__in=petition_ids)
        stats.filter(Q(counted_until__isnull=True) | Q(counted_until__lt=until)).update(counted_until=until)
        stats.update(reconciled_at=now)
        watermarks = dict(stats.values_list("petition_id", "counted_until"))
        _add_country_counts(rows)
        insights.count_new(petition_ids, until)
        totals = {pk: before.get(pk, 0) + added.get(pk, 0) for pk in petition_ids}
        # Counted rows that changed status (an invalidation, a release) are found by recounting.
        totals.update(_recount_requested(petition_ids, now))
        # The public total adds the paper signatures (cms.offline), before and after alike: a batch's
        # own milestones were recorded when it was entered, under this lock.
        totals = {pk: n + offline.get(pk, 0) for pk, n in totals.items()}
        before = {pk: n + offline.get(pk, 0) for pk, n in before.items()}
        goals = milestones.record(totals, before, now)
        transaction.on_commit(lambda: _publish_live_values(totals, goals, watermarks))
    return totals


def _publish_live_values(totals, goals, watermarks):
    store = get_store()
    pages = {page.pk: page for page in Page.objects.filter(pk__in=totals).specific()}
    for petition_id, total in totals.items():
        page = pages.get(petition_id)
        feed = page.get_feed_from_database() if isinstance(page, PetitionMixin) else None
        store.apply_reconcile(petition_id, total, watermarks[petition_id], feed)
        page_goal = getattr(pages.get(petition_id), "goal", 0) or 0
        store.set_goal(petition_id, max(page_goal, goals.get(petition_id) or 0))


def full_recount(petition_ids=None, now=None) -> dict | None:
    """Recount every verified signature up to each watermark; correct and log drift.

    Run daily. Returns {petition_id: drift} for the petitions it corrected,
    or None if a reconcile holds the lock.
    """
    now = now or timezone.now()
    with transaction.atomic():
        if not _try_lock():
            return None
        stats = {
            row.petition_id: row
            for row in PetitionStats.objects.filter(
                counted_until__isnull=False,
                **({"petition_id__in": list(petition_ids)} if petition_ids is not None else {}),
            )
        }
        if not stats:
            return {}
        totals, drift = _recount(stats, now)
        insights.recount_emails(list(stats))
        # Totals as published: with the paper signatures.
        corrected = {pk: totals.get(pk, 0) + stats[pk].offline_count for pk in drift}
        # A correction can cross a milestone no incremental run will see again (its "before" is
        # already past it): a verification committed after a watermark went by, say.
        milestones.record(corrected, {pk: stats[pk].signature_count + stats[pk].offline_count for pk in drift}, now)
        watermarks = {pk: stats[pk].counted_until for pk in drift}
        transaction.on_commit(
            lambda: [get_store().apply_reconcile(pk, corrected[pk], watermarks[pk]) for pk in corrected]
        )
    return drift


def _recount(stats, now):
    """Recount {petition_id: PetitionStats} up to each watermark; correct totals and tallies (under the lock).

    Returns ({petition_id: total}, {petition_id: drift}) and logs the drift it corrected.
    """
    Signature = get_signature_model()
    totals = defaultdict(int)
    countries = defaultdict(dict)
    for petition_id, row in stats.items():  # one grouped COUNT each, up to its own watermark
        per_country = (
            Signature.objects.filter(
                petition_id=petition_id, status=Signature.Status.VERIFIED, verified_at__lte=row.counted_until
            )
            .values("country")
            .annotate(n=Count("pk"))
            .values_list("country", "n")
        )
        for country, n in per_country:
            totals[petition_id] += n
            countries[petition_id][country or ""] = n
    drift = {}
    for petition_id, row in stats.items():
        counted = totals.get(petition_id, 0)
        if counted != row.signature_count:
            drift[petition_id] = counted - row.signature_count
            logger.warning(
                "Recount of petition %s: stored %s, counted %s (drift %+d); corrected",
                petition_id, row.signature_count, counted, drift[petition_id],
            )  # fmt: skip
            PetitionStats.objects.filter(petition_id=petition_id).update(signature_count=counted)
        PetitionStats.objects.filter(petition_id=petition_id).update(recounted_at=now)
        PetitionCountryCount.objects.filter(petition_id=petition_id).delete()
        PetitionCountryCount.objects.bulk_create(
            PetitionCountryCount(petition_id=petition_id, country=country, signature_count=n)
            for country, n in countries[petition_id].items()
        )
    # The insights' hourly and source rows are recounted with the totals (to their own watermark).
    insights.rebuild(stats)
    return {pk: totals.get(pk, 0) for pk in stats}, drift


def _recount_requested(petition_ids, now) -> dict:
    """Recount the petitions whose counted rows changed (``cms.fraud.request_recount``); {petition_id: total}.

    Runs inside a reconcile, after its incremental count, so each watermark is already this
    run's. A request made while this runs is newer than the one read here and stays for the next run.
    """
    requested = dict(
        PetitionStats.objects.filter(petition_id__in=petition_ids, recount_requested_at__isnull=False).values_list(
            "petition_id", "recount_requested_at"
        )
    )
    if not requested:
        return {}
    stats = {row.petition_id: row for row in PetitionStats.objects.filter(petition_id__in=requested)}
    totals, drift = _recount(stats, now)
    for petition_id, requested_at in requested.items():
        PetitionStats.objects.filter(petition_id=petition_id, recount_requested_at=requested_at).update(
            recount_requested_at=None
        )
    logger.info("Recounted petitions %s on request (drift %s)", sorted(requested), drift)
    return totals
