"""Verification emails: built from the page's wording, sent through anymail."""

import logging
import re
from urllib.parse import urlencode

from anymail.exceptions import AnymailInvalidAddress, AnymailRecipientsRefused
from anymail.message import AnymailMessage
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from .conf import get_setting
from .tokens import make_token

logger = logging.getLogger("petitions")

PLACEHOLDER = re.compile(r"\{(first_name|petition|link)\}")
# anymail recipient statuses after which the ESP will never deliver.
REFUSED_STATUSES = {"rejected", "invalid", "failed"}


def fill(template: str, values: dict) -> str:
    """Replace the known placeholders only: editor text is not a format string."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def confirm_url(page, signature) -> str:
    path = page.reverse_subpage("confirm") + "?" + urlencode({"token": make_token(signature)})
    base = get_setting("SITE_URL")
    if base:
        _, _, page_path = page.get_url_parts()
        return base.rstrip("/") + page_path + path
    return page.get_full_url() + path


def html_paragraphs(template: str, values: dict) -> list:
    """The body as paragraphs of text and link segments; the template escapes the text."""
    paragraphs = []
    for paragraph in re.split(r"\n\s*\n", template.strip()):
        segments = []
        for i, part in enumerate(paragraph.split("{link}")):
            if i:
                segments.append({"link": values["link"]})
            if part:
                segments.append({"text": fill(part, values)})
        paragraphs.append(segments)
    return paragraphs


def build_verification_message(page, signature) -> AnymailMessage:
    values = {"first_name": signature.first_name, "petition": page.title, "link": confirm_url(page, signature)}
    message = AnymailMessage(
        # One line: nothing a signer types can add a header.
        subject=" ".join(fill(page.verification_email_subject, values).split()),
        body=fill(page.verification_email_body, values),
        from_email=get_setting("FROM_EMAIL") or settings.DEFAULT_FROM_EMAIL,
        to=[signature.email],
        tags=list(get_setting("VERIFICATION_EMAIL_TAGS")),
        metadata={"petition_id": str(page.pk), "signature_id": str(signature.pk)},
    )
    html = render_to_string(
        "petitions/email/verify_signature.html",
        {"page": page, "paragraphs": html_paragraphs(page.verification_email_body, values)},
    )
    message.attach_alternative(html, "text/html")
    return message


def send_verification_email(signature_id: int) -> bool:
    """Send the email a signature is owed; True if one was sent.

    Safe to run twice: the row is locked while sending and the send is
    recorded, so a duplicate task finds nothing owed. Temporary ESP errors
    propagate for the caller to retry; a refused address is recorded and
    never retried.
    """
    from .models import Signature

    with transaction.atomic():
        signature = (
            Signature.objects.select_for_update(skip_locked=True)
            .filter(pk=signature_id, status=Signature.Status.PENDING)
            .first()
        )
        if signature is None:  # verified, gone, or being sent by another worker
            return False
        if signature.email_status == Signature.EmailStatus.REFUSED:
            return False
        if signature.email_sent_at and (
            signature.email_requested_at is None or signature.email_sent_at >= signature.email_requested_at
        ):
            return False
        page = signature.petition.specific
        message = build_verification_message(page, signature)
        try:
            message.send()
        except (AnymailRecipientsRefused, AnymailInvalidAddress) as exc:
            logger.warning("Verification email for signature %s refused: %s", signature_id, exc)
            signature.email_status = Signature.EmailStatus.REFUSED
        else:
            statuses = message.anymail_status.status or set()
            signature.email_status = (
                Signature.EmailStatus.REFUSED
                if statuses and statuses <= REFUSED_STATUSES
                else Signature.EmailStatus.SENT
            )
            signature.email_message_id = str(message.anymail_status.message_id or "")[:255]
        signature.email_sent_at = timezone.now()
        signature.save(update_fields=["email_status", "email_message_id", "email_sent_at"])
    return signature.email_status == Signature.EmailStatus.SENT
