"""Signing and verifying: the two writes a signer makes, and the outbox of owed emails.

A sign is one autocommit INSERT; a verification one conditional UPDATE.
Neither touches a shared row: after commit, the email goes on the outbox
(``queue_verification_email``) and the verification into the live counter
(``record_verification``); the reconcile task (``cms.reconcile``) makes the
stored totals from the rows. The page's routes, the JSON API and the tasks
call these; they take the page object and never import models.
"""

import enum
import logging
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from . import quarantine
from .addresses import normalize_email
from .conf import get_setting, get_signature_model
from .signals import signature_signed, signature_verified
from .store import get_store
from .tokens import InvalidToken, read_token

logger = logging.getLogger("petitions")


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
        store = get_store()
        if store.has_outbox:
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


def sign_petition(page, data: dict, *, source: str = "", ip: str | None = None) -> int | None:
    """Store a pending signature, or find the one this address already made.

    Raises SigningRefused if the petition is closed, not yet open or not
    live. Returns the id of the signature owed an email, or None when none
    is owed (a verified signer, or a pending one emailed in the last
    RESEND_MIN_INTERVAL). Nothing already stored is overwritten. The email
    is queued only after the transaction commits. ``ip`` is the client
    address (``cms.ratelimit.client_address``), kept for the fraud tools.
    """
    status = page.signing_status()
    if not status:
        raise SigningRefused(status.message)
    Signature = get_signature_model()
    now = timezone.now()
    # Only what a signer may set: never the status, times, or a lead's choices.
    values = {key: data[key] for key in Signature.SIGNER_FIELDS if data.get(key) not in (None, "")}
    values["email"] = values["email"].strip()
    values.update(
        petition_id=page.pk,
        email_normalized=normalize_email(values["email"]),
        source=source[:64],
        status=Signature.Status.PENDING,
        created_at=now,
        email_requested_at=now,
        ip_address=quarantine.clean_client_address(ip),
    )
    # Each statement below is its own short transaction (or part of the caller's):
    # a new signature costs one INSERT and no BEGIN/COMMIT round trips.
    signature_id = _insert_signature(Signature, values)
    created = signature_id is not None
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
        still_owed = Q(email_requested_at__isnull=True) | Q(email_requested_at__lt=now)
        if not Signature.objects.filter(still_owed, pk=signature_id).update(email_requested_at=now):
            return None
    # After the caller's commit (at once in autocommit): a rolled-back sign queues nothing.
    transaction.on_commit(lambda: _signed(Signature, signature_id, page.pk, created))
    return signature_id


def _signed(Signature, signature_id, petition_id, created):
    queue_verification_email(signature_id)
    signature_signed.send(Signature, signature_id=signature_id, petition_id=petition_id, created=created)


# --- verifying -------------------------------------------------------------------


def verify_signature(page, token: str) -> VerifyResult:
    """Verify the signature a token names, once however often it is called.

    A signature a fraud rule flags (``cms.fraud``) is QUARANTINED instead: the
    signer gets the same answers (VERIFIED, then ALREADY), but it is neither
    counted nor announced until a lead releases it.
    """
    try:
        signature_id = read_token(token, page.pk)
    except InvalidToken:
        return VerifyResult.INVALID
    Signature = get_signature_model()
    with transaction.atomic():
        pending = Signature.objects.filter(pk=signature_id, petition_id=page.pk, status=Signature.Status.PENDING)
        status = Signature.Status.VERIFIED
        rules = quarantine.load_rules()  # cached; with no rules, no query more
        if rules:
            row = pending.values_list("email_normalized", "ip_address").first()
            if row is not None and quarantine.is_flagged(rules, *row):
                status = Signature.Status.QUARANTINED
        # One conditional UPDATE: a second click, a scanner or a replay changes nothing.
        if not pending.update(status=status, verified_at=timezone.now()):
            status = Signature.objects.filter(pk=signature_id, petition_id=page.pk).values_list("status", flat=True)
            confirmed = (Signature.Status.VERIFIED, Signature.Status.QUARANTINED)
            return VerifyResult.ALREADY if status.first() in confirmed else VerifyResult.INVALID
        if status == Signature.Status.QUARANTINED:
            return VerifyResult.VERIFIED  # what the signer sees; nothing counts it
        signature = Signature.objects.only(*Signature.FEED_FIELDS).get(pk=signature_id)
        transaction.on_commit(lambda: _verified(page, signature))
    return VerifyResult.VERIFIED


def record_verification(page, signature) -> bool:
    """Count one new verification in the live store, once however often it is called (after commit)."""
    return get_store().record_verification(page.pk, signature.pk, signature.verified_at, signature.feed_entry(page))


def _verified(page, signature):
    try:
        record_verification(page, signature)
    except Exception:  # Redis down: the next reconcile counts it from the database
        logger.exception("Could not record verification %s in the live counter", signature.pk)
    signature_verified.send(type(signature), signature_id=signature.pk, petition_id=page.pk, page=page)


# --- the outbox --------------------------------------------------------------------


def overdue_verification_email_ids(now=None, limit=1000) -> list:
    """Pending signatures whose owed email has not left in EMAIL_OVERDUE_AFTER seconds."""
    Signature = get_signature_model()
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
