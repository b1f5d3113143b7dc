"""Deliveries of a petition's letter and totals to officials, and their responses."""

import datetime
import uuid

from django.conf import settings
from django.db import models
from django.utils import dateformat
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.fields import RichTextField


def delivery_file_path(instance, filename):
    # Unguessable: the files hold signers' names; the admin serves them to leads only.
    return f"petition-deliveries/{instance.petition_id}/{uuid.uuid4().hex}/{filename}"


class Delivery(models.Model):
    """One sending of the letter, its verified total and (optionally) the consented list.

    Everything sent is snapshotted on the row when the delivery is prepared
    and never changes once it is sent.
    """

    class Status(models.TextChoices):
        PREPARING = "preparing", _("Preparing files")
        READY = "ready", _("Ready to send")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        PARTIAL = "partial", _("Sent, with failures")

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("Sent by a campaign lead")
        GOAL = "goal", _("Goal reached")
        STEP = "step", _("Milestone reached")

    petition = models.ForeignKey(
        "wagtailcore.Page", on_delete=models.PROTECT, related_name="+", verbose_name=_("petition")
    )
    officials = models.ManyToManyField("petitions_cms.Official", related_name="deliveries", verbose_name=_("officials"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PREPARING, verbose_name=_("status"))
    trigger = models.CharField(max_length=8, choices=Trigger.choices, default=Trigger.MANUAL, verbose_name=_("trigger"))
    milestone = models.OneToOneField(
        "petitions_cms.Milestone",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="delivery",
        verbose_name=_("milestone"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("created by")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))

    # The snapshot: what every official receives.
    subject = models.CharField(max_length=255, verbose_name=_("subject"))
    salutation = models.CharField(max_length=255, blank=True, verbose_name=_("salutation"))
    letter_html = models.TextField(verbose_name=_("letter html"))
    letter_text = models.TextField(verbose_name=_("letter text"))
    sign_off = models.CharField(max_length=255, blank=True, verbose_name=_("sign off"))
    signatories = models.CharField(max_length=255, blank=True, verbose_name=_("signatories"))
    counted_until = models.DateTimeField(
        help_text=_("Signatures verified up to this time are included."), verbose_name=_("counted until")
    )
    total = models.PositiveIntegerField(verbose_name=_("total"))
    breakdown = models.JSONField(
        default=dict, help_text=_("Verified signatures per country."), verbose_name=_("breakdown")
    )
    # Paper signatures (cms.offline) are in ``total``; these say how many, and where and when they
    # were collected: [{"count", "collected_at" (ISO date), "collected_where"}], as standing when prepared.
    offline_total = models.PositiveIntegerField(
        default=0, help_text=_("Signatures collected on paper, included in the total."), verbose_name=_("on paper")
    )
    offline_batches = models.JSONField(default=list, blank=True, verbose_name=_("paper batches"))
    first_signed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("first signed at"))
    last_signed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last signed at"))
    include_list = models.BooleanField(
        default=True, help_text=_("Attach the consenting signers as CSV and PDF."), verbose_name=_("include list")
    )

    csv_file = models.FileField(upload_to=delivery_file_path, blank=True, verbose_name=_("csv file"))
    pdf_file = models.FileField(upload_to=delivery_file_path, blank=True, verbose_name=_("pdf file"))
    # When retention deleted the two files (cms.retention); the record and its totals stay.
    files_deleted_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("files deleted at"))
    rows_total = models.PositiveIntegerField(default=0, verbose_name=_("rows total"))
    rows_done = models.PositiveIntegerField(default=0, verbose_name=_("rows done"))

    # Opted-in signers told of the delivery, in id order (a resumable cursor).
    signer_updates_after = models.BigIntegerField(default=0, verbose_name=_("signer updates after"))
    signer_updates_sent = models.PositiveIntegerField(default=0, verbose_name=_("signer updates sent"))
    signer_updates_done = models.BooleanField(default=False, verbose_name=_("signer updates done"))

    wagtail_reference_index_ignore = True

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = _("deliveries")
        permissions = [("deliver_petition", _("Can deliver petitions to officials"))]

    def __str__(self):
        return f"{self.subject} ({self.get_status_display()})"

    @property
    def is_sent(self):
        return self.status in (self.Status.SENT, self.Status.PARTIAL)

    @property
    def online_total(self) -> int:
        """The verified online signatures in ``total`` (the rest were collected on paper)."""
        return self.total - self.offline_total

    def paper_batches(self) -> list:
        """The snapshot's paper batches, their dates as dates (for templates and the PDF cover)."""
        return [
            {**batch, "collected_at": datetime.date.fromisoformat(batch["collected_at"])}
            for batch in self.offline_batches
        ]

    @property
    def files_ready(self):
        return not self.include_list or (bool(self.csv_file) and bool(self.pdf_file))

    @property
    def progress_percent(self):
        return 100 if not self.rows_total else min(100, round(100 * self.rows_done / self.rows_total))


class DeliveryRecipient(models.Model):
    """One official's copy of a delivery and what the ESP said about it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Not sent yet")
        # anymail's per-recipient statuses:
        SENT = "sent", _("Sent")
        QUEUED = "queued", _("Queued by the ESP")
        SCHEDULED = "scheduled", _("Scheduled")
        REJECTED = "rejected", _("Rejected")
        INVALID = "invalid", _("Invalid address")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Unknown")

    OK_STATUSES = ("sent", "queued", "scheduled", "unknown")

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="recipients", verbose_name=_("delivery")
    )
    official = models.ForeignKey(
        "petitions_cms.Official", null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("official")
    )
    name = models.CharField(max_length=255, verbose_name=_("name"))
    email = models.EmailField(verbose_name=_("email"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    message_id = models.CharField(max_length=255, blank=True, verbose_name=_("message id"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))

    wagtail_reference_index_ignore = True

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["delivery", "email"], name="petitions_cms_one_copy_per_address")]

    def __str__(self):
        return f"{self.name} <{self.email}>: {self.status}"

    @property
    def succeeded(self):
        return self.status in self.OK_STATUSES


class OfficialResponse(models.Model):
    """What an official answered, recorded by a campaign lead."""

    petition = models.ForeignKey(
        "wagtailcore.Page", on_delete=models.CASCADE, related_name="+", verbose_name=_("petition")
    )
    official = models.ForeignKey(
        "petitions_cms.Official", null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("official")
    )
    responded_on = models.DateField(verbose_name=_("responded on"))
    text = RichTextField()
    document = models.ForeignKey(
        "wagtaildocs.Document",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("document"),
    )
    show_on_page = models.BooleanField(default=True, verbose_name=_("show on page"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    signer_updates_after = models.BigIntegerField(default=0, verbose_name=_("signer updates after"))
    signer_updates_sent = models.PositiveIntegerField(default=0, verbose_name=_("signer updates sent"))
    signer_updates_done = models.BooleanField(default=False, verbose_name=_("signer updates done"))
    signer_updates_requested = models.BooleanField(default=False, verbose_name=_("signer updates requested"))

    wagtail_reference_index_ignore = True

    class Meta:
        ordering = ["-responded_on", "-created_at"]

    def __str__(self):
        who = self.official or gettext("An official")
        return gettext("%(official)s responded on %(date)s") % {
            "official": who,
            "date": dateformat.format(self.responded_on, "j F Y"),
        }
