from django.db import models
from django.db.models import Value
from django.db.models.functions import Cast, Concat, Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from ..addresses import normalize_email
from ..conf import get_setting
from ..translations import supported_language

__all__ = ["AbstractSignature", "ConsentWording", "Signature", "normalize_email"]


class ConsentWording(models.Model):
    """The consent wording a signer was shown, stored once: a signature keeps only its ``hash``.

    ``text`` is the labels of the sign form's consent fields as rendered (``cms.forms.consent_text``),
    so an answer to "what did I agree to?" quotes what the signer saw, whatever the page says now.
    """

    hash = models.CharField(max_length=16, primary_key=True, verbose_name=_("hash"))
    text = models.TextField(verbose_name=_("text"))
    first_seen = models.DateTimeField(default=timezone.now, verbose_name=_("first seen"))

    wagtail_reference_index_ignore = True

    class Meta:
        verbose_name = _("consent wording")

    def __str__(self):
        return self.hash


class SignatureQuerySet(models.QuerySet):
    def verified(self, petition_id):
        return self.filter(petition_id=petition_id, status=AbstractSignature.Status.VERIFIED)

    def for_feed(self, petition_id):
        """The newest verified signers who allow the public feed, newest first."""
        return (
            self.verified(petition_id)
            .filter(show_in_feed=True, hidden_from_feed=False)
            .order_by("-verified_at", "-pk")
            .only(*AbstractSignature.FEED_FIELDS)[: get_setting("FEED_SIZE")]
        )


class AbstractSignature(models.Model):
    """A person's signature on a petition page.

    Subclass this to store extra fields, keep ``Meta`` inheriting from
    ``AbstractSignature.Meta`` (the one-signature-per-address constraint
    lives there), and name it in ``PETITIONS["SIGNATURE_MODEL"]``: every
    query of the plugin goes through ``cms.conf.get_signature_model()``.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending verification")
        VERIFIED = "verified", _("Verified")
        FRAUDULENT = "fraudulent", _("Fraudulent")
        INVALIDATED = "invalidated", _("Invalidated")
        # Confirmed from a flagged address, domain or network (cms.fraud): not counted until a lead releases it.
        QUARANTINED = "quarantined", _("Quarantined")

    class EmailStatus(models.TextChoices):
        NONE = "", _("Not sent yet")
        SENT = "sent", _("Sent")
        REFUSED = "refused", _("Refused by the ESP")
        CAPPED = "capped", _("Not sent: the address's daily email cap")
        BOUNCED = "bounced", _("Bounced")
        # Reported by the ESP (its tracking webhook, cms.suppression): the recipient marked it as spam.
        COMPLAINED = "complained", _("Complained (marked as spam)")
        # Not sent: the address is on the suppression list (bounced, refused or complained before).
        SUPPRESSED = "suppressed", _("Not sent: the address is suppressed")

    petition = models.ForeignKey(
        "wagtailcore.Page", on_delete=models.CASCADE, related_name="+", verbose_name=_("petition")
    )
    first_name = models.CharField(max_length=100, verbose_name=_("first name"))
    last_name = models.CharField(max_length=100, blank=True, verbose_name=_("last name"))
    email = models.EmailField(max_length=254, verbose_name=_("email"))
    email_normalized = models.CharField(max_length=254, editable=False, verbose_name=_("email normalized"))
    country = CountryField(blank=True)
    postcode = models.CharField(max_length=20, blank=True, verbose_name=_("postcode"))

    class FeedName(models.TextChoices):
        FIRST = "first", _("First name")
        FIRST_INITIAL = "first_initial", _("First name and initial")

    # No default the signer did not pick: the sign form requires a choice (cms.forms.SignatureForm).
    show_in_feed = models.BooleanField(
        default=False,
        help_text=_("The signer allows their name in the public feed (their own pick)."),
        verbose_name=_("show in feed"),
    )
    feed_name = models.CharField(
        max_length=16,
        choices=FeedName.choices,
        default=FeedName.FIRST,
        help_text=_("How the feed names the signer."),
        verbose_name=_("feed name"),
    )
    share_with_officials = models.BooleanField(
        default=False,
        help_text=_("The signer consents to their name, country and signing date being delivered."),
        verbose_name=_("share with officials"),
    )
    # The database defaults too: bulk loaders that COPY rows (bench/, tests) need not name these.
    share_postcode_with_officials = models.BooleanField(
        default=False,
        db_default=False,
        help_text=_("The signer consents to their postcode being delivered as well."),
        verbose_name=_("share postcode with officials"),
    )
    opt_in_updates = models.BooleanField(default=False, verbose_name=_("opt in updates"))
    hidden_from_feed = models.BooleanField(
        default=False,
        help_text=_("Hidden by a campaign lead, whatever the signer allowed."),
        verbose_name=_("hidden from feed"),
    )
    source = models.CharField(max_length=64, blank=True, verbose_name=_("source"))
    # The consent wording the signer was shown (a ConsentWording's hash) and when they gave it:
    # on signing, and again when they confirm (the confirm page shows the same fields).
    consent_version = models.CharField(
        max_length=16, blank=True, default="", db_default="", verbose_name=_("consent version")
    )
    consent_given_at = models.DateTimeField(null=True, blank=True, verbose_name=_("consent given at"))

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    verified_at = models.DateTimeField(null=True, blank=True, verbose_name=_("verified at"))
    # The outbox: an email is owed while requested_at is later than sent_at.
    email_requested_at = models.DateTimeField(null=True, blank=True, verbose_name=_("email requested at"))
    email_sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("email sent at"))
    email_status = models.CharField(
        max_length=16, choices=EmailStatus.choices, default=EmailStatus.NONE, blank=True, verbose_name=_("email status")
    )
    email_message_id = models.CharField(max_length=255, blank=True, verbose_name=_("email message id"))
    # The client address it was signed from (cms.ratelimit.client_address), kept for fraud review.
    ip_address = models.GenericIPAddressField(null=True, blank=True, editable=False, verbose_name=_("ip address"))
    # The signer's manage link names this version; bumping it revokes every link given so far (cms.manage).
    # (A database default too, so that rows copied in bulk with explicit columns need not name it.)
    manage_token_version = models.PositiveIntegerField(
        default=0, db_default=0, editable=False, verbose_name=_("manage token version")
    )
    # The bulk invalidation that invalidated it, so that the invalidation can be undone.
    invalidation = models.ForeignKey(
        "petitions_cms.Invalidation",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("invalidation"),
    )
    # When retention blanked its personal fields (cms.retention), some months after the petition closed.
    anonymised_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("anonymised at"))

    # The language of the page it was signed on (cms.translations.page_language): its emails go out in it.
    # Blank (rows from before, bulk loaders) or a code the site no longer offers reads as the default language.
    language = models.CharField(
        max_length=16, blank=True, default="", db_default="", editable=False, verbose_name=_("language")
    )

    objects = SignatureQuerySet.as_manager()

    #: What a signer's submission may set; a subclass that asks more adds its fields here.
    SIGNER_FIELDS = (
        "first_name", "last_name", "email", "country", "postcode",
        "show_in_feed", "feed_name", "share_with_officials", "share_postcode_with_officials", "opt_in_updates",
    )  # fmt: skip

    #: What anonymisation blanks (``anonymised_values``): everything that names or finds the signer.
    #: A subclass that stores more about the signer adds its fields here (system check petitions.E040).
    #: The country stays (the tallies count it), and so do status and times (the count does).
    PERSONAL_FIELDS = (
        "first_name", "last_name", "email", "email_normalized", "postcode", "ip_address", "source",
        "email_message_id",
    )  # fmt: skip

    #: Set with the signer's fields, from the form the signer was shown (``cms.signing``).
    CONSENT_FIELDS = ("consent_version", "consent_given_at")

    #: The columns a feed entry is built from (``feed_entry``).
    FEED_FIELDS = (
        "pk", "first_name", "last_name", "feed_name", "country", "verified_at", "show_in_feed", "hidden_from_feed",
    )  # fmt: skip

    # Signatures are data, not content: keep them out of Wagtail's reference index.
    wagtail_reference_index_ignore = True

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["petition", "email_normalized"], name="%(app_label)s_%(class)s_one_per_email"
            )
        ]
        # Unnamed, so Django names it per model within the 30 characters an index name may have
        # (a host's "petitions_members_membersignature_feed" would not fit).
        indexes = [
            models.Index(fields=["petition", "status", "-verified_at"]),
            # Every signature of one inbox, across petitions: bounces, complaints and "unsubscribe
            # from all" (cms.suppression) act on all of them.
            models.Index(fields=["email_normalized"]),
            # The insights count what was signed since their watermark (cms.insights).
            models.Index(fields=["petition", "created_at"]),
        ]

    def __str__(self):
        return f"{self.first_name} on {self.petition_id} ({self.status})"

    @property
    def display_name(self):
        """The name the feed shows, as the signer allowed: "Stefanie" or "Stefanie K." """
        if self.feed_name == self.FeedName.FIRST_INITIAL and self.last_name:
            return f"{self.first_name} {self.last_name[0].upper()}."
        return self.first_name

    def feed_entry(self, page=None) -> dict | None:
        """This signature as the public feed shows it, or None if it must not appear."""
        if not self.show_in_feed or self.hidden_from_feed:
            return None
        place = ""
        if self.country and getattr(page, "feed_show_place", False):
            place = self.country.name
        return {"id": self.pk, "name": self.display_name, "place": place, "at": self.verified_at}

    @classmethod
    def anonymised_values(cls) -> dict:
        """The UPDATE that anonymises signatures (``cms.retention``); override to blank a field otherwise.

        Each of ``PERSONAL_FIELDS`` becomes NULL where the column allows it, else its default,
        else ""; ``email_normalized`` becomes "anonymised-<id>", unique as the one-per-address
        constraint needs, and no address. Every consent is withdrawn, so nothing can put the row
        back in the feed, a delivery's list or an update email.
        """
        values = {}
        for name in cls.PERSONAL_FIELDS:
            field = cls._meta.get_field(name)
            if name == "email_normalized":
                values[name] = Concat(Value("anonymised-"), Cast("pk", models.CharField()))
            elif field.null:
                values[name] = None
            elif field.has_default():
                values[name] = field.get_default()
            else:
                values[name] = ""
        values.update(
            show_in_feed=False,
            share_with_officials=False,
            share_postcode_with_officials=False,
            opt_in_updates=False,
            anonymised_at=Now(),
        )
        return values

    def get_language(self) -> str:
        """The language to write to this signer in: the page's they signed on, or the site's default."""
        return supported_language(self.language)

    def verify(self) -> bool:
        """Mark verified if still pending; True only for the call that did it.

        One conditional UPDATE, so a second click, a scanner's prefetch or a
        duplicated task cannot verify (and count) twice. The signer's confirm
        goes through ``cms.signing.verify_signature`` instead, which also puts
        the signature in the live count and sends ``signature_verified``; a row
        verified here is counted by the next reconcile.
        """
        updated = (
            type(self)
            .objects.filter(pk=self.pk, status=self.Status.PENDING)
            .update(status=self.Status.VERIFIED, verified_at=Now())
        )
        if updated:
            self.refresh_from_db(fields=["status", "verified_at"])
        return bool(updated)

    def mark_fraudulent(self) -> bool:
        """Mark fraudulent if still pending; does nothing the second time."""
        updated = (
            type(self).objects.filter(pk=self.pk, status=self.Status.PENDING).update(status=self.Status.FRAUDULENT)
        )
        if updated:
            self.status = self.Status.FRAUDULENT
        return bool(updated)


class Signature(AbstractSignature):
    class Meta(AbstractSignature.Meta):
        # The name this index shipped with.
        indexes = [
            models.Index(fields=["petition", "status", "-verified_at"], name="petitions_cms_signature_feed"),
            models.Index(fields=["email_normalized"], name="petitions_cms_signature_addr"),
            # The admin's listing (cms.signature_listing): newest first, overall, by petition and by status.
            # The one by petition also serves the insights' count of rows made in a window
            # (cms.insights; AbstractSignature's (petition, created_at) for other signature models).
            models.Index(fields=["-created_at", "-id"], name="petitions_cms_sig_newest"),
            models.Index(fields=["petition", "-created_at", "-id"], name="petitions_cms_sig_pet_newest"),
            models.Index(fields=["status", "-created_at", "-id"], name="petitions_cms_sig_stat_newest"),
        ]
