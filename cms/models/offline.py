"""Paper signatures: totals collected offline, entered by a campaign lead with their provenance.

Append-only: a batch is never edited or deleted, only voided (who, when, why), so the public
count can always be traced back to who entered what. The petition's offline total
(``PetitionStats.offline_count``) is recomputed from the batches that stand (``cms.offline``).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from ..conf import get_setting


def validate_batch_count(value):
    """A total of at least one and at most ``PETITIONS["OFFLINE_BATCH_MAX"]``."""
    maximum = get_setting("OFFLINE_BATCH_MAX")
    if value is not None and value > maximum:
        raise ValidationError(
            _("A paper batch holds at most %(max)s signatures: check the total, or split it into batches."),
            code="max_value",
            params={"max": number_format(maximum, force_grouping=True)},
        )


def validate_not_future(value):
    if value is not None and value > timezone.localdate():
        raise ValidationError(_("The collection date cannot be in the future."), code="future")


class OfflineSignatureBatchQuerySet(models.QuerySet):
    def standing(self):
        """The batches that count: not voided."""
        return self.filter(voided_at__isnull=True)


class OfflineSignatureBatch(models.Model):
    """A total of signatures collected on paper (or at an event), with where, when and who entered it."""

    # Always the canonical petition (cms.translations): every translation counts against it.
    petition = models.ForeignKey(
        "wagtailcore.Page", on_delete=models.CASCADE, related_name="+", verbose_name=_("petition")
    )
    count = models.PositiveIntegerField(
        validators=[MinValueValidator(1), validate_batch_count],
        verbose_name=_("signatures"),
        help_text=_("How many signatures this batch holds."),
    )
    collected_at = models.DateField(
        validators=[validate_not_future],
        verbose_name=_("collected on"),
        help_text=_("The day the signatures were collected (or the last day, for a longer collection)."),
    )
    collected_where = models.CharField(
        max_length=255,
        verbose_name=_("collected at"),
        help_text=_("Where the signatures were collected, e.g. “Market square stall, Lyon”."),
    )
    note = models.TextField(blank=True, verbose_name=_("note"))
    scan = models.ForeignKey(
        "wagtaildocs.Document",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("scan"),
        help_text=_("Optional: a scan or photo of the signed sheets."),
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("entered by"),
    )
    entered_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("entered at"))
    voided_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("voided at"))
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("voided by"),
    )
    void_reason = models.CharField(max_length=255, blank=True, editable=False, verbose_name=_("reason for voiding"))

    objects = OfflineSignatureBatchQuerySet.as_manager()

    wagtail_reference_index_ignore = True

    class Meta:
        ordering = ["-collected_at", "-entered_at"]
        verbose_name = _("paper signature batch")
        verbose_name_plural = _("paper signature batches")
        indexes = [models.Index(fields=["petition", "voided_at"], name="petitions_offline_petition")]
        constraints = [
            # The database refuses what validation would have: a zero total from a script or a fixture.
            models.CheckConstraint(condition=models.Q(count__gt=0), name="petitions_cms_offline_count_positive")
        ]

    def __str__(self):
        return f"{self.count:,} @ {self.collected_where} ({self.collected_at})"

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None
