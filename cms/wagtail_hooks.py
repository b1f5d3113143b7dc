from wagtail import hooks
from wagtail.admin.panels import FieldPanel
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from . import counters
from .models import Official, Signature


class OfficialViewSet(SnippetViewSet):
    model = Official
    icon = "user"
    menu_label = "Officials"
    list_display = ["name", "title", "organisation", "email"]
    search_fields = ["name", "organisation"]


class SignatureViewSet(SnippetViewSet):
    """Signatures, for campaign leads: browse, filter, export, hide from the feed."""

    model = Signature
    icon = "group"
    menu_label = "Signatures"
    list_display = ["first_name", "last_name", "country", "status", "created_at", "verified_at", "hidden_from_feed"]
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
    """A name a lead hides leaves the cached feed now, not at the next reconcile."""
    if isinstance(instance, Signature):
        petition = instance.petition.specific
        counters.get_store().set_feed(petition.pk, counters.feed_from_database(petition.pk, petition))
