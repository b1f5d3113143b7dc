from django.db import transaction
from django.http import Http404
from django.urls import include, path, reverse_lazy
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.chooser import (
    ChooseResultsView,
    ChooseView,
    SnippetChooserViewSet,
    SnippetChosenMultipleView,
    SnippetChosenView,
)
from wagtail.snippets.views.snippets import (
    CreateView,
    DeleteView,
    EditView,
    HistoryView,
    IndexView,
    SnippetViewSet,
    UsageView,
)

from . import admin_views, fraud, fraud_views, mail_views
from .conf import get_signature_model
from .models import CampaignGrant, FraudRule, Official, OfficialResponse
from .permissions import VIEW_SIGNATURES, can_deliver, can_review_fraud, petitions_for
from .spreadsheets import spreadsheet_safe


class OfficialViewSet(SnippetViewSet):
    model = Official
    icon = "user"
    menu_label = "Officials"
    list_display = ["name", "title", "organisation", "email"]
    search_fields = ["name", "organisation"]


def granted_signatures(user, queryset):
    """Only the signatures of petitions under the user's granted campaigns."""
    return queryset.filter(petition__in=petitions_for(user, VIEW_SIGNATURES))


class GrantedSignatureMixin:
    """One signature's admin pages: another campaign's signature is a 404, as if it did not exist."""

    def get_object(self, *args, **kwargs):
        obj = super().get_object(*args, **kwargs)
        if not granted_signatures(self.request.user, type(obj).objects.filter(pk=obj.pk)).exists():
            raise Http404("No such signature")
        return obj


class GrantedChoicesMixin:
    """A snippet chooser's lists and picks: only rows of petitions under the user's granted campaigns."""

    def granted(self, queryset):
        return queryset.filter(petition__in=petitions_for(self.request.user, VIEW_SIGNATURES))

    def get_object_list(self):
        return self.granted(super().get_object_list())

    def get_object(self, pk):
        return self.granted(self.model_class.objects.all()).get(pk=pk)

    def get_objects(self, pks):
        return self.granted(super().get_objects(pks))


class GrantedChooserViewSet(SnippetChooserViewSet):
    choose_view_class = type("GrantedChooseView", (GrantedChoicesMixin, ChooseView), {})
    choose_results_view_class = type("GrantedChooseResultsView", (GrantedChoicesMixin, ChooseResultsView), {})
    chosen_view_class = type("GrantedChosenView", (GrantedChoicesMixin, SnippetChosenView), {})
    chosen_multiple_view_class = type("GrantedChosenMultipleView", (GrantedChoicesMixin, SnippetChosenMultipleView), {})


class SignatureEditView(GrantedSignatureMixin, EditView):
    pass


class SignatureDeleteView(GrantedSignatureMixin, DeleteView):
    pass


class SignatureHistoryView(GrantedSignatureMixin, HistoryView):
    pass


class SignatureUsageView(GrantedSignatureMixin, UsageView):
    pass


class SignatureIndexView(IndexView):
    """The signatures listing (the user's granted campaigns only), whose exports never hand a spreadsheet a formula."""

    def get_base_queryset(self):
        return granted_signatures(self.request.user, super().get_base_queryset())

    def preprocess_field_value(self, field, value, export_format):
        # Wagtail's SpreadsheetExportMixin passes every cell, CSV and XLSX, through here.
        # (Its XLSX writer stores "=..." as text already, but not "-2+3" or "@SUM(...)".)
        return spreadsheet_safe(super().preprocess_field_value(field, value, export_format))


class SignatureViewSet(SnippetViewSet):
    """Signatures, for campaign leads: browse, filter, export, hide from the feed."""

    model = get_signature_model()
    index_view_class = SignatureIndexView
    edit_view_class = SignatureEditView
    delete_view_class = SignatureDeleteView
    history_view_class = SignatureHistoryView
    usage_view_class = SignatureUsageView
    chooser_viewset_class = GrantedChooserViewSet
    icon = "group"
    menu_label = "Signatures"
    list_display = [
        "first_name", "last_name", "country", "status", "created_at", "verified_at", "hidden_from_feed", "ip_address",
    ]  # fmt: skip
    list_filter = ["status", "show_in_feed", "hidden_from_feed", "share_with_officials"]
    list_export = [
        "petition_id",
        "first_name",
        "last_name",
        "country",
        "status",
        "created_at",
        "verified_at",
        "share_with_officials",
    ]
    search_fields = ["first_name", "last_name", "email"]
    ordering = ["-created_at"]
    panels = [FieldPanel("hidden_from_feed"), FieldPanel("status")]


class CampaignGrantViewSet(SnippetViewSet):
    """Which group or user leads which campaign (Settings → Campaign grants; superusers by default)."""

    model = CampaignGrant
    icon = "key"
    menu_label = "Campaign grants"
    add_to_settings_menu = True
    list_display = ["campaign", "group", "user"]


register_snippet(OfficialViewSet)
register_snippet(SignatureViewSet)
register_snippet(CampaignGrantViewSet)


@hooks.register("after_edit_snippet")
def refresh_feed_after_a_signature_edit(request, instance):
    """A name a lead hides leaves the cached feed now, not at the next reconcile.

    A status a lead changes (e.g. invalidated by hand) is recounted at the next reconcile.
    """
    if isinstance(instance, get_signature_model()):
        fraud.request_recount([instance.petition_id])
        petition = instance.petition.specific
        if hasattr(petition, "refresh_feed"):
            petition.refresh_feed()


class GrantedResponseMixin:
    """A response belongs to its petition's campaign: another campaign's is a 404, its petitions not offered.

    (A response can email a petition's signers, so a lead of campaign A must not file one on B.)
    """

    def get_object(self, *args, **kwargs):
        obj = super().get_object(*args, **kwargs)
        if (
            obj is not None
            and not petitions_for(self.request.user, VIEW_SIGNATURES).filter(pk=obj.petition_id).exists()
        ):
            raise Http404("No such response")
        return obj

    def get_form(self, *args, **kwargs):
        form = super().get_form(*args, **kwargs)
        if "petition" in form.fields:
            granted = petitions_for(self.request.user, VIEW_SIGNATURES)
            form.fields["petition"].queryset = form.fields["petition"].queryset.filter(pk__in=granted)
        return form


class ResponseIndexView(IndexView):
    def get_base_queryset(self):
        granted = petitions_for(self.request.user, VIEW_SIGNATURES)
        return super().get_base_queryset().filter(petition__in=granted)


class ResponseCreateView(GrantedResponseMixin, CreateView):
    pass


class ResponseEditView(GrantedResponseMixin, EditView):
    pass


class ResponseDeleteView(GrantedResponseMixin, DeleteView):
    pass


class ResponseHistoryView(GrantedResponseMixin, HistoryView):
    pass


class OfficialResponseViewSet(SnippetViewSet):
    """Officials' responses, recorded by campaign leads, on their own campaigns' petitions."""

    model = OfficialResponse
    index_view_class = ResponseIndexView
    add_view_class = ResponseCreateView
    edit_view_class = ResponseEditView
    delete_view_class = ResponseDeleteView
    history_view_class = ResponseHistoryView
    chooser_viewset_class = GrantedChooserViewSet
    icon = "comment"
    menu_label = "Responses"
    list_display = ["petition", "official", "responded_on", "show_on_page", "signer_updates_sent"]
    panels = [
        FieldPanel("petition"),
        FieldPanel("official"),
        FieldPanel("responded_on"),
        FieldPanel("text"),
        FieldPanel("document"),
        FieldPanel("show_on_page"),
        FieldPanel(
            "signer_updates_requested",
            heading="Email this response to signers who asked for updates (once, in batches)",
        ),
    ]


register_snippet(OfficialResponseViewSet)


def _queue_response_updates(request, instance):
    if (
        isinstance(instance, OfficialResponse)
        and instance.signer_updates_requested
        and not instance.signer_updates_done
    ):
        from workers.tasks import send_signer_updates

        transaction.on_commit(lambda: send_signer_updates.delay("response", instance.pk))


hooks.register("after_create_snippet", _queue_response_updates)
hooks.register("after_edit_snippet", _queue_response_updates)


@hooks.register("register_admin_urls")
def register_delivery_urls():
    return [path("petitions/deliveries/", include((admin_views.urlpatterns(), "petitions_deliveries")))]


@hooks.register("register_admin_urls")
def register_token_urls():
    return [path("petitions/tokens/", include((admin_views.token_urlpatterns(), "petitions_tokens")))]


class LeadTokensMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(VIEW_SIGNATURES)


@hooks.register("register_settings_menu_item")
def register_lead_tokens_menu_item():
    return LeadTokensMenuItem("Lead API tokens", reverse_lazy("petitions_tokens:index"), icon_name="key", order=610)


class DeliveriesMenuItem(MenuItem):
    def is_shown(self, request):
        return can_deliver(request.user)


@hooks.register("register_admin_menu_item")
def register_deliveries_menu_item():
    return DeliveriesMenuItem("Deliveries", reverse_lazy("petitions_deliveries:index"), icon_name="mail", order=250)


class FraudRuleViewSet(SnippetViewSet):
    """Addresses, domains and networks whose signatures are quarantined when confirmed (``cms.fraud``)."""

    model = FraudRule
    icon = "warning"
    menu_label = "Fraud rules"
    add_to_admin_menu = False  # under "Fraud tools"
    list_display = ["kind", "value", "note", "created_at"]
    list_filter = ["kind"]
    search_fields = ["value", "note"]
    panels = [FieldPanel("kind"), FieldPanel("value"), FieldPanel("note")]


register_snippet(FraudRuleViewSet)


@hooks.register("register_admin_urls")
def register_fraud_urls():
    return [path("petitions/fraud/", include((fraud_views.urlpatterns(), "petitions_fraud")))]


class FraudMenuItem(MenuItem):
    def is_shown(self, request):
        return can_review_fraud(request.user)


@hooks.register("register_admin_menu_item")
def register_fraud_menu_item():
    return FraudMenuItem("Fraud tools", reverse_lazy("petitions_fraud:index"), icon_name="warning", order=260)


@hooks.register("register_admin_urls")
def register_email_report_urls():
    return [path("petitions/email-report/", include((mail_views.admin_urlpatterns(), "petitions_email_report")))]


class EmailReportMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(VIEW_SIGNATURES)


@hooks.register("register_reports_menu_item")
def register_email_report_menu_item():
    return EmailReportMenuItem(
        "Bounces and complaints", reverse_lazy("petitions_email_report:index"), icon_name="mail", order=710
    )
