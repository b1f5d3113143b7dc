"""The admin's insights (issue 14): aggregates the reconcile keeps, the report, its CSV and the dashboard panel."""

import csv
import datetime
import io
import re

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from wagtail.users.models import UserProfile

from cms import reconcile as reconciling
from cms.insights_report import Bucket, petition_report, series
from cms.models import Milestone, PetitionHourlyStats, PetitionSourceStats, PetitionStats, Signature

from .factories import LeadFactory, PetitionPageFactory, SignatureFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
HOUR = datetime.timedelta(hours=1)
#: A whole UTC hour three days ago: the signatures below fall in known hours.
START = timezone.now().replace(minute=0, second=0, microsecond=0) - datetime.timedelta(days=3)


def sign_at(petition, made, verified_after=None, source="", status=None, **fields):
    """A signature made at ``made`` (and verified ``verified_after`` later, if given)."""
    if verified_after is not None:
        fields.update(status=Signature.Status.VERIFIED, verified_at=made + verified_after)
    elif status:
        fields["status"] = status
    return SignatureFactory(petition=petition, created_at=made, source=source, **fields)


def seed(petition, start=START):
    """Signatures over five hours, three sources, every status, verified in the same and in a later hour."""
    minute = datetime.timedelta(minutes=1)
    sign_at(petition, start + 5 * minute, verified_after=minute, source="newsletter")
    sign_at(petition, start + 10 * minute, verified_after=2 * HOUR, source="newsletter", country="FR")
    sign_at(petition, start + 20 * minute, source="newsletter")  # never verified
    sign_at(petition, start + HOUR, verified_after=minute, source="partner-x", country="DE")
    sign_at(petition, start + HOUR + minute, status=Signature.Status.FRAUDULENT, source="partner-x")
    sign_at(petition, start + 4 * HOUR, verified_after=30 * minute)
    sign_at(petition, start + 4 * HOUR + minute, status=Signature.Status.QUARANTINED)


def counted(petition):
    """What a COUNT over the signatures says: ({hour: (signed, verified)}, {source: (signed, verified)})."""
    rows = Signature.objects.filter(petition=petition)
    verified = rows.filter(status=Signature.Status.VERIFIED)

    def grouped(queryset, field, key):
        if key == "hour":
            queryset = queryset.annotate(hour=TruncHour(field, tzinfo=UTC))
        return dict(queryset.values_list(key).annotate(n=Count("pk")).order_by())

    hours, sources = {}, {}
    for column, (queryset, field) in enumerate(((rows, "created_at"), (verified, "verified_at"))):
        for key, table in (("hour", hours), ("source", sources)):
            for value, n in grouped(queryset, field, key).items():
                table.setdefault(value, [0, 0])[column] = n
    return (
        {hour: tuple(n) for hour, n in hours.items()},
        {source: tuple(n) for source, n in sources.items()},
    )


def stored(petition):
    hours = PetitionHourlyStats.objects.filter(petition=petition)
    sources = PetitionSourceStats.objects.filter(petition=petition)
    return (
        {hour: (signed, verified) for hour, signed, verified in hours.values_list("hour", "signed", "verified")},
        {
            source: (signed, verified)
            for source, signed, verified in sources.values_list("source", "signed", "verified")
        },
    )


# --- the aggregates --------------------------------------------------------------------------


def test_a_reconcile_counts_signed_and_verified_per_hour_and_per_source_as_a_count_over_signatures_does(
    petition, reconcile
):
    seed(petition)

    reconcile()

    assert stored(petition) == counted(petition)
    hours, sources = stored(petition)
    assert hours[START] == (3, 1)  # three made in the first hour, one verified in it
    assert hours[START + 2 * HOUR] == (0, 1)  # verified two hours after it was made
    assert sources["newsletter"] == (3, 2) and sources["partner-x"] == (2, 1) and sources[""] == (2, 1)


def test_signatures_after_the_watermark_are_added_and_a_second_run_changes_nothing(petition, reconcile):
    seed(petition)
    reconcile()
    later = timezone.now()  # after the first run's watermark
    sign_at(petition, later, verified_after=datetime.timedelta(0), source="newsletter")
    sign_at(petition, later, source="partner-x")
    # Verified now, made before the watermark: counted as verified in this hour, made in its own.
    made_before = Signature.objects.get(petition=petition, status=Signature.Status.PENDING, source="newsletter")
    Signature.objects.filter(pk=made_before.pk).update(status=Signature.Status.VERIFIED, verified_at=timezone.now())

    reconcile()
    after_second = stored(petition)
    reconcile()

    assert after_second == counted(petition)
    assert stored(petition) == after_second
    assert sum(verified for _, verified in after_second[0].values()) == (
        PetitionStats.objects.get(petition_id=petition.pk).signature_count
    )


def test_the_full_recount_rebuilds_the_hourly_and_source_rows(petition, reconcile):
    seed(petition)
    reconcile()
    PetitionHourlyStats.objects.filter(petition=petition, hour=START).update(signed=99)  # drift
    PetitionSourceStats.objects.filter(petition=petition, source="partner-x").delete()
    PetitionSourceStats.objects.create(petition=petition, source="stray", signed=4, verified=4)

    reconciling.full_recount([petition.pk])

    assert stored(petition) == counted(petition)


def test_a_recount_after_an_invalidation_takes_the_signatures_out_of_the_verified_counts(petition, reconcile):
    seed(petition)
    reconcile()
    Signature.objects.filter(petition=petition, source="partner-x").update(status=Signature.Status.INVALIDATED)
    PetitionStats.objects.filter(petition_id=petition.pk).update(recount_requested_at=timezone.now())

    reconcile()

    assert stored(petition) == counted(petition)
    assert stored(petition)[1]["partner-x"] == (2, 0)


def test_a_petition_counted_before_the_insights_existed_is_counted_from_its_first_row(petition, reconcile):
    seed(petition)
    reconcile()
    PetitionHourlyStats.objects.all().delete()
    PetitionSourceStats.objects.all().delete()
    PetitionStats.objects.update(insights_counted_until=None)

    reconcile()

    assert stored(petition) == counted(petition)


def test_a_run_whose_clock_is_behind_the_insights_watermark_counts_nothing_again(petition, reconcile):
    seed(petition)
    reconcile()
    before = stored(petition)

    reconcile(now=timezone.now() - datetime.timedelta(hours=5))

    assert stored(petition) == before
    assert PetitionStats.objects.get(petition_id=petition.pk).insights_counted_until > START + 4 * HOUR


def test_bounces_and_complaints_are_recounted_when_a_webhook_marks_signatures(petition, reconcile, client, settings):
    from .test_bounces import SECRET, payload, post_postmark

    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    SignatureFactory(petition=petition, email="bounce@example.com", email_status=Signature.EmailStatus.SENT)
    SignatureFactory(petition=petition, email_status=Signature.EmailStatus.REFUSED)
    SignatureFactory(petition=petition, email_status=Signature.EmailStatus.COMPLAINED)
    SignatureFactory(petition=petition, email_status=Signature.EmailStatus.SENT)
    reconciling.full_recount([petition.pk])  # no watermark yet: nothing to recount
    reconcile()
    reconciling.full_recount([petition.pk])
    assert PetitionStats.objects.filter(petition_id=petition.pk).values_list(
        "bounced_count", "complained_count"
    ).get() == (1, 1)

    assert post_postmark(client, payload("postmark_hard_bounce.json", "bounce@example.com")).status_code == 200
    assert PetitionStats.objects.get(petition_id=petition.pk).email_recount_requested_at is not None
    reconcile()

    stats = PetitionStats.objects.get(petition_id=petition.pk)
    assert (stats.bounced_count, stats.complained_count, stats.email_recount_requested_at) == (2, 1, None)


# --- the chart's buckets ----------------------------------------------------------------------


def test_the_series_is_hourly_for_the_first_48_hours_then_daily_with_quiet_periods_as_zeros():
    start = datetime.datetime(2026, 11, 1, 9, tzinfo=UTC)
    hours = [(start, 5, 4), (start + 3 * HOUR, 2, 2), (start + 60 * HOUR, 7, 6), (start + 62 * HOUR, 1, 1)]

    buckets = series(hours, now=start + 5 * 24 * HOUR)

    hourly = [b for b in buckets if b.hourly]
    daily = [b for b in buckets if not b.hourly]
    assert len(hourly) == 48 and hourly[0] == Bucket(start, True, 5, 4) and hourly[1].signed == 0
    assert hourly[3] == Bucket(start + 3 * HOUR, True, 2, 2)
    assert sum(b.signed for b in daily) == 8 and sum(b.verified for b in daily) == 7
    assert daily[0].start == start + 48 * HOUR  # the first day starts where the hours end
    assert sum(b.signed for b in buckets) == 15


def test_a_closed_petition_is_charted_up_to_its_close_not_to_now(petition, reconcile):
    seed(petition)
    reconcile()
    closed_at = START + 60 * HOUR

    open_series = petition_report(petition.pk)["series"]
    closed_series = petition_report(petition.pk, closed_at=closed_at)["series"]

    assert timezone.localtime(open_series[-1].start).date() == timezone.localdate()
    assert timezone.localtime(closed_series[-1].start).date() == timezone.localtime(closed_at).date()
    assert sum(b.signed for b in closed_series) == sum(b.signed for b in open_series) == 7


# --- the report --------------------------------------------------------------------------------


@pytest.fixture
def lead(index_page):
    return LeadFactory(campaigns=[index_page])


@pytest.fixture
def reported(petition, reconcile):
    seed(petition)
    reconcile()
    Milestone.objects.create(
        petition=petition, threshold=2, kind=Milestone.Kind.STEP, reached_at=START + HOUR, total_when_recorded=2
    )
    return petition


def report_url(page):
    return reverse("petitions_insights:petition", args=[page.pk])


def csv_url(page, kind=None):
    return reverse("petitions_insights:csv", args=[page.pk]) + (f"?kind={kind}" if kind else "")


def signature_queries(queries):
    table = re.escape(connection.ops.quote_name(Signature._meta.db_table))
    return [q["sql"] for q in queries if re.search(table, q["sql"])]


def test_the_report_shows_the_figures_chart_countries_sources_and_milestones(reported, lead, client):
    client.force_login(lead)

    response = client.get(report_url(reported))

    assert response.status_code == 200
    html = response.content.decode()
    figures = {label: int(value) for label, value in re.findall(r"<li>(\w+)<strong>(\d+)</strong></li>", html)}
    assert figures["Signed"] == 7 and figures["Verified"] == 4
    assert "57.1%" in html  # 4 of 7 verified
    assert 'role="img"' in html and '<title id="insights-hourly-title">' in html and "<polyline" in html
    assert "Per hour, the first 48 hours" in html and "Per day, after that" in html
    assert "France" in html and "Germany" in html and "United Kingdom" in html
    assert "newsletter" in html and "66.7%" in html  # 2 of the newsletter's 3 verified
    assert "Step reached" in html
    assert csv_url(reported, "series") in html


def test_the_report_and_the_dashboard_run_no_query_over_the_signatures_table(reported, lead, client):
    client.force_login(lead)

    with CaptureQueriesContext(connection) as report_queries:
        assert client.get(report_url(reported)).status_code == 200
    with CaptureQueriesContext(connection) as csv_queries:
        assert client.get(csv_url(reported, "sources")).status_code == 200
    with CaptureQueriesContext(connection) as dashboard_queries:
        dashboard = client.get(reverse("wagtailadmin_home"))

    assert report_queries.captured_queries and dashboard_queries.captured_queries
    assert signature_queries(report_queries.captured_queries) == []
    assert signature_queries(csv_queries.captured_queries) == []
    assert signature_queries(dashboard_queries.captured_queries) == []
    assert report_url(reported) in dashboard.content.decode()


def test_the_dashboard_lists_the_leads_own_live_petitions_only(reported, lead, client, campaign_b):
    elsewhere = PetitionPageFactory(parent=campaign_b, title="Somebody else's petition")
    client.force_login(lead)

    html = client.get(reverse("wagtailadmin_home")).content.decode()

    assert reported.title in html and report_url(reported) in html
    assert elsewhere.title not in html and report_url(elsewhere) not in html


def test_a_lead_of_another_campaign_gets_a_404_for_the_report_and_its_csv(reported, client, campaign_b):
    client.force_login(LeadFactory(campaigns=[campaign_b]))

    assert client.get(report_url(reported)).status_code == 404
    assert client.get(csv_url(reported)).status_code == 404


def test_a_user_who_may_not_view_signatures_gets_a_403(reported, client, django_user_model):
    editor = django_user_model.objects.create_user("editor", password="x")
    editor.groups.add(Group.objects.get(name="Editors"))
    client.force_login(editor)

    assert client.get(report_url(reported)).status_code == 403
    assert client.get(csv_url(reported)).status_code == 403


def test_a_page_that_is_no_petition_or_no_page_at_all_is_a_404(index_page, lead, client):
    client.force_login(lead)

    assert client.get(report_url(index_page)).status_code == 404
    assert client.get(reverse("petitions_insights:petition", args=[987654321])).status_code == 404
    assert client.get("/admin/petitions/insights/not-a-number/").status_code == 404


def test_an_unknown_csv_kind_is_a_400_that_names_the_choices(reported, lead, client):
    client.force_login(lead)

    response = client.get(csv_url(reported, "everything"))

    assert response.status_code == 400
    assert "series, sources" in response.content.decode()


def test_a_petition_with_no_signatures_yet_shows_a_report_without_a_chart(petition, lead, client):
    client.force_login(lead)

    response = client.get(report_url(petition))

    assert response.status_code == 200
    assert "petition-insights-chart" not in response.content.decode().split("</style>")[1]


def test_the_series_csv_has_every_bucket_and_adds_up_to_the_totals(reported, lead, client):
    client.force_login(lead)

    response = client.get(csv_url(reported))

    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.startswith("\ufeff".encode())  # a byte order mark: Excel reads UTF-8
    header, *rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert header == ["Period start", "Period", "Signed", "Verified"]
    assert rows[0][0] == START.isoformat() and rows[0][1] == "hour"
    assert sum(int(row[2]) for row in rows) == 7 and sum(int(row[3]) for row in rows) == 4


def test_the_sources_csv_never_hands_a_spreadsheet_a_formula(petition, reconcile, lead, client):
    sign_at(petition, START, verified_after=HOUR, source='=HYPERLINK("http://evil")')
    sign_at(petition, START, source="partner-x")
    reconcile()
    client.force_login(lead)

    response = client.get(csv_url(petition, "sources"))

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Source", "Signed", "Verified", "Conversion (%)"]
    assert ['\'=HYPERLINK("http://evil")', "1", "1", "100.0"] in rows
    assert ["partner-x", "1", "0", "0.0"] in rows


def test_a_petitions_admin_header_links_to_its_insights(reported, admin_client):
    response = admin_client.get(reverse("wagtailadmin_pages:edit", args=[reported.pk]))

    assert response.status_code == 200
    assert report_url(reported) in response.content.decode()


def test_the_report_lays_out_right_to_left_in_arabic(reported, lead, client):
    UserProfile.get_for_user(lead).__class__.objects.filter(user=lead).update(preferred_language="ar")
    client.force_login(lead)

    html = client.get(report_url(reported)).content.decode()

    assert 'dir="rtl"' in html
    # The chart's coordinates stay numbers SVG reads ("320.5"), never localised ("320,5").
    assert 'role="img"' in html and not re.search(r' (x|y|x1|x2|y1|y2)="\d+,\d', html)
    style = html.split("<style>", 1)[1].split("</style>")[0]
    assert "margin-inline" in style and not re.search(r"(margin|padding)-(left|right)|text-align: (left|right)", style)
