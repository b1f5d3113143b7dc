from django.db import transaction
from django.urls import include, path, reverse_lazy
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import IndexView, SnippetViewSet

from . import admin_views, fraud, fraud_views
from .conf import get_signature_model
from .models import FraudRule, Official, OfficialResponse
from .permissions import can_deliver, can_review_fraud
from .spreadsheets import spreadsheet_safe


class OfficialViewSet(SnippetViewSet):
    model = Official
    icon = "user"
    menu_label = "Officials"
    list_display = ["name", "title", "organisation", "email"]
    search_fields = ["name", "organisation"]


class SignatureIndexView(IndexView):
    """The signatures listing, whose CSV and XLSX exports never hand a spreadsheet a formula."""

    def preprocess_field_value(self, field, value, export_format):
        # Wagtail's SpreadsheetExportMixin passes every cell, CSV and XLSX, through here.
        # (Its XLSX writer stores "=..." as text already, but not "-2+3" or "@SUM(...)".)
        return spreadsheet_safe(super().preprocess_field_value(field, value, export_format))


class SignatureViewSet(SnippetViewSet):
    """Signatures, for campaign leads: browse, filter, export, hide from the feed."""

    model = get_signature_model()
    index_view_class = SignatureIndexView
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


register_snippet(OfficialViewSet)
register_snippet(SignatureViewSet)


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


class OfficialResponseViewSet(SnippetViewSet):
    """Officials' responses, recorded by campaign leads."""

    model = OfficialResponse
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
