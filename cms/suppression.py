"""Update emails done right: the unsubscribe link and headers, and what the ESP reports back.

Every email to signers but the verification email carries a signed, long-lived link to
``unsubscribe/<token>/`` and the RFC 8058 headers that let a mailbox provider unsubscribe in one
click (``List-Unsubscribe`` and ``List-Unsubscribe-Post``). The token names the signature; the
signer chooses there between this petition (``opt_in_updates`` off) and every petition (all their
signatures, and a ``Suppression`` of the canonical address, so that later ones get no update either).

The ESP's tracking webhooks (anymail's ``tracking`` signal) report bounces, refusals and
complaints: the address's signatures are marked, the address is suppressed, and a complaint also
withdraws consent to updates. Every send checks the list (``cms.emails``, ``cms.deliveries``).
"""

import logging

from anymail.signals import EventType
from anymail.utils import get_anymail_setting
from django.db import transaction
from django.urls import reverse

from . import insights
from .addresses import normalize_email
from .conf import absolute_url, get_signature_model
from .models import Suppression
from .tokens import make_unsubscribe_token

logger = logging.getLogger("petitions")


class Scope:
    PETITION = "petition"
    ALL = "all"


def unsubscribe_url(signature, page=None) -> str:
    """The absolute URL of ``signature``'s unsubscribe page (the one-click POST goes there too).

    On ``SITE_URL``, or else on the root URL of ``page``'s site.
    """
    return absolute_url(reverse("petitions:unsubscribe", args=[make_unsubscribe_token(signature)]), page)


def unsubscribe_headers(url: str) -> dict:
    """RFC 2369 and RFC 8058 headers: a mailbox provider's "Unsubscribe" button POSTs to ``url``."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def unsubscribe(signature_id: int, scope: str) -> bool:
    """Stop updates to this signature's address: for its petition, or for every petition.

    Returns False if the signature no longer exists (erased). Running it twice changes nothing more.
    """
    Signature = get_signature_model()
    signature = Signature.objects.filter(pk=signature_id).only("pk", "email", "email_normalized").first()
    if signature is None:
        return False
    with transaction.atomic():
        if scope == Scope.ALL:
            address = signature.email_normalized or normalize_email(signature.email)
            Suppression.add(address, Suppression.Reason.UNSUBSCRIBED)
            Signature.objects.filter(email_normalized=address, opt_in_updates=True).update(opt_in_updates=False)
        else:
            Signature.objects.filter(pk=signature.pk, opt_in_updates=True).update(opt_in_updates=False)
    return True


# --- what the ESP reports ---------------------------------------------------------------

#: anymail's event types acted on, and the suppression each records.
SUPPRESSING_EVENTS = {
    EventType.BOUNCED: Suppression.Reason.BOUNCED,
    EventType.REJECTED: Suppression.Reason.REJECTED,
    EventType.COMPLAINED: Suppression.Reason.COMPLAINED,
    EventType.UNSUBSCRIBED: Suppression.Reason.UNSUBSCRIBED,
}


def _soft_bounce(event) -> bool:
    # Postmark reports a full mailbox as a "SoftBounce", which anymail maps to "bounced"; Postmark
    # itself keeps such an address active, and so do we. (Mailgun's temporary failures arrive as
    # anymail's "deferred", which is not acted on.)
    esp_event = event.esp_event if isinstance(event.esp_event, dict) else {}
    return esp_event.get("Type") == "SoftBounce"


def _unauthenticated(sender) -> bool:
    """True for a webhook whose only protection is basic auth, when no ``WEBHOOK_SECRET`` is set.

    anymail then accepts any POST with a warning; anyone could suppress any address, so we act on none.
    """
    if not getattr(sender, "warn_if_no_basic_auth", False):
        return False  # signed by the ESP (Mailgun, SES's SNS, ...): anymail has verified it
    return not get_anymail_setting("webhook_secret", default=None)


def _address_of(event) -> str | None:
    """The canonical address an event is about: its recipient, else the signature that was sent its message."""
    if event.recipient:
        return normalize_email(event.recipient)
    if event.message_id:
        Signature = get_signature_model()
        found = Signature.objects.filter(email_message_id=event.message_id[:255]).values_list(
            "email_normalized", flat=True
        )
        return found.first()
    return None


def record_tracking_event(sender, event, esp_name, **kwargs):
    """anymail ``tracking`` receiver: mark, suppress and (for a complaint) withdraw consent to updates.

    Every signature of the address is marked, not only the one the message was for: the
    inbox is one. Handling an event twice changes nothing more.
    """
    reason = SUPPRESSING_EVENTS.get(event.event_type)
    if reason is None or _soft_bounce(event):
        return
    if _unauthenticated(sender):
        logger.warning(
            "%s %s event ignored: set ANYMAIL['WEBHOOK_SECRET'] to accept this ESP's webhooks",
            esp_name,
            event.event_type,
        )
        return
    address = _address_of(event)
    if not address:
        logger.warning("%s %s event names no address we know; ignored", esp_name, event.event_type)
        return
    Signature = get_signature_model()
    with transaction.atomic():
        new = Suppression.add(address, reason, source=esp_name or "")
        signatures = Signature.objects.filter(email_normalized=address)
        if reason == Suppression.Reason.COMPLAINED:
            signatures.update(email_status=Signature.EmailStatus.COMPLAINED, opt_in_updates=False)
        elif reason == Suppression.Reason.UNSUBSCRIBED:
            signatures.filter(opt_in_updates=True).update(opt_in_updates=False)
        else:
            # A complaint is the stronger mark: a later bounce does not hide it.
            signatures.exclude(email_status=Signature.EmailStatus.COMPLAINED).update(
                email_status=Signature.EmailStatus.BOUNCED
            )
        if reason != Suppression.Reason.UNSUBSCRIBED:  # the insights' bounce and complaint counts
            insights.request_email_recount(set(signatures.values_list("petition_id", flat=True)))
    if new:
        logger.info("%s reported %s: address suppressed", esp_name, event.event_type)
