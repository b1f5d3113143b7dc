"""Delivering a petition to its officials: prepare, build files, send, retry, tell signers.

Admin views, milestone triggers and tasks call these. A delivery is
snapshotted when prepared (letter, total, breakdown, date range, and the
files built from signatures verified up to the snapshot's watermark) and
never changes once sent.
"""

import logging
import tempfile

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from anymail.message import AnymailMessage
from django.core.files import File
from django.db import transaction
from django.db.models import Max, Min
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.html import strip_tags
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from wagtail.rich_text import expand_db_html

from . import exports, reconcile, suppression
from .conf import get_signature_model
from .models import (
    Delivery,
    DeliveryRecipient,
    OfficialResponse,
    OfflineSignatureBatch,
    PetitionCountryCount,
    PetitionStats,
    Suppression,
    address_hash,
)
from .permissions import can_deliver
from .signals import delivery_sent
from .translations import page_language_active, translation_for

logger = logging.getLogger("petitions")

SIGNER_UPDATE_BATCH = 200
SUPPRESSED_ERROR = _(
    "Not sent: this address bounced, was refused or complained before, and is on the suppression list. "
    "Correct the official's address, or lift the suppression (manage.py petitions_suppression lift)."
)


class DeliveryError(Exception):
    """A delivery cannot be made as asked; the message says why."""


def letter_of(page):
    """The page's first letter block value, or None."""
    for block in getattr(page, "body", None) or []:
        if block.block_type == "letter":
            return block.value
    return None


def html_to_text(html):
    text = html.replace("</p>", "\n\n").replace("<br/>", "\n").replace("<br>", "\n").replace("</li>", "\n")
    return "\n".join(line.strip() for line in strip_tags(text).splitlines()).strip()


def snapshot(page, recount=True):
    """Totals as of the latest reconcile: (counted_until, online total, breakdown, first, last).

    Of the whole petition, whichever translation ``page`` is: they share one count (``cms.translations``).
    The paper signatures are snapshotted apart (:func:`paper_snapshot`).
    """
    Signature = get_signature_model()
    if recount:
        reconcile.reconcile_counts([page.canonical_id])  # count up to a moment ago (skipped if one is running)
    stats = PetitionStats.objects.filter(petition_id=page.canonical_id).first()
    if stats is None or stats.counted_until is None:
        raise DeliveryError(gettext("This petition has not been counted yet; try again in a minute."))
    breakdown = dict(
        PetitionCountryCount.objects.filter(petition_id=page.canonical_id, signature_count__gt=0).values_list(
            "country", "signature_count"
        )
    )
    dates = Signature.objects.filter(
        petition_id=page.canonical_id, status=Signature.Status.VERIFIED, verified_at__lte=stats.counted_until
    ).aggregate(first=Min("verified_at"), last=Max("verified_at"))
    return stats.counted_until, stats.signature_count, breakdown, dates["first"], dates["last"]


def paper_snapshot(petition_id):
    """(paper total, [batch provenance]) of the standing paper batches, oldest collection first."""
    batches = [
        {"count": count, "collected_at": collected_at.isoformat(), "collected_where": where}
        for count, collected_at, where in OfflineSignatureBatch.objects.standing()
        .filter(petition_id=petition_id)
        .order_by("collected_at", "pk")
        .values_list("count", "collected_at", "collected_where")
    ]
    return sum(batch["count"] for batch in batches), batches


@transaction.atomic
def prepare_delivery(page, officials, *, user=None, include_list=True, trigger="manual", milestone=None, recount=True):
    """Snapshot a delivery of ``page`` to ``officials`` and start building its files.

    ``recount=False`` takes the totals as they stand (the reconcile itself calls
    this, at a milestone, holding the lock).
    """
    officials = list(officials)
    if not officials:
        raise DeliveryError(gettext("Choose at least one official to deliver to."))
    addresses = [(official, email) for official in officials for email in official.delivery_emails]
    if not addresses:
        raise DeliveryError(gettext("None of the chosen officials has an email address."))
    letter = letter_of(page)
    if letter is None:
        raise DeliveryError(gettext("This petition has no letter to deliver."))
    counted_until, total, breakdown, first, last = snapshot(page, recount)
    # The total delivered is the public one: verified online signatures plus those on paper.
    offline_total, offline_batches = paper_snapshot(page.canonical_id)
    total += offline_total
    letter_html = expand_db_html(letter["body"].source)
    delivery = Delivery.objects.create(
        petition_id=page.canonical_id,
        trigger=trigger,
        milestone=milestone,
        created_by=user,
        subject=ngettext(
            "Petition: %(petition)s (%(count)s signature)", "Petition: %(petition)s (%(count)s signatures)", total
        )
        % {"petition": page.title, "count": number_format(total, force_grouping=True)},
        salutation=letter.salutation(),
        letter_html=letter_html,
        letter_text=html_to_text(letter_html),
        sign_off=letter.get("sign_off") or "",
        signatories=letter.get("signatories") or "",
        counted_until=counted_until,
        total=total,
        offline_total=offline_total,
        offline_batches=offline_batches,
        breakdown=breakdown,
        first_signed_at=first,
        last_signed_at=last,
        include_list=include_list,
        rows_total=exports.consenting_signers(page.canonical_id, counted_until).count() if include_list else 0,
        status=Delivery.Status.PREPARING if include_list else Delivery.Status.READY,
    )
    delivery.officials.set(officials)
    seen = set()
    for official, email in addresses:
        if email.lower() not in seen:
            seen.add(email.lower())
            DeliveryRecipient.objects.create(delivery=delivery, official=official, name=str(official), email=email)
    if include_list:
        from workers.tasks import build_delivery_files

        transaction.on_commit(lambda: build_delivery_files.delay(delivery.pk))
    return delivery


def build_files(delivery_id) -> bool:
    """Write the CSV and PDF of a preparing delivery; safe to run twice, and twice at once."""
    delivery = Delivery.objects.select_related(None).filter(pk=delivery_id).first()
    if delivery is None or delivery.status != Delivery.Status.PREPARING:
        return False
    page = delivery.petition.specific
    with_postcode = getattr(page, "ask_postcode", False)

    def progress(done, share):
        Delivery.objects.filter(pk=delivery_id).update(rows_done=min(delivery.rows_total, done // 2 + share))

    slug = page.slug[:40]
    with tempfile.TemporaryFile() as csv_file, tempfile.TemporaryFile() as pdf_file:
        rows = exports.write_csv(csv_file, delivery, with_postcode, progress=lambda n: progress(n, 0))
        exports.write_pdf(
            pdf_file,
            delivery,
            page.title,
            with_postcode,
            progress=lambda n: progress(n, delivery.rows_total // 2),
            identity=page.get_identity(),
        )
        csv_file.seek(0)
        pdf_file.seek(0)
        delivery.csv_file.save(f"{slug}-signatures.csv", File(csv_file), save=False)
        delivery.pdf_file.save(f"{slug}-signatures.pdf", File(pdf_file), save=False)
    delivery.rows_total = delivery.rows_done = rows
    delivery.status = Delivery.Status.READY
    # Conditional: a duplicate task building the same delivery at once may have finished first. The
    # loser deletes its own copies, which no record would point at and no retention job would find.
    built = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PREPARING).update(
        csv_file=delivery.csv_file.name,
        pdf_file=delivery.pdf_file.name,
        rows_total=rows,
        rows_done=rows,
        status=Delivery.Status.READY,
    )
    if not built:
        delivery.csv_file.delete(save=False)
        delivery.pdf_file.delete(save=False)
        return False
    if sends_itself(delivery):
        start_sending(delivery)
    return True


def sends_itself(delivery) -> bool:
    """Whether a delivery is sent as soon as its files are built, with no lead pressing Send.

    Only automatic (milestone) deliveries prepared under a campaign lead's
    decision do: the page's ``delivery_settings_by``, recorded as the
    delivery's ``created_by``, who still has the deliver permission and a
    grant on the petition's campaign. Any
    other automatic delivery waits at READY in the admin's Deliveries list.
    """
    return delivery.trigger != Delivery.Trigger.MANUAL and can_deliver(delivery.created_by, delivery.petition)


def render(delivery, recipient=None):
    """(subject, text, html) exactly as an official receives it (the admin preview uses this too)."""
    breakdown = sorted(
        ((countries.name(code) or gettext("Not given"), n) for code, n in delivery.breakdown.items()),
        key=lambda row: -row[1],
    )
    context = {
        "delivery": delivery,
        "recipient": recipient,
        "petition": delivery.petition.specific,
        "breakdown": breakdown,
        "paper_batches": delivery.paper_batches(),
    }
    text = render_to_string("petitions/email/delivery.txt", context)
    html = render_to_string("petitions/email/delivery.html", context)
    return delivery.subject, text, html


def build_message(delivery, recipient):
    subject, text, html = render(delivery, recipient)
    identity = delivery.petition.specific.get_identity()
    message = AnymailMessage(
        subject=subject,
        body=text,
        from_email=identity.from_header(),
        reply_to=identity.reply_to_list(),
        to=[recipient.email],
        tags=["petition-delivery"],
        metadata={
            "petition_id": str(delivery.petition_id),
            "delivery_id": str(delivery.pk),
            "official_id": str(recipient.official_id or ""),
        },
    )
    message.attach_alternative(html, "text/html")
    if delivery.include_list:
        for field, mimetype in ((delivery.csv_file, "text/csv"), (delivery.pdf_file, "application/pdf")):
            with field.open("rb") as attachment:
                message.attach(field.name.rsplit("/", 1)[-1], attachment.read(), mimetype)
    return message


def start_sending(delivery):
    """Queue the send of a ready (or partly failed) delivery."""
    from workers.tasks import send_delivery

    if delivery.files_deleted_at:
        raise DeliveryError(
            gettext(
                "The signature files were deleted under the retention policy; prepare a new delivery to send again."
            )
        )
    if not delivery.files_ready:
        raise DeliveryError(gettext("The signature files are still being built."))
    updated = Delivery.objects.filter(
        pk=delivery.pk, status__in=[Delivery.Status.READY, Delivery.Status.PARTIAL]
    ).update(status=Delivery.Status.SENDING)
    if not updated:
        raise DeliveryError(gettext("This delivery has already been sent."))
    transaction.on_commit(lambda: send_delivery.delay(delivery.pk))


def retry_failed(delivery):
    """Send again to the recipients whose copy failed; those who got it get nothing."""
    with transaction.atomic():
        failed = delivery.recipients.exclude(status__in=DeliveryRecipient.OK_STATUSES).exclude(
            status=DeliveryRecipient.Status.PENDING
        )
        if not failed.update(status=DeliveryRecipient.Status.PENDING, error=""):
            raise DeliveryError(gettext("No recipient needs a retry."))
        start_sending(delivery)


def send(delivery_id) -> dict:
    """Send one message per pending recipient and store what the ESP said; safe to run twice.

    When the last recipient is done, ``delivery_sent`` is sent after commit (the
    plugin's receiver then tells the opted-in signers).
    """
    delivery = Delivery.objects.get(pk=delivery_id)
    outcomes = {}
    with transaction.atomic():
        recipients = DeliveryRecipient.objects.select_for_update(skip_locked=True).filter(
            delivery=delivery, status=DeliveryRecipient.Status.PENDING
        )
        recipients = list(recipients)
        suppressed = Suppression.hashes_among([r.email for r in recipients], Suppression.UNDELIVERABLE)
        for recipient in recipients:
            recipient.attempts += 1
            if suppressed and address_hash(recipient.email) in suppressed:
                # Never mailed again (cms.suppression); the lead sees why, and may lift it (README).
                recipient.status = DeliveryRecipient.Status.REJECTED
                recipient.error = str(SUPPRESSED_ERROR)  # stored as worded in the worker's language
                recipient.save(update_fields=["status", "error", "attempts"])
                outcomes[recipient.email] = recipient.status
                continue
            message = build_message(delivery, recipient)
            try:
                message.send()
            except AnymailRecipientsRefused as exc:
                status = message.anymail_status.recipients.get(recipient.email)
                recipient.status = status.status if status else DeliveryRecipient.Status.REJECTED
                recipient.error = str(exc)[:2000]
            except AnymailAPIError as exc:
                recipient.status = DeliveryRecipient.Status.FAILED
                recipient.error = str(exc)[:2000]
            else:
                status = message.anymail_status.recipients.get(recipient.email)
                recipient.status = (status.status if status else None) or DeliveryRecipient.Status.UNKNOWN
                recipient.message_id = str(status.message_id if status else "")[:255]
                recipient.sent_at = timezone.now()
            recipient.save(update_fields=["status", "error", "message_id", "sent_at", "attempts"])
            outcomes[recipient.email] = recipient.status
        everyone = list(delivery.recipients.values_list("status", flat=True))
        pending = DeliveryRecipient.Status.PENDING
        if pending not in everyone:
            ok = all(status in DeliveryRecipient.OK_STATUSES for status in everyone)
            status = Delivery.Status.SENT if ok else Delivery.Status.PARTIAL
            # Conditional on the row, not on ``delivery`` as read before: a duplicate task that read it
            # while the first was sending must not announce it a second time.
            first_send = Delivery.objects.filter(pk=delivery.pk, sent_at__isnull=True).update(
                status=status, sent_at=timezone.now()
            )
            if first_send:
                transaction.on_commit(lambda: _sent(delivery.pk))
            else:
                Delivery.objects.filter(pk=delivery.pk).update(status=status)
    return outcomes


def _sent(delivery_id):
    delivery_sent.send(Delivery, delivery=Delivery.objects.get(pk=delivery_id))


# --- telling opted-in signers ---------------------------------------------------------


def _update_target(kind, object_id):
    model = {"delivery": Delivery, "response": OfficialResponse}[kind]
    return model.objects.select_for_update().filter(pk=object_id).first()


def send_signer_updates(kind, object_id) -> int | None:
    """Email the next batch of opted-in verified signers about a delivery or a response.

    Returns how many were emailed, or None when all have been. A cursor on
    the row (the last signature id done) makes a rerun skip whoever has been
    emailed already.
    """
    Signature = get_signature_model()
    with transaction.atomic():
        target = _update_target(kind, object_id)
        if target is None or target.signer_updates_done:
            return None
        if kind == "response" and not target.signer_updates_requested:
            return None
        petition = target.petition.specific
        pages = {}  # the petition in each signer's language (cms.translations): its title and links
        batch = list(
            Signature.objects.filter(
                petition_id=target.petition_id,
                status=Signature.Status.VERIFIED,
                opt_in_updates=True,
                pk__gt=target.signer_updates_after,
            )
            .order_by("pk")
            .only("pk", "first_name", "email", "email_normalized", "language")[:SIGNER_UPDATE_BATCH]
        )
        if not batch:
            target.signer_updates_done = True
            target.save(update_fields=["signer_updates_done"])
            return None
        # Any suppression stops updates: bounced, refused, complained of, or unsubscribed from all.
        suppressed = Suppression.hashes_among(signature.email_normalized or signature.email for signature in batch)
        sent, error = 0, None
        for signature in batch:
            if address_hash(signature.email_normalized or signature.email) in suppressed:
                target.signer_updates_after = signature.pk
                continue
            language = signature.get_language()
            page = pages.get(language)
            if page is None:
                page = pages[language] = translation_for(petition, language)
            identity = page.get_identity()  # memoised on the page: one lookup per language per batch
            unsubscribe = suppression.unsubscribe_url(signature, page)
            context = {
                "page": page,
                "kind": kind,
                "item": target,
                "first_name": signature.first_name,
                "url": page.full_url,
                "unsubscribe_url": unsubscribe,
            }
            with page_language_active(page):
                subject = (
                    gettext("“%(petition)s” was delivered")
                    if kind == "delivery"
                    else gettext("A response to “%(petition)s”")
                ) % {"petition": page.title}
                body = render_to_string("petitions/email/signer_update.txt", context)
            message = AnymailMessage(
                subject=subject,
                body=body,
                from_email=identity.from_header(),
                reply_to=identity.reply_to_list(),
                to=[signature.email],
                headers=suppression.unsubscribe_headers(unsubscribe),
                tags=[f"petition-{kind}-update"],
                metadata={
                    "petition_id": str(petition.pk),
                    f"{kind}_id": str(target.pk),
                    "signature_id": str(signature.pk),
                },
            )
            try:
                message.send()
                sent += 1
            except AnymailRecipientsRefused:
                pass  # a dead address stays dead: move on
            except AnymailAPIError as exc:  # the ESP is in trouble: keep our place and retry later
                error = exc
                break
            target.signer_updates_after = signature.pk
        # Whoever was emailed stays recorded as emailed, even if the ESP failed half way.
        target.signer_updates_sent += sent
        target.save(update_fields=["signer_updates_after", "signer_updates_sent"])
    if error is not None:
        raise error
    return sent
