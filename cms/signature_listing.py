"""The signatures listing for campaign leads: a Wagtail ``ModelViewSet`` (issue 14).

Filters (a django-filter ``FilterSet``), search, CSV/XLSX export through Wagtail's
``SpreadsheetExportMixin`` and the bulk actions (``cms.signature_actions``) all read one
queryset: the signatures of the petitions under the lead's granted campaigns
(``cms.permissions.petitions_for``). A petition, signature or id outside it is a 4xx, never
a 500 and never a hint that it exists.

Fast at a million rows: the first page is an index scan on ``(petition, created_at)`` or
``created_at`` (migration 0019), and the search compares prefixes of indexed columns (an
address in its canonical form, a first or last name), never ``LIKE '%…%'`` over every row.
"""

import django_filters
from django import forms
from django.db.models import F, OuterRef, Q, Subquery
from django.http import Http404, HttpResponseForbidden
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.formats import number_format
from django.utils.functional import cached_property
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from django_countries import countries
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.paginator import WagtailPaginator
from wagtail.admin.panels import FieldPanel
from wagtail.admin.ui.tables import BooleanColumn, BulkActionsCheckboxColumn, Column
from wagtail.admin.views.generic import DeleteView, EditView, HistoryView, IndexView
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.widgets import BooleanRadioSelect
from wagtail.models import Page
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import register_permission_policy

from . import erasure, fraud
from .addresses import normalize_email
from .conf import get_setting, get_signature_model
from .models import ErasureLog, PetitionMixin
from .permissions import VIEW_SIGNATURES, petitions_for
from .spreadsheets import spreadsheet_safe

#: Rows read per database round trip while an export streams.
EXPORT_CHUNK = 2000


def granted_signatures(user, queryset=None):
    """The signatures (of ``queryset``, else all) on petitions under the user's granted campaigns."""
    if queryset is None:
        queryset = get_signature_model().objects.all()
    return queryset.filter(petition__in=petitions_for(user, VIEW_SIGNATURES))


def petition_choices(user):
    """The petitions (live or not) the user may list, by title: the petition filter's choices.

    One choice per petition: its translations' signatures are stored under the page the others were
    translated from (``cms.translations``), so only that page is offered.
    """
    ids = [page.pk for page in petitions_for(user, VIEW_SIGNATURES).specific() if isinstance(page, PetitionMixin)]
    first_of_group = Page.objects.filter(translation_key=OuterRef("translation_key")).order_by("pk").values("pk")[:1]
    return (
        Page.objects.filter(pk__in=ids)
        .annotate(first_of_group=Subquery(first_of_group))
        .filter(pk=F("first_of_group"))
        .order_by("title")
    )


def search_signatures(queryset, query):
    """Rows whose address is ``query`` (canonical form), or whose first or last name starts with it.

    Prefixes, not substrings: each is an index range scan (migration 0019), fast at a million rows.
    "Ada Lov" also finds first name "Ada…" with last name "Lov…".
    """
    query = " ".join(query.split())
    if not query:
        return queryset
    if "@" in query:
        return queryset.filter(email_normalized=normalize_email(query))
    match = Q(first_name__istartswith=query) | Q(last_name__istartswith=query)
    first, _space, last = query.partition(" ")
    if last:
        match |= Q(first_name__istartswith=first, last_name__istartswith=last)
    return queryset.filter(match)


class SignatureFilterSet(WagtailFilterSet):
    """What a lead narrows the listing by. The petition choices are the lead's own petitions only."""

    petition = django_filters.ModelChoiceFilter(
        queryset=lambda request: petition_choices(request.user), label=_("Petition"), empty_label=_("All")
    )
    status = django_filters.ChoiceFilter(
        choices=get_signature_model().Status.choices,
        label=_("Status"),
        empty_label=_("All"),
        widget=forms.RadioSelect,
    )
    country = django_filters.ChoiceFilter(choices=lambda: list(countries), label=_("Country"), empty_label=_("All"))
    signed = django_filters.DateFromToRangeFilter(
        field_name="created_at", label=_("Signed between"), widget=DateRangePickerWidget
    )
    source = django_filters.CharFilter(label=_("Source"), help_text=_("The source code, exactly."))
    show_in_feed = django_filters.BooleanFilter(
        label=_("Shown in feed"), method="filter_shown", widget=BooleanRadioSelect
    )

    class Meta:
        model = get_signature_model()
        fields = ["petition", "status", "country", "signed", "source", "show_in_feed"]

    def filter_shown(self, queryset, name, value):
        # "Shown" is what the public sees: the signer allowed it and no lead hid it.
        shown = Q(show_in_feed=True, hidden_from_feed=False)
        return queryset.filter(shown if value else ~shown)


class LeadPermissionPolicy(ModelPermissionPolicy):
    """Django's model permissions, except that nobody adds a signature here: only a signer signs."""

    def user_has_permission(self, user, action):
        return action != "add" and super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return super().user_has_any_permission(user, [action for action in actions if action != "add"])


class GrantedObjectMixin:
    """One signature's admin pages: outside the user's grants it is a 404, as if it did not exist."""

    def get_object(self, *args, **kwargs):
        obj = super().get_object(*args, **kwargs)
        if not granted_signatures(self.request.user, type(obj).objects.filter(pk=obj.pk)).exists():
            raise Http404(gettext("No such signature"))
        return obj


class _ExportRows:
    """The export's rows, streamed from the database in chunks (a million objects do not fit in memory)."""

    def __init__(self, queryset):
        self.model = queryset.model
        self.queryset = queryset

    def __iter__(self):
        return self.queryset.iterator(chunk_size=EXPORT_CHUNK)


class CappedCountPaginator(WagtailPaginator):
    """Counts at most ``LISTING_COUNT_LIMIT`` rows (one bounded subquery), not every row per page view."""

    @cached_property
    def limit(self):
        return get_setting("LISTING_COUNT_LIMIT")

    @cached_property
    def count(self):
        return self.object_list[: self.limit + 1].count()

    @cached_property
    def is_capped(self):
        return self.count > self.limit

    @cached_property
    def items_count_label(self):
        if self.is_capped:
            return gettext("More than %(count)s signatures") % {"count": number_format(self.limit, force_grouping=True)}
        return ngettext("%(count)s signature", "%(count)s signatures", self.count) % {
            "count": number_format(self.count, force_grouping=True)
        }


class SignatureIndexView(IndexView):
    """The listing (the user's granted campaigns only), its filters, search, export and bulk actions."""

    template_name = "petitions/admin/signatures_index.html"
    page_title = _("Signatures")
    paginator_class = CappedCountPaginator
    #: Only what the signer consented to pass on leaves the site, as in a delivery's list (``cms.exports``):
    #: name and country of verified signers who agreed to be named, the postcode with its own consent.
    CONSENTED_FIELDS = ("first_name", "last_name", "country")

    def get_base_queryset(self):
        return granted_signatures(self.request.user, super().get_base_queryset()).select_related("petition")

    def search_queryset(self, queryset):
        if not self.is_searching:
            return queryset
        return search_signatures(queryset, self.search_query)

    def get(self, request, *args, **kwargs):
        # An invalid filter (another campaign's petition, a malformed date) is the client's error, said so.
        if self.filters is not None and not self.filters.is_valid():
            return TemplateResponse(
                request,
                "petitions/admin/signatures_bad_filter.html",
                {"errors": self.filters.errors, "index_url": self.index_url, "page_title": gettext("Signatures")},
                status=404 if "petition" in self.filters.errors else 400,
            )
        return super().get(request, *args, **kwargs)

    @cached_property
    def columns(self):
        return [BulkActionsCheckboxColumn("bulk_actions", obj_type="signature"), *super().columns]

    def _get_title_column(self, *args, **kwargs):
        return super()._get_title_column(
            *args, **kwargs, get_title_id=lambda instance: f"signature_{instance.pk}_title"
        )

    def get_list_buttons(self, instance):
        # No per-row "More" menu: the name links to the signature's page, which has them. A dropdown
        # per row is most of the first page's rendering time (bench/listing.py).
        return []

    def as_spreadsheet(self, queryset, spreadsheet_format):
        return super().as_spreadsheet(_ExportRows(queryset), spreadsheet_format)

    def to_row_dict(self, item):
        row = super().to_row_dict(item)
        consented = item.status == item.Status.VERIFIED and item.share_with_officials
        for field in self.CONSENTED_FIELDS:
            if field in row and not consented:
                row[field] = ""
        if "postcode" in row and not (consented and item.share_postcode_with_officials):
            row["postcode"] = ""
        return row

    def preprocess_field_value(self, field, value, export_format):
        # Wagtail's SpreadsheetExportMixin passes every cell, CSV and XLSX, through here.
        # (Its XLSX writer stores "=..." as text already, but not "-2+3" or "@SUM(...)".)
        return spreadsheet_safe(super().preprocess_field_value(field, value, export_format))


class SignatureEditView(GrantedObjectMixin, EditView):
    def save_instance(self):
        instance = super().save_instance()
        # A name a lead hides leaves the cached feed now; a status changed by hand is recounted.
        fraud.request_recount([instance.petition_id])
        erasure.refresh_feeds([instance.petition_id])
        return instance


class SignatureDeleteView(GrantedObjectMixin, DeleteView):
    def delete_action(self):
        # An erasure like any other: logged without the address, recounted, the feed rebuilt
        # (Wagtail's own delete would log the signature's name in the admin's history).
        erasure.erase_signatures([self.object.pk], reason=ErasureLog.Reason.LEAD, actor=self.request.user)


class SignatureHistoryView(GrantedObjectMixin, HistoryView):
    pass


class SignatureViewSet(ModelViewSet):
    """Signatures, for campaign leads: browse, filter, search, export, hide, invalidate, restore."""

    model = get_signature_model()
    name = "petitions_signatures"
    url_prefix = "petitions/signatures"
    icon = "group"
    menu_label = _("Signatures")
    menu_order = 240
    add_to_admin_menu = True
    index_view_class = SignatureIndexView
    edit_view_class = SignatureEditView
    delete_view_class = SignatureDeleteView
    history_view_class = SignatureHistoryView
    inspect_view_enabled = False
    copy_view_enabled = False
    filterset_class = SignatureFilterSet
    search_fields = ["first_name", "last_name", "email_normalized"]  # see search_signatures
    ordering = ["-created_at", "-pk"]
    list_per_page = 25
    list_display = [
        "first_name",
        "last_name",
        "petition",
        "country",
        "status",
        "source",
        Column("created_at", label=_("Signed"), sort_key="created_at"),
        # What the public sees: the signer allowed it and no lead hid it (as the "Shown in feed" filter).
        BooleanColumn(
            "shown_in_feed", label=_("Shown in feed"), accessor=lambda s: s.show_in_feed and not s.hidden_from_feed
        ),
    ]
    list_export = [
        "id", "petition_id", "first_name", "last_name", "country", "postcode", "status", "source", "created_at",
        "verified_at", "share_with_officials",
    ]  # fmt: skip
    export_filename = "signatures"
    # What the signer gave is shown, never editable: a lead moderates (hides from the feed, changes
    # the status), and only the signer's own link changes their data (issue 10).
    panels = [
        *(
            FieldPanel(name, read_only=True)
            for name in (
                "first_name", "last_name", "country", "postcode", "show_in_feed", "feed_name",
                "share_with_officials", "share_postcode_with_officials", "opt_in_updates", "consent_version",
                "consent_given_at",
            )
        ),
        FieldPanel("hidden_from_feed"),
        FieldPanel("status"),
    ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        # Wagtail 8 asks for a model's policy in its registry, before the viewset registers.
        register_permission_policy(self.model, LeadPermissionPolicy(self.model), exact_class=True)
        super().__init__(*args, **kwargs)

    def get_urlpatterns(self):
        # Nobody adds a signature in the admin: the add URL answers 403 whoever asks.
        return [pattern for pattern in super().get_urlpatterns() if getattr(pattern, "name", None) != "add"] + [
            path("new/", _no_adding, name="add")
        ]


def _no_adding(request):
    # A plain 403, not Wagtail's redirect to the dashboard, so the refusal reads as one to any client.
    return HttpResponseForbidden(gettext("Signatures are added by signing, not in the admin."))


class LegacyRedirect(RedirectView):
    """The snippet listing's old URLs (bookmarks, links in emails) lead to the same page here."""

    query_string = True

    def get_redirect_url(self, *args, **kwargs):
        self.pattern_name = f"{SignatureViewSet.name}:{kwargs.pop('view')}"
        return super().get_redirect_url(*args, **kwargs)


def legacy_urlpatterns():
    return [
        path("", LegacyRedirect.as_view(), {"view": "index"}, name="list"),
        path("edit/<str:pk>/", LegacyRedirect.as_view(), {"view": "edit"}, name="edit"),
        path("delete/<str:pk>/", LegacyRedirect.as_view(), {"view": "delete"}, name="delete"),
        path("history/<str:pk>/", LegacyRedirect.as_view(), {"view": "history"}, name="history"),
    ]
