import logging

from django.db import DatabaseError, models
from django.utils.translation import gettext_lazy as _
from wagtail.models import Page

from ..degraded import warn
from ..store import get_store

logger = logging.getLogger("petitions.store")


def live_values(petition_ids) -> dict:
    """{petition_id: (count, goal)} for pages and endpoints: one store round trip, SQL only on a miss.

    The count is the verified online signatures plus the paper ones (``PetitionStats.offline_count``).

    A missing count (Redis flushed, or a petition never counted) is rebuilt
    from the reconciled total plus what the store recorded after its
    watermark; the goal is the page's, or the higher one a milestone raised it to.
    While the store cannot answer (Redis down) every count is the reconciled
    total alone: behind by the verifications since the last reconcile, never an error.
    """
    petition_ids = list(petition_ids)
    if not petition_ids:
        return {}
    store = get_store()
    try:
        values = store.get_values(petition_ids)
        missing = [pk for pk, (count, _) in values.items() if count is None]
        if missing:
            for pk, (row, goal) in _stored(missing).items():
                count = store.fill_count(pk, row["signature_count"] + row["offline_count"], row["counted_until"])
                store.set_goal(pk, goal)
                values[pk] = (count, goal)
    except DatabaseError:
        raise  # the database itself: nothing to fall back on (cms.outage answers 503)
    except Exception as exc:  # any store's failure (Redis down, a full disk): the database's totals
        warn(logger, "Counts read from the database: the store is unavailable", exc)
        values = stored_values(petition_ids)
    return values


def stored_values(petition_ids) -> dict:
    """{petition_id: (reconciled total, goal)} from the database alone: the counts while the store is down.

    The total adds the paper signatures, as the store's count does.
    """
    return {
        pk: (row["signature_count"] + row["offline_count"], goal) for pk, (row, goal) in _stored(petition_ids).items()
    }


def _stored(petition_ids) -> dict:
    """{petition_id: (its PetitionStats values, its goal)} from the database."""
    stored = {
        row["petition_id"]: row
        for row in PetitionStats.objects.filter(petition_id__in=petition_ids).values(
            "petition_id", "signature_count", "offline_count", "counted_until", "raised_goal"
        )
    }
    goals = {page.pk: getattr(page, "goal", 0) or 0 for page in Page.objects.filter(pk__in=petition_ids).specific()}
    result = {}
    for pk in petition_ids:
        row = stored.get(pk, {"signature_count": 0, "offline_count": 0, "counted_until": None, "raised_goal": None})
        result[pk] = (row, max(goals.get(pk, 0), row["raised_goal"] or 0))
    return result


def live_counts(petition_ids) -> dict:
    """{petition_id: count}, as :func:`live_values`."""
    return {pk: count for pk, (count, _) in live_values(petition_ids).items()}


class PetitionStats(models.Model):
    """The reconciled totals of one petition (written only by the counter task), and its retention state.

    Kept off the page row so publishing a revision never overwrites a count.
    """

    petition = models.OneToOneField(
        "wagtailcore.Page", on_delete=models.CASCADE, primary_key=True, related_name="+", verbose_name=_("petition")
    )
    signature_count = models.PositiveIntegerField(default=0, verbose_name=_("signature count"))
    # Verified signatures up to this time are in signature_count (the watermark).
    counted_until = models.DateTimeField(null=True, blank=True, verbose_name=_("counted until"))
    reconciled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reconciled at"))
    recounted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("recounted at"))
    # Counted signatures changed status (a bulk invalidation, a release from quarantine): the next
    # reconcile recounts this petition in full, then clears this if no newer request came meanwhile.
    recount_requested_at = models.DateTimeField(null=True, blank=True, verbose_name=_("recount requested at"))
    # When retention last anonymised this petition's signatures (cms.retention); a petition closed
    # again after that (it was reopened) is anonymised again.
    anonymised_at = models.DateTimeField(null=True, blank=True, verbose_name=_("anonymised at"))
    # A goal raised automatically at a milestone; wins over the page's goal.
    raised_goal = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("raised goal"))
    # The insights (``cms.models.insights``) count signatures made and verified up to this time:
    # their own watermark, so a petition counted before they existed is filled from its first row.
    insights_counted_until = models.DateTimeField(null=True, blank=True, verbose_name=_("insights counted until"))
    # Signatures collected on paper (the standing OfflineSignatureBatch totals), recomputed from the
    # batches whenever one is added or voided (cms.offline); the public count adds them.
    offline_count = models.PositiveIntegerField(default=0, verbose_name=_("paper signatures"))
    # Signers whose address bounced (or the ESP refused it) and who complained: recounted when
    # ``email_recount_requested_at`` is set (``cms.suppression`` marks signatures) and by the full recount.
    bounced_count = models.PositiveIntegerField(default=0, verbose_name=_("bounced"))
    complained_count = models.PositiveIntegerField(default=0, verbose_name=_("complaints"))
    email_recount_requested_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("email recount requested at")
    )

    wagtail_reference_index_ignore = True

    class Meta:
        verbose_name = _("petition statistics")
        verbose_name_plural = _("petition statistics")

    def __str__(self):
        return f"{self.petition_id}: {self.signature_count}"


class PetitionCountryCount(models.Model):
    """Verified signatures per country, kept by the counter task (a journal, e-petitions style)."""

    petition = models.ForeignKey(
        "wagtailcore.Page", on_delete=models.CASCADE, related_name="+", verbose_name=_("petition")
    )
    country = models.CharField(max_length=2, blank=True, verbose_name=_("country"))
    signature_count = models.PositiveIntegerField(default=0, verbose_name=_("signature count"))

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
        GOAL = "goal", _("Goal reached")
        STEP = "step", _("Step reached")

    petition = models.ForeignKey(
        "wagtailcore.Page", on_delete=models.CASCADE, related_name="+", verbose_name=_("petition")
    )
    threshold = models.PositiveIntegerField(verbose_name=_("threshold"))
    kind = models.CharField(max_length=8, choices=Kind.choices, verbose_name=_("kind"))
    reached_at = models.DateTimeField(verbose_name=_("reached at"))
    total_when_recorded = models.PositiveIntegerField(verbose_name=_("total when recorded"))
    notified_at = models.DateTimeField(null=True, blank=True, verbose_name=_("notified at"))

    wagtail_reference_index_ignore = True

    class Meta:
        ordering = ["petition", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["petition", "threshold"], name="petitions_cms_one_milestone_per_threshold")
        ]

    def __str__(self):
        return f"{self.petition_id}: {self.threshold:,} ({self.kind})"
