"""The blocks editors compose petition pages from.

Blocks render stored values only: the counter and feed read the cached
aggregate through the page (``get_signature_count``, ``get_feed``), never a
COUNT. The sign form block renders the page's form; the page handles the POST.
"""

from urllib.parse import quote

from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.api.rich_text import APIRichText
from wagtail.images.blocks import ImageChooserBlock
from wagtail.snippets.blocks import SnippetChooserBlock

from .api import page_from_api_context
from .values import CounterValue, LetterValue

# Wagtail offers a block in the chooser's preview only when it has a preview
# template (``is_previewable``); a ``preview_value`` alone is not enough.
# Ours is Wagtail's, with the petition stylesheet.
PREVIEW_TEMPLATE = "petitions/blocks/block_preview.html"

PREVIEW_FEED = [
    {"name": "Stefanie", "hours": 4},
    {"name": "Alexis", "hours": 48},
    {"name": "Alicia", "hours": 480},
]


def signed_ago(at, now):
    """ "4 hours ago", or "just now" for the first minute."""
    if now - at < timezone.timedelta(minutes=1):
        return gettext("just now")
    return gettext("%(time)s ago") % {"time": timesince(at, now, depth=1)}


def _page_from(parent_context):
    return (parent_context or {}).get("page")


class CaptionedImageBlock(blocks.StructBlock):
    image = ImageChooserBlock(label=_("Image"))
    caption = blocks.CharBlock(required=False, label=_("Caption"))
    attribution = blocks.CharBlock(required=False, label=_("Credit"))

    class Meta:
        icon = "image"
        template = "petitions/blocks/captioned_image_block.html"
        description = _("An image with an optional caption and credit")


class LetterBlock(blocks.StructBlock):
    greeting = blocks.CharBlock(
        default="Dear",
        label=_("Greeting"),
        help_text=_('Followed by the officials, e.g. "Dear Secretary Blinken,"'),
    )
    officials = blocks.ListBlock(
        SnippetChooserBlock("petitions_cms.Official"),
        label=_("Officials"),
        help_text=_("Who the letter is addressed to (and delivered to)."),
    )
    body = blocks.RichTextBlock(features=["bold", "italic", "link", "ol", "ul"], label=_("Body"))
    sign_off = blocks.CharBlock(default="Sincerely,", required=False, label=_("Sign-off"))
    signatories = blocks.CharBlock(default="The undersigned", required=False, label=_("Signatories"))

    class Meta:
        icon = "mail"
        template = "petitions/blocks/letter_block.html"
        value_class = LetterValue
        description = _("An open letter addressed to officials")
        preview_template = PREVIEW_TEMPLATE
        preview_value = {
            "greeting": "Dear Secretary Blinken",  # no officials: a preview cannot refer to rows
            "officials": [],
            "body": "<p>We, the undersigned, ask that you act.</p>",
            "sign_off": "Sincerely,",
            "signatories": "The undersigned",
        }

    def get_api_representation(self, value, context=None):
        """The settings, the salutation, and the officials' public names (never their addresses)."""
        representation = super().get_api_representation(value, context)
        representation["salutation"] = value.salutation()
        representation["officials"] = [
            {"id": o.pk, "name": o.name, "title": o.title, "organisation": o.organisation}
            for o in value.get("officials") or []
            if o is not None
        ]
        return representation


class SignFormBlock(blocks.StructBlock):
    heading = blocks.CharBlock(default="Will you sign?", label=_("Heading"))
    text = blocks.RichTextBlock(required=False, features=["bold", "italic", "link"], label=_("Text"))
    button_label = blocks.CharBlock(default="Sign the petition", label=_("Button label"))

    class Meta:
        icon = "form"
        template = "petitions/blocks/sign_form_block.html"
        description = _("The form people sign with (its fields are set on the page's Petition tab)")
        preview_template = PREVIEW_TEMPLATE
        preview_value = {"heading": "Will you sign?", "button_label": "Sign the petition"}

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        page = _page_from(parent_context)
        context["form"] = (parent_context or {}).get("form")
        if context["form"] is None and page is not None and hasattr(page, "get_form"):
            context["form"] = page.get_form()
        context["accepting"] = page.signing_status() if page is not None and hasattr(page, "signing_status") else None
        return context

    def get_api_representation(self, value, context=None):
        """The settings, plus whether the page accepts signatures now (and why not)."""
        representation = super().get_api_representation(value, context)
        page = page_from_api_context(context)
        if hasattr(page, "signing_status"):
            status = page.signing_status()
            representation.update(accepting=bool(status), refusal=status.message)
        return representation


class CounterBlock(blocks.StructBlock):
    label = blocks.CharBlock(default="people already signed", label=_("Label"))
    goal = blocks.IntegerBlock(
        required=False, min_value=1, label=_("Goal"), help_text=_("Leave blank to use the page's goal.")
    )
    show_progress = blocks.BooleanBlock(default=True, required=False, label=_("Show the progress bar"))

    class Meta:
        icon = "order"
        template = "petitions/blocks/counter_block.html"
        value_class = CounterValue
        description = _("The live count of verified signatures, with a goal and progress bar")
        preview_template = PREVIEW_TEMPLATE
        preview_value = {"label": "people already signed", "goal": 1000, "show_progress": True}

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        page = _page_from(parent_context)
        count = page.get_signature_count() if hasattr(page, "get_signature_count") else 640
        goal = value.goal_for(page)
        context.update(
            count=count,
            goal=goal,
            percent=min(100, round(100 * count / goal)) if goal else None,
        )
        return context

    def get_api_representation(self, value, context=None):
        """The settings, plus the live count, goal and percentage (from the cache, as the page shows them)."""
        representation = super().get_api_representation(value, context)
        page = page_from_api_context(context)
        if hasattr(page, "get_signature_count"):
            live = self.get_context(value, {"page": page})
            representation.update(count=live["count"], goal=live["goal"], percent=live["percent"])
        return representation


class SignerFeedBlock(blocks.StructBlock):
    heading = blocks.CharBlock(default="Who's signing", label=_("Heading"))
    size = blocks.IntegerBlock(default=10, min_value=1, max_value=30, label=_("Number of signers"))

    class Meta:
        icon = "group"
        template = "petitions/blocks/signer_feed_block.html"
        description = _('Recent signers, as they allowed: "Stefanie signed 4 hours ago"')
        preview_template = PREVIEW_TEMPLATE
        preview_value = {"heading": "Who's signing", "size": 10}

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        page = _page_from(parent_context)
        now = timezone.now()
        if hasattr(page, "get_feed"):
            entries = page.get_feed()[: value["size"]]
        else:
            entries = [{"name": e["name"], "at": now - timezone.timedelta(hours=e["hours"])} for e in PREVIEW_FEED]
        context["entries"] = [{**e, "ago": signed_ago(e["at"], now)} for e in entries]
        return context

    def get_api_representation(self, value, context=None):
        """The settings, plus the newest signers as they allowed (name, place, time; no ids)."""
        representation = super().get_api_representation(value, context)
        page = page_from_api_context(context)
        if hasattr(page, "get_feed"):
            representation["entries"] = [
                {"name": e["name"], "place": e.get("place", ""), "signed_at": e["at"].isoformat()}
                for e in page.get_feed()[: value["size"]]
            ]
        return representation


class ShareLinksBlock(blocks.StructBlock):
    heading = blocks.CharBlock(default="Share this petition", label=_("Heading"))
    message = blocks.CharBlock(
        required=False, label=_("Message"), help_text=_("Text suggested with the link; the page title if blank.")
    )
    networks = blocks.MultipleChoiceBlock(
        choices=[
            ("email", _("Email")),
            ("x", "X"),
            ("facebook", "Facebook"),
            ("whatsapp", "WhatsApp"),
            ("bluesky", "Bluesky"),
        ],
        default=["email", "x", "facebook", "whatsapp"],
        label=_("Networks"),
    )

    class Meta:
        icon = "link"
        template = "petitions/blocks/share_links_block.html"
        description = _("Links to share the petition")
        preview_template = PREVIEW_TEMPLATE
        preview_value = {"heading": "Share this petition", "networks": ["email", "x", "facebook"]}

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        page = _page_from(parent_context)
        request = (parent_context or {}).get("request")
        url = page.get_full_url(request) if hasattr(page, "get_full_url") else "https://example.org/"
        text = value.get("message") or getattr(page, "title", "")
        u, t = quote(url or "", safe=""), quote(text, safe="")
        hrefs = {
            "email": (gettext("Email"), f"mailto:?subject={t}&body={u}"),
            "x": ("X", f"https://x.com/intent/post?text={t}&url={u}"),
            "facebook": ("Facebook", f"https://www.facebook.com/sharer/sharer.php?u={u}"),
            "whatsapp": ("WhatsApp", f"https://wa.me/?text={t}%20{u}"),
            "bluesky": ("Bluesky", f"https://bsky.app/intent/compose?text={t}%20{u}"),
        }
        context["links"] = [
            {"network": n, "label": hrefs[n][0], "href": hrefs[n][1]} for n in value["networks"] if n in hrefs
        ]
        return context

    def get_api_representation(self, value, context=None):
        """The settings, plus the ready share links for the page."""
        representation = super().get_api_representation(value, context)
        page = page_from_api_context(context)
        if page is not None:
            parent_context = {"page": page, "request": (context or {}).get("request")}
            representation["links"] = self.get_context(value, parent_context)["links"]
        return representation


class DeliveryUpdatesBlock(blocks.StructBlock):
    heading = blocks.CharBlock(default="Updates", label=_("Heading"))
    show_deliveries = blocks.BooleanBlock(default=True, required=False, label=_("Show deliveries"))
    show_responses = blocks.BooleanBlock(default=True, required=False, label=_("Show responses"))

    class Meta:
        icon = "history"
        template = "petitions/blocks/delivery_updates_block.html"
        description = _('"Delivered to … on … with N signatures", and officials\' responses')
        preview_template = PREVIEW_TEMPLATE
        preview_value = {"heading": "Updates", "show_deliveries": True, "show_responses": True}

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        page = _page_from(parent_context)
        context["deliveries"] = page.get_sent_deliveries() if value["show_deliveries"] and page else []
        context["responses"] = page.get_public_responses() if value["show_responses"] and page else []
        return context

    def get_api_representation(self, value, context=None):
        """The settings, plus the sent deliveries and the officials' public responses (no addresses)."""
        representation = super().get_api_representation(value, context)
        page = page_from_api_context(context)
        if not hasattr(page, "get_sent_deliveries"):
            return representation
        live = self.get_context(value, {"page": page})
        request = (context or {}).get("request")
        rich_text_format = APIRichText.resolve_format(request.GET.get("rich_text_format") if request else None)
        representation["deliveries"] = [
            {
                "officials": [str(official) for official in delivery.officials.all()],
                "sent_at": delivery.sent_at.isoformat() if delivery.sent_at else None,
                "total": delivery.total,
            }
            for delivery in live["deliveries"]
        ]
        representation["responses"] = [
            {
                "official": str(response.official) if response.official else None,
                "responded_on": response.responded_on.isoformat(),
                "text": APIRichText.serialize(response.text, format=rich_text_format),
                "document_url": response.document.url if response.document else None,
            }
            for response in live["responses"]
        ]
        return representation


class PetitionStreamBlock(blocks.StreamBlock):
    """Every block a petition page body can hold."""

    text = blocks.RichTextBlock(icon="pilcrow", template="petitions/blocks/text_block.html", label=_("Text"))
    image = CaptionedImageBlock(label=_("Image"))
    letter = LetterBlock(label=_("Letter"))
    sign_form = SignFormBlock(label=_("Sign form"))
    counter = CounterBlock(label=_("Counter"))
    signer_feed = SignerFeedBlock(label=_("Signer feed"))
    share_links = ShareLinksBlock(label=_("Share links"))
    updates = DeliveryUpdatesBlock(label=_("Updates"))
