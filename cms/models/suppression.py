"""The addresses no petition email goes to again: bounced, refused, complained of, unsubscribed.

Keyed by a hash of the canonical address (``cms.addresses.normalize_email``), never the address:
the list outlives the signatures it came from (an erased or anonymised signer stays suppressed),
and nothing here says who signed what. The flows that fill and read it are ``cms.suppression``.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..addresses import address_hash


class Suppression(models.Model):
    """One reason never to mail an address again; an address may have several."""

    class Reason(models.TextChoices):
        BOUNCED = "bounced", _("Bounced")
        REJECTED = "rejected", _("Rejected by the ESP")
        COMPLAINED = "complained", _("Complained (marked as spam)")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed from all petitions")

    #: The reasons that stop every email, the verification email included. An address that only
    #: unsubscribed from updates still gets the verification email of a petition it signs later:
    #: the signer asked for that one.
    UNDELIVERABLE = (Reason.BOUNCED, Reason.REJECTED, Reason.COMPLAINED)

    address_hash = models.CharField(max_length=64, editable=False, verbose_name=_("address hash"))
    reason = models.CharField(max_length=16, choices=Reason.choices, verbose_name=_("reason"))
    # The ESP that reported it ("Postmark", "Mailgun"), or "" for the signer's own unsubscribe.
    source = models.CharField(max_length=32, blank=True, verbose_name=_("source"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["address_hash", "reason"], name="petitions_suppression_once")]

    def __str__(self):
        return f"{self.get_reason_display()} since {self.created_at:%Y-%m-%d}"

    @classmethod
    def add(cls, email: str, reason: str, source: str = "") -> bool:
        """Suppress ``email`` for ``reason``; True if that is new (a second call changes nothing)."""
        _, created = cls.objects.get_or_create(
            address_hash=address_hash(email), reason=reason, defaults={"source": source[:32]}
        )
        return created

    @classmethod
    def hashes_among(cls, emails, reasons=None) -> set:
        """The hashes of those of ``emails`` that are suppressed (for one of ``reasons``; None: any)."""
        keys = {address_hash(email) for email in emails}
        if not keys:
            return set()
        rows = cls.objects.filter(address_hash__in=keys)
        if reasons is not None:
            rows = rows.filter(reason__in=list(reasons))
        return set(rows.values_list("address_hash", flat=True))
