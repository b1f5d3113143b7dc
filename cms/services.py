"""Flows that touch several models: signing, verifying, counting.

Page routes, the API and tasks call these; they hold the business rules.
"""

import enum
import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Now
from django.utils import timezone

from . import counters
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
    "share_with_officials",
    "opt_in_updates",
)


class SigningRefused(Exception):
    """The petition does not accept signatures now; the message says why."""


class VerifyResult(enum.Enum):
    VERIFIED = "verified"
    ALREADY = "already"
    INVALID = "invalid"


def _enqueue_verification_email(signature_id: int) -> None:
    from workers.tasks import send_verification_email

    try:
        send_verification_email.delay(signature_id)
    except Exception:  # broker down: the row is committed, the outbox sweeper will send
        logger.exception("Could not enqueue the verification email of signature %s", signature_id)


def sign_petition(page, data: dict, *, source: str = ""):
    """Store a pending signature, or find the one this address already made.

    Raises SigningRefused if the petition is closed, not yet open or not
    live. Returns the signature. Its verification email is enqueued only after the
    transaction commits, and only if one is owed: a new signature, or a
    pending one whose last email is older than RESEND_MIN_INTERVAL.
    """
    from .models import normalize_email

    status = page.signing_status()
    if not status:
        raise SigningRefused(status.message)
    Signature = page.get_signature_class()
    fields = {key: data[key] for key in SIGNATURE_FIELDS if data.get(key) not in (None, "")}
    fields["email"] = fields["email"].strip()
    normalized = normalize_email(fields["email"])
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: a duplicate must not abort the caller's transaction
                signature = Signature.objects.create(
                    petition_id=page.pk,
                    email_normalized=normalized,
                    source=source[:64],
                    email_requested_at=now,
                    **fields,
                )
        except IntegrityError:
            signature = Signature.objects.get(petition_id=page.pk, email_normalized=normalized)
            # Nothing already stored is overwritten; at most the email is sent again.
            owed = (
                Signature.objects.filter(pk=signature.pk, status=Signature.Status.PENDING)
                .filter(
                    Q(email_requested_at__isnull=True)
                    | Q(email_requested_at__lt=now - timedelta(seconds=get_setting("RESEND_MIN_INTERVAL")))
                )
                .update(email_requested_at=now)
            )
            if not owed:
                return signature
        transaction.on_commit(lambda: _enqueue_verification_email(signature.pk))
    return signature


def verify_signature(page, token: str) -> VerifyResult:
    """Verify the signature a token names, once however often it is called."""
    try:
        signature_id = read_token(token, page.pk)
    except InvalidToken:
        return VerifyResult.INVALID
    Signature = page.get_signature_class()
    signature = Signature.objects.filter(pk=signature_id, petition_id=page.pk).first()
    if signature is None:
        return VerifyResult.INVALID
    with transaction.atomic():
        if not signature.verify():
            return VerifyResult.ALREADY if signature.status == Signature.Status.VERIFIED else VerifyResult.INVALID
        transaction.on_commit(lambda: counters.record_verification(page.pk, signature_id))
    logger.info("Signature %s on petition %s verified", signature_id, page.pk)
    return VerifyResult.VERIFIED


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


def reconcile_counts(petition_ids=None) -> dict:
    """Recount verified signatures per petition and correct the stored and cached totals.

    One grouped query for all petitions. Callers run one copy at a time
    (see ``workers.tasks.reconcile_counts``).
    """
    from .models import PetitionStats, Signature

    petition_ids = list(active_petition_ids() if petition_ids is None else petition_ids)
    counts = dict.fromkeys(petition_ids, 0)
    counts.update(
        Signature.objects.filter(petition_id__in=petition_ids, status=Signature.Status.VERIFIED)
        .values("petition_id")
        .annotate(n=Count("pk"))
        .values_list("petition_id", "n")
    )
    for petition_id, count in counts.items():
        PetitionStats.objects.update_or_create(
            petition_id=petition_id, defaults={"signature_count": count, "reconciled_at": Now()}
        )
        counters.store_reconciled(petition_id, count)
    return counts


def overdue_verification_email_ids(now=None) -> list:
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
        .values_list("pk", flat=True)[:1000]
    )
