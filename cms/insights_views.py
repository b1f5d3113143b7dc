"""The admin's insights: one report per petition, its CSV, and the dashboard panel of a lead's petitions.

Who sees which petition is ``cms.permissions.petitions_for`` (the view-signatures permission,
within the lead's campaign grants); a petition outside it, or a page that is no petition, is a
404, so ids do not leak. The figures are ``cms.insights_report``'s, from the aggregates alone.
"""

import csv

from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.text import slugify
from django.utils.translation import gettext, ngettext, pgettext
from wagtail.admin.ui.components import Component
from wagtail.models import get_page_models

from . import insights_chart, insights_report, offline
from .conf import get_setting
from .mail_views import require_view_signatures_permission
from .models import PetitionMixin
from .permissions import VIEW_SIGNATURES, petitions_for
from .spreadsheets import CSV_BOM, spreadsheet_safe


def petition_models():
    return [model for model in get_page_models() if issubclass(model, PetitionMixin) and not model._meta.abstract]


def granted_petition(user, page_id):
    """The petition ``page_id`` (its specific page) if ``user`` may see its insights; else Http404.

    Its figures are read under ``page.canonical_id``: a translation shows its petition's.
    """
    page = petitions_for(user, VIEW_SIGNATURES).filter(pk=page_id).type(*petition_models()).first()
    if page is None:
        raise Http404(gettext("No such petition"))
    return page.specific_deferred


@require_view_signatures_permission
def insights(request, page_id):
    page = granted_petition(request.user, page_id)
    # A translation's signatures and aggregates are its canonical page's (cms.translations).
    report = insights_report.petition_report(page.canonical_id, closed_at=getattr(page, "closes_at", None))
    hours = report["hourly_hours"]
    charts = [
        (
            "insights-hourly",
            ngettext("Per hour, the first %(hours)s hour", "Per hour, the first %(hours)s hours", hours)
            % {"hours": hours},
            [bucket for bucket in report["series"] if bucket.hourly],
        ),
        (
            "insights-daily",
            gettext("Per day, after that"),
            [bucket for bucket in report["series"] if not bucket.hourly],
        ),
    ]
    context = {
        **report,
        "petition": page,
        "charts": [
            {"id": chart_id, "title": title, "chart": insights_chart.chart(buckets)}
            for chart_id, title, buckets in charts
            if buckets
        ],
        "page_title": gettext("Insights"),
        "page_subtitle": page.get_admin_display_title(),
        "header_icon": "view",
    }
    return render(request, "petitions/admin/insights.html", context)


#: The CSV files of a report: the chart's series, every source with its conversion, the paper batches per day.
CSV_KINDS = ("series", "sources", "paper")


@require_view_signatures_permission
def insights_csv(request, page_id):
    kind = request.GET.get("kind", "series")
    if kind not in CSV_KINDS:
        return HttpResponseBadRequest(
            gettext("Unknown CSV “%(kind)s”: ask for one of %(kinds)s.")
            % {"kind": kind[:40], "kinds": ", ".join(CSV_KINDS)},
            content_type="text/plain; charset=utf-8",
        )
    page = granted_petition(request.user, page_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="petition-{page.pk}-{slugify(page.slug)}-{kind}.csv"'
    response.write(CSV_BOM)  # a lead opens it in a spreadsheet: see cms.spreadsheets
    writer = csv.writer(response)
    if kind == "series":
        writer.writerow(
            [
                gettext("Period start"),
                gettext("Period"),
                pgettext("insights: how many signed", "Signed"),
                gettext("Verified"),
            ]
        )
        closed_at = getattr(page, "closes_at", None)
        for bucket in insights_report.petition_report(page.canonical_id, closed_at=closed_at)["series"]:
            period = gettext("hour") if bucket.hourly else gettext("day")
            writer.writerow([bucket.start.isoformat(), period, bucket.signed, bucket.verified])
    elif kind == "paper":
        writer.writerow([gettext("Collected on"), gettext("Collected at"), gettext("Offline (paper)"),
                         gettext("Paper total so far")])  # fmt: skip
        for row in offline.paper_series(page.canonical_id):
            # Places are typed by leads: never a formula either.
            writer.writerow([row["day"].isoformat(), spreadsheet_safe(", ".join(row["places"])), row["count"],
                             row["cumulative"]])  # fmt: skip
    else:
        writer.writerow(
            [
                gettext("Source"),
                pgettext("insights: how many signed", "Signed"),
                gettext("Verified"),
                gettext("Conversion (%)"),
            ]
        )
        for row in insights_report.sources(page.canonical_id):
            conversion = "" if row.conversion is None else f"{row.conversion:.1f}"
            # Sources come from the sign request (?source=, data-source): never a formula.
            writer.writerow([spreadsheet_safe(row.source), row.signed, row.verified, conversion])
    return response


def admin_urlpatterns():
    return [
        path("<int:page_id>/", insights, name="petition"),
        path("<int:page_id>/csv/", insights_csv, name="csv"),
    ]


def insights_url(page):
    return reverse("petitions_insights:petition", args=[page.pk])


class LeadPetitionsPanel(Component):
    """The dashboard's panel: the user's live petitions, their verified totals and rates, links to the reports."""

    name = "petition_insights"
    template_name = "petitions/admin/insights_panel.html"
    order = 90

    def __init__(self, user):
        self.user = user

    def get_context_data(self, parent_context):
        context = super().get_context_data(parent_context)
        pages = list(
            petitions_for(self.user, VIEW_SIGNATURES)
            .live()
            .type(*petition_models())
            .order_by("-first_published_at", "-pk")[: get_setting("INSIGHTS_DASHBOARD_PETITIONS")]
        )
        context["rows"] = insights_report.dashboard_rows(pages)
        return context
