"""The record of every erasure: which signature of which petition, when, why and by whom; never the address."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class ErasureLog(models.Model):
    """One erased signature (``cms.erasure.erase_signatures``).

    ``address_hash`` is a keyed hash (HMAC with the site's ``SECRET_KEY``) of the canonical
    address: it proves an erasure of a given address when someone who knows the address
    asks, and tells nothing to anyone who does not.
    """

    class Reason(models.TextChoices):
        WITHDRAWN = "withdrawn", _("Withdrawn by the signer")
        LEAD = "lead", _("Erased by a campaign lead")

    address_hash = models.CharField(max_length=64, db_index=True, editable=False, verbose_name=_("address hash"))
    petition = models.ForeignKey(
        "wagtailcore.Page",
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("petition"),
    )
    signature_id = models.PositiveBigIntegerField(db_index=True, editable=False, verbose_name=_("signature id"))
    reason = models.CharField(max_length=16, choices=Reason.choices, editable=False, verbose_name=_("reason"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("actor"),
    )
    erased_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("erased at"))

    class Meta:
        ordering = ["-erased_at", "-pk"]
        permissions = [("erase_signature", _("Can find, export and erase a signer's signatures"))]

    def __str__(self):
        return gettext("Signature %(signature)s of petition %(petition)s, %(reason)s") % {
            "signature": self.signature_id,
            "petition": self.petition_id,
            "reason": self.get_reason_display(),
        }
