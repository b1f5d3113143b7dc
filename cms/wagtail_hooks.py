from django import forms
from django.db import transaction
from django.http import Http404
from django.urls import include, path, reverse_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.admin.widgets import Button
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

from . import (
    admin_views,
    fraud_views,
    insights_views,
    mail_views,
    offline_views,
    signature_actions,
    signature_listing,
    signer_views,
    webhook_views,
)
from .models import CampaignGrant, FraudRule, Official, OfficialResponse, PetitionMixin, WebhookEndpoint
from .permissions import VIEW_SIGNATURES, can_deliver, can_erase, can_review_fraud, petitions_for


class OfficialViewSet(SnippetViewSet):
    model = Official
    icon = "user"
    menu_label = _("Officials")
    list_display = ["name", "title", "organisation", "email"]
    search_fields = ["name", "organisation"]


def of_granted_petitions(user, queryset):
    """Only the rows (signatures, responses) of petitions under the user's granted campaigns."""
    return queryset.filter(petition__in=petitions_for(user, VIEW_SIGNATURES))


class GrantedObjectMixin:
    """One row's admin pages: a row outside the user's grants is a 404, as if it did not exist."""

    #: ``grant(user, queryset)``: the rows of ``queryset`` the user may see.
    grant = staticmethod(of_granted_petitions)

    def get_object(self, *args, **kwargs):
        obj = super().get_object(*args, **kwargs)
        if obj is not None and not self.grant(self.request.user, type(obj).objects.filter(pk=obj.pk)).exists():
            raise Http404(gettext("No such %(model)s") % {"model": type(obj)._meta.verbose_name})
        return obj


class GrantedIndexMixin:
    """A listing (and its exports) of the rows within the user's grants only."""

    grant = staticmethod(of_granted_petitions)

    def get_base_queryset(self):
        return self.grant(self.request.user, super().get_base_queryset())


def granted(view_class, grant=of_granted_petitions, **attrs):
    """``view_class`` that shows only the rows ``grant`` lets the user see."""
    mixin = GrantedIndexMixin if issubclass(view_class, IndexView) else GrantedObjectMixin
    return type(f"Granted{view_class.__name__}", (mixin, view_class), {"grant": staticmethod(grant), **attrs})


class GrantedChoicesMixin:
    """A snippet chooser's lists and picks: only rows of petitions under the user's granted campaigns."""

    def granted(self, queryset):
        return of_granted_petitions(self.request.user, queryset)

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


class CampaignGrantViewSet(SnippetViewSet):
    """Which group or user leads which campaign (Settings → Campaign grants; superusers by default)."""

    model = CampaignGrant
    icon = "key"
    menu_label = _("Campaign grants")
    add_to_settings_menu = True
    list_display = ["campaign", "group", "user"]


register_snippet(OfficialViewSet)
register_snippet(CampaignGrantViewSet)


@hooks.register("register_admin_viewset")
def register_signature_listing():
    """The signatures listing (issue 14): a ModelViewSet with filters, search, exports and bulk actions."""
    return signature_listing.SignatureViewSet()


@hooks.register("register_admin_viewset")
def register_offline_batches():
    """Paper signatures (issue 14): batches collected offline, added and voided by campaign leads."""
    return offline_views.OfflineBatchViewSet()


for _action in signature_actions.ACTIONS:
    hooks.register("register_bulk_action", _action)


@hooks.register("register_admin_urls")
def register_old_signature_urls():
    """The listing was a snippet: its old addresses redirect to the same page of the viewset."""
    return [
        path(
            "snippets/petitions_cms/signature/",
            include((signature_listing.legacy_urlpatterns(), "wagtailsnippets_petitions_cms_signature")),
        )
    ]


class ResponseFormMixin:
    """A response is filed on one of the lead's own petitions (it can email that petition's signers)."""

    def get_form(self, *args, **kwargs):
        form = super().get_form(*args, **kwargs)
        if "petition" in form.fields:
            granted = petitions_for(self.request.user, VIEW_SIGNATURES)
            form.fields["petition"].queryset = form.fields["petition"].queryset.filter(pk__in=granted)
        return form


class OfficialResponseViewSet(SnippetViewSet):
    """Officials' responses, recorded by campaign leads, on their own campaigns' petitions."""

    model = OfficialResponse
    # A response belongs to its petition's campaign: another campaign's is a 404, its petitions not offered.
    index_view_class = granted(IndexView)
    add_view_class = type("ResponseCreateView", (ResponseFormMixin, CreateView), {})
    edit_view_class = granted(type("ResponseEditView", (ResponseFormMixin, EditView), {}))
    delete_view_class = granted(DeleteView)
    history_view_class = granted(HistoryView)
    chooser_viewset_class = GrantedChooserViewSet
    icon = "comment"
    menu_label = _("Responses")
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
            heading=_("Email this response to signers who asked for updates (once, in batches)"),
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
    return LeadTokensMenuItem(_("Lead API tokens"), reverse_lazy("petitions_tokens:index"), icon_name="key", order=610)


class DeliveriesMenuItem(MenuItem):
    def is_shown(self, request):
        return can_deliver(request.user)


@hooks.register("register_admin_menu_item")
def register_deliveries_menu_item():
    return DeliveriesMenuItem(_("Deliveries"), reverse_lazy("petitions_deliveries:index"), icon_name="mail", order=250)


class FraudRuleForm(WagtailAdminModelForm):
    """A lead's rule watches one of their campaigns; a rule for every campaign is a superuser's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        user = self.for_user
        if user is not None and "campaign" in self.fields:
            # A list of the user's campaigns, not Wagtail's page chooser, which browses every page.
            self.fields["campaign"].widget = forms.Select()
            self.fields["campaign"].queryset = fraud_views.campaign_choices(user)
            self.fields["campaign"].empty_label = (
                gettext("Every campaign") if user.is_superuser else gettext("Choose a campaign")
            )

    def clean(self):
        cleaned = super().clean()
        user = self.for_user
        if user is not None and not user.is_superuser and not cleaned.get("campaign"):
            self.add_error(
                "campaign", gettext("Choose one of your campaigns: a rule for every campaign is a superuser's.")
            )
        return cleaned


def granted_rules(user, queryset):
    """The rules of the user's campaigns; those of every campaign only for a superuser."""
    if user.is_superuser:
        return queryset
    return queryset.filter(campaign__in=fraud_views.scope(user))


class FraudRuleViewSet(SnippetViewSet):
    """Addresses, domains and networks whose signatures are quarantined when confirmed (``cms.fraud``)."""

    model = FraudRule
    icon = "warning"
    menu_label = _("Fraud rules")
    add_to_admin_menu = False  # under "Fraud tools"
    index_view_class = granted(IndexView, granted_rules)
    edit_view_class = granted(EditView, granted_rules)
    delete_view_class = granted(DeleteView, granted_rules)
    history_view_class = granted(HistoryView, granted_rules)
    usage_view_class = granted(UsageView, granted_rules)
    list_display = ["kind", "value", "campaign", "note", "created_at"]
    list_filter = ["kind"]
    search_fields = ["value", "note"]
    edit_handler = ObjectList(
        [FieldPanel("kind"), FieldPanel("value"), FieldPanel("campaign"), FieldPanel("note")],
        base_form_class=FraudRuleForm,
    )


register_snippet(FraudRuleViewSet)


@hooks.register("register_admin_urls")
def register_fraud_urls():
    return [path("petitions/fraud/", include((fraud_views.urlpatterns(), "petitions_fraud")))]


class FraudMenuItem(MenuItem):
    def is_shown(self, request):
        return can_review_fraud(request.user)


@hooks.register("register_admin_menu_item")
def register_fraud_menu_item():
    return FraudMenuItem(_("Fraud tools"), reverse_lazy("petitions_fraud:index"), icon_name="warning", order=260)


@hooks.register("register_admin_urls")
def register_signer_urls():
    return [path("petitions/signers/", include((signer_views.urlpatterns(), "petitions_signers")))]


class SignersMenuItem(MenuItem):
    def is_shown(self, request):
        return can_erase(request.user)


@hooks.register("register_admin_menu_item")
def register_signers_menu_item():
    return SignersMenuItem(_("Signers' rights"), reverse_lazy("petitions_signers:index"), icon_name="user", order=265)


@hooks.register("register_admin_urls")
def register_email_report_urls():
    return [path("petitions/email-report/", include((mail_views.admin_urlpatterns(), "petitions_email_report")))]


class EmailReportMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(VIEW_SIGNATURES)


@hooks.register("register_reports_menu_item")
def register_email_report_menu_item():
    return EmailReportMenuItem(
        _("Bounces and complaints"), reverse_lazy("petitions_email_report:index"), icon_name="mail", order=710
    )


@hooks.register("register_admin_urls")
def register_insights_urls():
    return [path("petitions/insights/", include((insights_views.admin_urlpatterns(), "petitions_insights")))]


def _insights_button(page, user, priority):
    """ "Insights" on a petition the user may see signatures of (the report itself checks the grant)."""
    if issubclass(page.specific_class or object, PetitionMixin) and user.has_perm(VIEW_SIGNATURES):
        return Button(_("Insights"), insights_views.insights_url(page), icon_name="view", priority=priority)
    return None


@hooks.register("register_page_header_buttons")
def insights_header_button(page, user, view_name, next_url=None):
    button = _insights_button(page, user, priority=66)
    return [button] if button else []


@hooks.register("register_page_listing_more_buttons")
def insights_listing_button(page, user, next_url=None):
    button = _insights_button(page, user, priority=55)
    return [button] if button else []


@hooks.register("construct_homepage_panels")
def add_insights_panel(request, panels):
    if request.user.has_perm(VIEW_SIGNATURES):
        panels.append(insights_views.LeadPetitionsPanel(request.user))


class WebhookEndpointViewSet(SnippetViewSet):
    """URLs that receive a campaign's events, signed (``cms.webhooks``; docs/api.md "Webhooks")."""

    model = WebhookEndpoint
    icon = "link"
    menu_label = _("Webhooks")
    add_to_settings_menu = True
    index_view_class = granted(IndexView, webhook_views.granted_endpoints)
    edit_view_class = granted(EditView, webhook_views.granted_endpoints)
    delete_view_class = granted(DeleteView, webhook_views.granted_endpoints)
    history_view_class = granted(HistoryView, webhook_views.granted_endpoints)
    usage_view_class = granted(UsageView, webhook_views.granted_endpoints)
    list_display = ["url", "campaign", "active", "counts_only", "created_at"]
    edit_handler = ObjectList(
        [
            FieldPanel("campaign"),
            FieldPanel("url"),
            FieldPanel("events"),
            FieldPanel("active"),
            FieldPanel("counts_only"),
            FieldPanel("secret", read_only=True),
        ],
        base_form_class=webhook_views.WebhookEndpointForm,
    )


register_snippet(WebhookEndpointViewSet)


@hooks.register("register_admin_urls")
def register_webhook_urls():
    return [path("petitions/webhooks/", include((webhook_views.urlpatterns(), "petitions_webhooks")))]


class WebhookEventsMenuItem(MenuItem):
    def is_shown(self, request):
        return can_deliver(request.user)


@hooks.register("register_settings_menu_item")
def register_webhook_events_menu_item():
    return WebhookEventsMenuItem(
        _("Webhook events"), reverse_lazy("petitions_webhooks:events"), icon_name="link", order=620
    )
