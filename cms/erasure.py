"""Erasure: a signer's withdrawal, and a campaign lead's access and erasure requests (issue 10, items 2, 3).

``erase_signatures`` is the one way a signature's personal data goes: the row is deleted (so the
address may sign again later), each erasure is logged in ``ErasureLog`` with a keyed hash of the
canonical address and never the address, the petitions are recounted by the next reconcile
(``cms.fraud.request_recount``), and their cached feeds are rebuilt as soon as it commits.
A delivery already sent keeps its snapshot (total, breakdown, files): it is history, and what
officials received cannot be recalled.

Leads find an address's signatures (``signatures_of``) within the petitions they may erase
(``cms.permissions.erasable_petitions``), export them (``export``) and erase them.
Retention (anonymising rows after a petition closes, keeping counts) is another flow.
"""

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from wagtail.models import Page

from .addresses import normalize_email
from .conf import get_signature_model
from .fraud import request_recount
from .models import ErasureLog, PetitionMixin, PetitionStats

logger = logging.getLogger("petitions")

HASH_SALT = "petitions.erasure-log"


def keyed_address_hash(address: str) -> str:
    """A keyed hash of an address's canonical form: the same for ``Ada@x.org`` and ``ada@x.org``.

    Keyed with the site's secret (unlike ``cms.addresses.address_hash``), so a log entry cannot
    be matched to an address by hashing guesses.
    """
    return salted_hmac(HASH_SALT, normalize_email(address), algorithm="sha256").hexdigest()


def erase_signatures(signature_ids, *, reason, actor=None) -> int:
    """Erase these signatures (any status); return how many this call erased.

    Idempotent: an id already erased is gone, so a second call erases and logs nothing more.
    The rows are locked first, so two erasures of one signature racing each other log it once.
    """
    Signature = get_signature_model()
    with transaction.atomic():
        rows = list(
            Signature.objects.select_for_update()
            .filter(pk__in=list(signature_ids))
            .order_by("pk")
            .values_list("pk", "petition_id", "email_normalized", "email")
        )
        if not rows:
            return 0
        now = timezone.now()
        ErasureLog.objects.bulk_create(
            ErasureLog(
                address_hash=keyed_address_hash(canonical or email),
                petition_id=petition_id,
                signature_id=pk,
                reason=reason,
                actor=actor,
                erased_at=now,
            )
            for pk, petition_id, canonical, email in rows
        )
        Signature.objects.filter(pk__in=[row[0] for row in rows]).delete()
        petition_ids = {row[1] for row in rows}
        # A petition never reconciled yet gets its stats row, so that the recount request holds
        # (a closed one is reconciled only on request).
        PetitionStats.objects.bulk_create([PetitionStats(petition_id=pk) for pk in petition_ids], ignore_conflicts=True)
        request_recount(petition_ids)
        transaction.on_commit(lambda: refresh_feeds(petition_ids))
    logger.info("Erased %s signatures (%s)", len(rows), reason)
    return len(rows)


def refresh_feeds(petition_ids):
    for page in Page.objects.filter(pk__in=list(petition_ids)).specific():
        if isinstance(page, PetitionMixin):
            try:
                page.refresh_feed()
            except Exception:  # the store is down: the next reconcile rebuilds the feed
                logger.warning("Feed of petition %s not refreshed after an erasure", page.pk)


# --- leads: access and erasure ------------------------------------------------------------


def signatures_of(address: str, petitions):
    """Every signature of ``address`` (in its canonical form) on these petition pages."""
    Signature = get_signature_model()
    return Signature.objects.filter(email_normalized=normalize_email(address), petition__in=petitions).order_by(
        "created_at", "pk"
    )


def export(signatures) -> dict:
    """What we hold of these signatures, for the signer: every stored field, and the wording they were given."""
    rows = []
    pages = {}
    for signature in signatures:
        row = {}
        for field in signature._meta.concrete_fields:
            value = getattr(signature, field.attname)
            row[field.attname] = getattr(value, "code", value)  # a Country: its code
        row["id"] = signature.pk
        page = pages.get(signature.petition_id)
        if page is None:
            page = pages[signature.petition_id] = Page.objects.get(pk=signature.petition_id).specific
        row["petition_title"] = page.title
        row["consent_wording"] = getattr(page, "consent_wording", "")
        rows.append(row)
    return {"exported_at": timezone.now(), "signatures": rows}
