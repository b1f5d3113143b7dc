from django.db import models


class PetitionStats(models.Model):
    """The reconciled totals of one petition, written only by the counter task.

    Kept off the page row so publishing a revision never overwrites a count.
    """

    petition = models.OneToOneField("wagtailcore.Page", on_delete=models.CASCADE, primary_key=True, related_name="+")
    signature_count = models.PositiveIntegerField(default=0)
    reconciled_at = models.DateTimeField(null=True, blank=True)

    wagtail_reference_index_ignore = True

    class Meta:
        verbose_name = "petition statistics"
        verbose_name_plural = "petition statistics"

    def __str__(self):
        return f"{self.petition_id}: {self.signature_count}"
