"""Flows that touch several models: signing, verifying, counting.

Page routes, views, the API and tasks call these; they hold the business rules.
"""

import enum
import logging
from collections import defaultdict
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from . import counters, milestones
from .conf import get_setting
from .tokens import InvalidToken, read_token

logger = logging.getLogger("petitions")

SIGNATURE_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "country",
    "postcode",
    "show_in_feed",
    "feed_name",
    "share_with_officials",
    "opt_in_updates",
)
# One lock id for every reconcile and recount, across all workers (pg_try_advisory_xact_lock).
RECONCILE_LOCK_ID = 0x7065746974  # "petit"


class SigningRefused(Exception):
    """The petition does not accept signatures now; the message says why."""


class VerifyResult(enum.Enum):
    VERIFIED = "verified"
    ALREADY = "already"
    INVALID = "invalid"


# --- signing ---------------------------------------------------------------------


def queue_verification_email(signature_id: int) -> None:
    """Hand a committed signature's email to the workers, cheaply.

    With Redis, the id goes on the outbox list and at most one drain task is
    woken per OUTBOX_NUDGE_MS, however many people sign: the sign request pays
    one Redis round trip, not a Celery publish. Anything lost here is found by
    the overdue sweeper, because the row itself records the owed email.
    """
    from workers import tasks

    try:
        store = counters.get_store()
        if isinstance(store, counters.RedisStore):
            if store.push_outbox(signature_id):
                tasks.drain_outbox.delay()
        else:
            tasks.send_verification_emails.delay([signature_id])
    except Exception:  # broker or Redis down: the row is committed, the sweeper will send
        logger.exception("Could not queue the verification email of signature %s", signature_id)


def _insert_signature(Signature, values) -> int | None:
    """Insert a signature; return its id, or None if this address already signed."""
    if connection.vendor == "postgresql":
        # One statement, no exception, no savepoint on the hot path.
        signature = Signature(**values)
        fields = [field for field in Signature._meta.concrete_fields if not field.primary_key]
        table = connection.ops.quote_name(Signature._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        sql = (
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "  # noqa: S608 (names from the model)
            "ON CONFLICT (petition_id, email_normalized) DO NOTHING RETURNING id"
        )
        params = [field.get_db_prep_save(field.pre_save(signature, True), connection) for field in fields]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return row[0] if row else None
    try:
        with transaction.atomic():  # a savepoint: a duplicate must not abort the caller's transaction
            return Signature.objects.create(**values).pk
    except IntegrityError:
        return None


def sign_petition(page, data: dict, *, source: str = "") -> int | None:
    """Store a pending signature, or find the one this address already made.

    Raises SigningRefused if the petition is closed, not yet open or not
    live. Returns the id of the signature owed an email, or None when none
    is owed (a verified signer, or a pending one emailed in the last
    RESEND_MIN_INTERVAL). Nothing already stored is overwritten. The email
    is queued only after the transaction commits.
    """
    from .models import normalize_email

    status = page.signing_status()
    if not status:
        raise SigningRefused(status.message)
    Signature = page.get_signature_class()
    now = timezone.now()
    values = {key: data[key] for key in SIGNATURE_FIELDS if data.get(key) not in (None, "")}
    values["email"] = values["email"].strip()
    values.update(
        petition_id=page.pk,
        email_normalized=normalize_email(values["email"]),
        source=source[:64],
        status=Signature.Status.PENDING,
        created_at=now,
        email_requested_at=now,
    )
    # Each statement below is its own short transaction (or part of the caller's):
    # a new signature costs one INSERT and no BEGIN/COMMIT round trips.
    signature_id = _insert_signature(Signature, values)
    if signature_id is None:
        signature_id = (
            Signature.objects.filter(
                Q(email_requested_at__isnull=True)
                | Q(email_requested_at__lt=now - timedelta(seconds=get_setting("RESEND_MIN_INTERVAL"))),
                petition_id=page.pk,
                email_normalized=values["email_normalized"],
                status=Signature.Status.PENDING,
            )
            .values_list("pk", flat=True)
            .first()
        )
        if signature_id is None:
            return None
        # Conditional, so two re-signs racing each other queue one email.
        if not Signature.objects.filter(pk=signature_id, email_requested_at__lt=now).update(email_requested_at=now):
            return None
    # After the caller's commit (at once in autocommit): a rolled-back sign queues nothing.
    transaction.on_commit(lambda: queue_verification_email(signature_id))
    return signature_id


# --- verifying -------------------------------------------------------------------


def verify_signature(page, token: str) -> VerifyResult:
    """Verify the signature a token names, once however often it is called."""
    try:
        signature_id = read_token(token, page.pk)
    except InvalidToken:
        return VerifyResult.INVALID
    Signature = page.get_signature_class()
    with transaction.atomic():
        # One conditional UPDATE: a second click, a scanner or a replay changes nothing.
        verified = Signature.objects.filter(pk=signature_id, petition_id=page.pk, status=Signature.Status.PENDING)
        if not verified.update(status=Signature.Status.VERIFIED, verified_at=timezone.now()):
            status = Signature.objects.filter(pk=signature_id, petition_id=page.pk).values_list("status", flat=True)
            return VerifyResult.ALREADY if status.first() == Signature.Status.VERIFIED else VerifyResult.INVALID
        signature = Signature.objects.only(
            "pk", "first_name", "last_name", "feed_name", "country", "show_in_feed", "hidden_from_feed", "verified_at"
        ).get(pk=signature_id)
        transaction.on_commit(lambda: _count_verification(page, signature))
    return VerifyResult.VERIFIED


def _count_verification(page, signature):
    try:
        counters.record_verification(page, signature)
    except Exception:  # Redis down: the next reconcile counts it from the database
        logger.exception("Could not record verification %s in the live counter", signature.pk)


# --- counting --------------------------------------------------------------------


def active_petition_ids(now=None) -> list:
    """Live petitions still open, or closed within the last day (late confirmations)."""
    from wagtail.models import get_page_models

    from .models import PetitionMixin

    now = now or timezone.now()
    ids = []
    for model in get_page_models():
        if issubclass(model, PetitionMixin) and not model._meta.abstract:
            ids += (
                model.objects.live()
                .filter(Q(closes_at__isnull=True) | Q(closes_at__gte=now - timedelta(days=1)))
                .values_list("pk", flat=True)
            )
    return ids


def _try_lock() -> bool:
    """Take the reconcile lock for this transaction; False if another run holds it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RECONCILE_LOCK_ID])
            return cursor.fetchone()[0]
    cache = counters.get_cache()
    if not cache.add(counters.RECONCILE_LOCK_KEY, 1, timeout=300):
        return False
    transaction.on_commit(lambda: cache.delete(counters.RECONCILE_LOCK_KEY))
    return True


def _verified_since_watermarks(petition_ids, until):
    """(petition_id, country, n) verified after each petition's watermark, up to ``until``.

    One grouped query. Each petition's range is spelled out with its own
    watermark as a parameter, so PostgreSQL scans only the new rows of the
    (petition, status, verified_at) index instead of every verified row.
    """
    from .models import PetitionStats, Signature

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
    from .models import PetitionCountryCount

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
    RECONCILE_LAG seconds ago, applies ``total = total + n`` and the country
    tallies, records milestones, then (after commit) sets the live values in
    Redis, rebuilding them if Redis was flushed.
    """
    from .models import PetitionStats

    now = now or timezone.now()
    until = now - timedelta(seconds=get_setting("RECONCILE_LAG"))
    with transaction.atomic():
        if not _try_lock():
            logger.info("Reconcile already running; skipped")
            return None
        petition_ids = list(active_petition_ids(now) if petition_ids is None else petition_ids)
        if not petition_ids:
            return {}
        PetitionStats.objects.bulk_create([PetitionStats(petition_id=pk) for pk in petition_ids], ignore_conflicts=True)
        rows = _verified_since_watermarks(petition_ids, until)
        added = defaultdict(int)
        for petition_id, _, n in rows:
            added[petition_id] += n
        # A row without a watermark has never been counted this way: start it from zero.
        before = {
            pk: count if counted_until else 0
            for pk, count, counted_until in PetitionStats.objects.filter(petition_id__in=petition_ids).values_list(
                "petition_id", "signature_count", "counted_until"
            )
        }
        for petition_id, n in added.items():
            # Absolute values are safe: every writer of these rows holds the lock.
            PetitionStats.objects.filter(petition_id=petition_id).update(signature_count=before[petition_id] + n)
        PetitionStats.objects.filter(petition_id__in=petition_ids).update(counted_until=until, reconciled_at=now)
        _add_country_counts(rows)
        totals = {pk: before.get(pk, 0) + added.get(pk, 0) for pk in petition_ids}
        goals = milestones.record(totals, before, now)
        transaction.on_commit(lambda: _publish_live_values(totals, goals, until))
    return totals


def _publish_live_values(totals, goals, until):
    from wagtail.models import Page

    store = counters.get_store()
    pages = {page.pk: page for page in Page.objects.filter(pk__in=totals).specific()}
    for petition_id, total in totals.items():
        feed = counters.feed_from_database(petition_id, pages.get(petition_id))
        store.apply_reconcile(petition_id, total, until, feed)
        page_goal = getattr(pages.get(petition_id), "goal", 0) or 0
        store.set_goal(petition_id, max(page_goal, goals.get(petition_id) or 0))


def full_recount(petition_ids=None, now=None) -> dict | None:
    """Recount every verified signature up to each watermark; correct and log drift.

    Run daily. Returns {petition_id: drift} for the petitions it corrected,
    or None if a reconcile holds the lock.
    """
    from .models import PetitionCountryCount, PetitionStats, Signature

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
        corrected = {pk: totals.get(pk, 0) for pk in drift}
        watermarks = {pk: stats[pk].counted_until for pk in drift}
        transaction.on_commit(
            lambda: [counters.get_store().apply_reconcile(pk, corrected[pk], watermarks[pk]) for pk in corrected]
        )
    return drift


# --- the outbox --------------------------------------------------------------------


def overdue_verification_email_ids(now=None, limit=1000) -> list:
    """Pending signatures whose owed email has not left in EMAIL_OVERDUE_AFTER seconds."""
    from .models import Signature

    now = now or timezone.now()
    oldest = now - timedelta(seconds=get_setting("VERIFY_TOKEN_MAX_AGE"))
    overdue = now - timedelta(seconds=get_setting("EMAIL_OVERDUE_AFTER"))
    return list(
        Signature.objects.filter(
            status=Signature.Status.PENDING,
            email_requested_at__gte=oldest,
            email_requested_at__lt=overdue,
        )
        .exclude(email_status=Signature.EmailStatus.REFUSED)
        .filter(Q(email_sent_at__isnull=True) | Q(email_sent_at__lt=F("email_requested_at")))
        .values_list("pk", flat=True)[:limit]
    )
