"""The figures of a petition's insights report and of the dashboard panel, from the aggregates only.

Every figure here reads the tables the reconcile keeps (``cms.insights``, ``PetitionStats``,
``PetitionCountryCount``, ``Milestone``): a few hundred small rows whatever the petition's size,
and never the signatures table.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext
from django_countries import countries as countries_names

from . import offline
from .conf import get_setting
from .models import Milestone, PetitionCountryCount, PetitionHourlyStats, PetitionSourceStats, PetitionStats
from .translations import canonical_ids


@dataclass(frozen=True)
class Bucket:
    """One point of the chart: an hour (the first ``INSIGHTS_HOURLY_HOURS``), then a day."""

    start: datetime
    hourly: bool
    signed: int
    verified: int


@dataclass(frozen=True)
class SourceRow:
    source: str
    signed: int
    verified: int

    @property
    def conversion(self):
        """Verified per signed, as a percentage (None with nothing signed)."""
        return rate(self.verified, self.signed)


def rate(part, whole):
    return None if not whole else 100 * part / whole


def series(hours, now=None) -> list:
    """[Bucket] from [(hour, signed, verified)] (UTC hours, ascending): hourly, then daily.

    Hourly for the first ``INSIGHTS_HOURLY_HOURS`` (48) from the first signature, every hour
    shown (a quiet hour is a zero, not a gap); then one point per day in the current time zone,
    up to ``now`` (at most a year after the first signature) or the last hour with a count, whichever is later.
    """
    if not hours:
        return []
    now = now or timezone.now()
    by_hour = {hour: (signed, verified) for hour, signed, verified in hours}
    first, last = hours[0][0], max(hours[-1][0], min(now, hours[0][0] + timedelta(days=366)))
    hourly_until = first + timedelta(hours=get_setting("INSIGHTS_HOURLY_HOURS"))
    buckets, hour = [], first
    while hour < hourly_until and hour <= last:
        signed, verified = by_hour.get(hour, (0, 0))
        buckets.append(Bucket(hour, True, signed, verified))
        hour += timedelta(hours=1)
    if last < hourly_until:
        return buckets
    days = {}
    for moment, signed, verified in hours:
        if moment >= hourly_until:
            day = timezone.localtime(moment).date()
            old = days.get(day, (0, 0))
            days[day] = (old[0] + signed, old[1] + verified)
    day, end = timezone.localtime(hourly_until).date(), timezone.localtime(last).date()
    while day <= end:
        signed, verified = days.get(day, (0, 0))
        start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
        buckets.append(Bucket(max(start, hourly_until), False, signed, verified))
        day += timedelta(days=1)
    return buckets


def petition_report(petition_id, now=None, closed_at=None) -> dict:
    """Everything the report shows for one petition (the caller has checked the user may see it).

    A petition that closed (``closed_at``) is charted up to its close, not to ``now``.
    """
    now = now or timezone.now()
    if closed_at is not None:
        now = min(now, closed_at)
    stats = PetitionStats.objects.filter(petition_id=petition_id).first()
    hours = list(
        PetitionHourlyStats.objects.filter(petition_id=petition_id)
        .order_by("hour")
        .values_list("hour", "signed", "verified")
    )
    signed = sum(row[1] for row in hours)
    verified = sum(row[2] for row in hours)
    top = get_setting("INSIGHTS_TOP")
    # The share of the tallied total (the tallies count every verified signature, all countries).
    total = stats.signature_count if stats else 0
    country_counts = list(
        PetitionCountryCount.objects.filter(petition_id=petition_id)
        .order_by("-signature_count", "country")
        .values_list("country", "signature_count")[:top]
    )
    return {
        "stats": stats,
        "series": series(hours, now),
        "signed": signed,
        "verified": verified,
        "verification_rate": rate(verified, signed),
        "countries": [
            {
                "code": code,
                "name": countries_names.name(code) or gettext("Not given"),
                "count": n,
                "share": rate(n, total),
            }
            for code, n in country_counts
        ],
        "hourly_hours": get_setting("INSIGHTS_HOURLY_HOURS"),
        "sources": sources(petition_id)[:top],
        "bounced": stats.bounced_count if stats else 0,
        "complained": stats.complained_count if stats else 0,
        "milestones": list(Milestone.objects.filter(petition_id=petition_id).order_by("threshold")),
        # Paper signatures (cms.offline): their own line, apart from the online (verified) counts.
        "offline": stats.offline_count if stats else 0,
        "public_total": (stats.signature_count + stats.offline_count) if stats else 0,
        "paper_series": offline.paper_series(petition_id),
    }


def sources(petition_id) -> list:
    """[SourceRow], most signed first."""
    return [
        SourceRow(source, signed, verified)
        for source, signed, verified in PetitionSourceStats.objects.filter(petition_id=petition_id)
        .order_by("-signed", "source")
        .values_list("source", "signed", "verified")
    ]


def dashboard_rows(pages, now=None) -> list:
    """[{page, verified, signed, rate, last_day}] for the dashboard panel's petitions: two queries for all."""
    now = now or timezone.now()
    # A translation counts under its canonical page (cms.translations): one row per petition.
    canonical = canonical_ids([page.pk for page in pages])
    seen, counted = set(), []
    for page in pages:
        petition_id = canonical.get(page.pk, page.pk)
        if petition_id not in seen:
            seen.add(petition_id)
            counted.append((page, petition_id))
    ids = [petition_id for _, petition_id in counted]
    totals = {
        row["petition_id"]: row
        for row in PetitionHourlyStats.objects.filter(petition_id__in=ids)
        .values("petition_id")
        .annotate(signed=Sum("signed"), verified=Sum("verified"))
        .order_by()
    }
    last_day = dict(
        PetitionHourlyStats.objects.filter(petition_id__in=ids, hour__gt=now - timedelta(hours=24))
        .values("petition_id")
        .annotate(n=Sum("verified"))
        .order_by()
        .values_list("petition_id", "n")
    )
    rows = []
    for page, petition_id in counted:
        row = totals.get(petition_id, {"signed": 0, "verified": 0})
        rows.append(
            {
                "page": page,
                "signed": row["signed"],
                "verified": row["verified"],
                "rate": rate(row["verified"], row["signed"]),
                "last_day": last_day.get(petition_id, 0),
            }
        )
    return rows
