from django.db import models


class PetitionStats(models.Model):
    """The reconciled totals of one petition, written only by the counter task.

    Kept off the page row so publishing a revision never overwrites a count.
    """

    petition = models.OneToOneField("wagtailcore.Page", on_delete=models.CASCADE, primary_key=True, related_name="+")
    signature_count = models.PositiveIntegerField(default=0)
    # Verified signatures up to this time are in signature_count (the watermark).
    counted_until = models.DateTimeField(null=True, blank=True)
    reconciled_at = models.DateTimeField(null=True, blank=True)
    recounted_at = models.DateTimeField(null=True, blank=True)
    # A goal raised automatically at a milestone; wins over the page's goal.
    raised_goal = models.PositiveIntegerField(null=True, blank=True)

    wagtail_reference_index_ignore = True

    class Meta:
        verbose_name = "petition statistics"
        verbose_name_plural = "petition statistics"

    def __str__(self):
        return f"{self.petition_id}: {self.signature_count}"


class PetitionCountryCount(models.Model):
    """Verified signatures per country, kept by the counter task (a journal, e-petitions style)."""

    petition = models.ForeignKey("wagtailcore.Page", on_delete=models.CASCADE, related_name="+")
    country = models.CharField(max_length=2, blank=True)
    signature_count = models.PositiveIntegerField(default=0)

    wagtail_reference_index_ignore = True

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["petition", "country"], name="petitions_cms_one_count_per_country")
        ]

    def __str__(self):
        return f"{self.petition_id}/{self.country or '??'}: {self.signature_count}"


class Milestone(models.Model):
    """A threshold a petition's verified total crossed, recorded once."""

    class Kind(models.TextChoices):
        GOAL = "goal", "Goal reached"
        STEP = "step", "Step reached"

    petition = models.ForeignKey("wagtailcore.Page", on_delete=models.CASCADE, related_name="+")
    threshold = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    reached_at = models.DateTimeField()
    total_when_recorded = models.PositiveIntegerField()
    notified_at = models.DateTimeField(null=True, blank=True)

    wagtail_reference_index_ignore = True

    class Meta:
        ordering = ["petition", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["petition", "threshold"], name="petitions_cms_one_milestone_per_threshold")
        ]

    def __str__(self):
        return f"{self.petition_id}: {self.threshold:,} ({self.kind})"
