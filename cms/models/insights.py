"""The aggregates behind the admin's insights (``cms.insights``): per hour and per source.

Written only by the counter task (``cms.reconcile``), under its lock, from the same watermark
logic as the totals, so the report reads a few hundred small rows and never the signatures.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class PetitionHourlyStats(models.Model):
    """Signatures made (``created_at``) and verified (``verified_at``) in one hour (UTC) of one petition."""

    petition = models.ForeignKey(
        "wagtailcore.Page", on_delete=models.CASCADE, related_name="+", verbose_name=_("petition")
    )
    hour = models.DateTimeField(verbose_name=_("hour"))
    signed = models.PositiveIntegerField(default=0, verbose_name=_("signed"))
    verified = models.PositiveIntegerField(default=0, verbose_name=_("verified"))

    wagtail_reference_index_ignore = True

    class Meta:
        ordering = ["petition", "hour"]
        verbose_name = _("petition hourly statistics")
        verbose_name_plural = _("petition hourly statistics")
        constraints = [models.UniqueConstraint(fields=["petition", "hour"], name="petitions_cms_one_row_per_hour")]

    def __str__(self):
        return f"{self.petition_id}@{self.hour:%Y-%m-%d %H}: {self.signed}/{self.verified}"


class PetitionSourceStats(models.Model):
    """Signatures made and verified per ``source`` (the API's ``?source=``, the widget's ``data-source``)."""

    petition = models.ForeignKey(
        "wagtailcore.Page", on_delete=models.CASCADE, related_name="+", verbose_name=_("petition")
    )
    source = models.CharField(max_length=64, blank=True, verbose_name=_("source"))
    signed = models.PositiveIntegerField(default=0, verbose_name=_("signed"))
    verified = models.PositiveIntegerField(default=0, verbose_name=_("verified"))

    wagtail_reference_index_ignore = True

    class Meta:
        verbose_name = _("petition source statistics")
        verbose_name_plural = _("petition source statistics")
        constraints = [models.UniqueConstraint(fields=["petition", "source"], name="petitions_cms_one_row_per_source")]

    def __str__(self):
        return f"{self.petition_id}/{self.source or '-'}: {self.signed}/{self.verified}"
