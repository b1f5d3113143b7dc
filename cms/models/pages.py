import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, models
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel, ObjectList, TabbedInterface
from wagtail.api import APIField
from wagtail.contrib.routable_page.models import RoutablePageMixin, path
from wagtail.fields import RichTextField, StreamField
from wagtail.images import get_image_model_string
from wagtail.models import Page
from wagtail.search import index

from petition_blocks.blocks import PetitionStreamBlock

from ..conf import get_setting, get_signature_model
from ..degraded import warn
from ..forms import PetitionPageForm, SignatureForm
from ..identity import identity_of, validate_accent_colour, validate_sender_address
from ..permissions import DELIVER
from ..share_cards import serve_card
from ..store import get_store
from ..tokens import ExpiredToken, InvalidToken, read_token
from ..translations import canonical_id, in_page_language, page_language
from .deliveries import Delivery, OfficialResponse
from .privacy import PetitionPrivacySettings
from .stats import live_counts, live_values

logger = logging.getLogger("petitions.store")

# A new petition's texts, in the language of the editor who creates it; from then on they are
# the page's own, which editors translate with the page.


def default_consent_wording():
    return gettext("Pass my name and country on to the officials this letter is addressed to")


def default_thank_you_message():
    return format_html(
        "<p>{}</p>", gettext("Thank you! Please check your email and click the link to confirm your signature.")
    )


def default_confirmed_message():
    return format_html("<p>{}</p>", gettext("Your signature is confirmed and counted. Now share the petition!"))


def default_email_subject():
    # Translators: {petition} is a placeholder for the petition's title: keep it as it is.
    return gettext("Please confirm your signature on “{petition}”")


def default_email_body():
    # Translators: {petition} and {link} are placeholders (the title, the confirmation link): keep them.
    return gettext(
        "Hello,\n\n"
        "Thank you for signing “{petition}”. Your signature counts once you confirm it:\n\n"
        "{link}\n\n"
        "If you didn't sign, ignore this email and nothing will be counted."
    )


@dataclass(frozen=True)
class SigningStatus:
    open: bool
    message: str = ""

    def __bool__(self):
        return self.open


class PetitionMixin(RoutablePageMixin, models.Model):
    """What makes a page a petition: settings, signing, verification, counts.

    Combine with ``Page`` (see ``PetitionPage``). Override points:
    ``get_form_class()``, ``process_signature()``, ``serve_sign()``,
    ``serve_confirm()`` and the landing template ``<template>_landing.html``.
    Signatures are stored in ``PETITIONS["SIGNATURE_MODEL"]``.

    The model holds the petition's settings and reads its live values; what a
    POST does (rate limit, sign, verify) lives in ``cms.page_views`` and
    ``cms.signing``, which the routes call.
    """

    goal = models.PositiveIntegerField(
        default=1000, verbose_name=_("goal"), help_text=_("The number of signatures the campaign aims for.")
    )
    opens_at = models.DateTimeField(
        null=True,
        blank=True,
        verbose_name=_("opens at"),
        help_text=_("Signatures are accepted from this time (blank: as soon as published)."),
    )
    closes_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("closes at"), help_text=_("Signatures are refused after this time.")
    )
    ask_last_name = models.BooleanField(default=True, verbose_name=_("ask for the last name"))
    ask_country = models.BooleanField(default=True, verbose_name=_("ask for the country"))
    ask_postcode = models.BooleanField(default=False, verbose_name=_("ask for the postcode"))
    consent_wording = models.CharField(
        max_length=255,
        default=default_consent_wording,
        verbose_name=_("consent wording"),
        help_text=_("The label of the checkbox by which signers consent to be named in deliveries."),
    )
    privacy_notice = RichTextField(
        blank=True,
        verbose_name=_("privacy notice"),
        help_text=_("This petition's own privacy notice for signers; blank: the site's (Settings → Petition privacy)."),
    )
    thank_you_message = RichTextField(
        blank=True,
        default=default_thank_you_message,
        verbose_name=_("thank-you message"),
        help_text=_("Shown after someone signs."),
    )
    confirmed_message = RichTextField(
        blank=True,
        default=default_confirmed_message,
        verbose_name=_("confirmed message"),
        help_text=_("Shown after someone confirms their signature."),
    )
    verification_email_subject = models.CharField(
        max_length=255,
        default=default_email_subject,
        verbose_name=_("verification email subject"),
        help_text=_("Placeholders: {petition}. The signer's name is never put in the email."),
    )
    verification_email_body = models.TextField(
        default=default_email_body,
        verbose_name=_("verification email body"),
        help_text=_(
            "Plain text. Placeholders: {petition}, {link} (required). The signer's name is never put in "
            "the email (anyone can type any address and name); an old {first_name} reads “there”."
        ),
    )

    milestone_step = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name=_("milestone step"),
        help_text=_("Also record a milestone every N verified signatures (blank: only the goal)."),
    )
    raise_goal_automatically = models.BooleanField(
        default=False,
        verbose_name=_("raise the goal automatically"),
        help_text=_("When the goal is reached, raise it to the next milestone step (or double it)."),
    )
    milestone_notify_emails = models.TextField(
        blank=True,
        verbose_name=_("milestone notification emails"),
        help_text=_("Campaign leads to email when a milestone is reached: one address per line."),
    )
    deliver_at_goal = models.BooleanField(
        default=False,
        verbose_name=_("deliver at the goal"),
        help_text=_("Deliver the letter to its officials automatically when the goal is reached."),
    )
    deliver_at_milestones = models.BooleanField(
        default=False,
        verbose_name=_("deliver at milestones"),
        help_text=_("Deliver automatically at every milestone step as well."),
    )
    feed_show_place = models.BooleanField(
        default=False,
        verbose_name=_("show the place in the feed"),
        help_text=_("Show signers' country in the feed (for those who gave it)."),
    )
    #: Who decided the delivery settings of the page as it stands: written by the page editor's
    #: form (``cms.forms.PetitionPageForm``), never edited directly. Automatic deliveries send
    #: themselves only while this user has the deliver permission; otherwise they wait for a lead.
    delivery_settings_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )

    # For Wagtail's page API: settings a front end needs, never the leads' addresses or email wording.
    api_fields = [
        APIField("goal"),
        APIField("opens_at"),
        APIField("closes_at"),
        APIField("ask_last_name"),
        APIField("ask_country"),
        APIField("ask_postcode"),
        APIField("consent_wording"),
        APIField("thank_you_message"),
        APIField("confirmed_message"),
        APIField("feed_show_place"),
    ]

    # The goal is campaign copy that editors keep; what happens when it is reached (deliveries,
    # emails to leads, raising it) is a campaign lead's decision: only users with the deliver
    # permission see those fields, and Wagtail drops them from anyone else's form.
    petition_panels = [
        FieldPanel("goal"),
        MultiFieldPanel(
            [
                FieldPanel("milestone_step", permission=DELIVER),
                FieldPanel("raise_goal_automatically", permission=DELIVER),
                FieldPanel("milestone_notify_emails", permission=DELIVER),
                FieldPanel("deliver_at_goal", permission=DELIVER),
                FieldPanel("deliver_at_milestones", permission=DELIVER),
            ],
            heading=_("Milestones and deliveries"),
        ),
        FieldRowPanel([FieldPanel("opens_at"), FieldPanel("closes_at")], heading=_("Accepting signatures")),
        MultiFieldPanel(
            [
                FieldPanel("ask_last_name"),
                FieldPanel("ask_country"),
                FieldPanel("ask_postcode"),
                FieldPanel("consent_wording"),
                FieldPanel("feed_show_place"),
                FieldPanel("privacy_notice"),
            ],
            heading=_("Sign form"),
        ),
        FieldPanel("thank_you_message"),
        FieldPanel("confirmed_message"),
        MultiFieldPanel(
            [FieldPanel("verification_email_subject"), FieldPanel("verification_email_body")],
            heading=_("Verification email"),
        ),
    ]

    base_form_class = PetitionPageForm

    #: Whether each process may keep a rendered copy of the "confirmed" thank-you page and answer
    #: confirmations by putting each signer's manage link into it (``cms.landing_copies``). Set it
    #: False when your landing template shows anything per request besides that link.
    cache_confirmed_landing = True

    class Meta:
        abstract = True

    def clean(self):
        super().clean()
        for address in self.get_milestone_notify_emails():
            try:
                validate_email(address)
            except ValidationError:
                raise ValidationError(
                    {
                        "milestone_notify_emails": gettext(
                            "“%(address)s” is not an email address. Write one address per line."
                        )
                        % {"address": address}
                    }
                ) from None
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": gettext("The closing time must be after the opening time.")})
        if "{link}" not in (self.verification_email_body or ""):
            raise ValidationError(
                {"verification_email_body": gettext("The email must contain {link}, where the confirmation link goes.")}
            )

    def get_milestone_notify_emails(self) -> list:
        """The leads' addresses to email at each milestone, one a line."""
        return [line.strip() for line in (self.milestone_notify_emails or "").splitlines() if line.strip()]

    # --- override points -------------------------------------------------

    def get_form_class(self):
        """Return the sign form class; override to ask more."""
        return SignatureForm

    def get_form(self, *args, **kwargs):
        """The sign form for this page.

        The plugin's own form classes share one set of field objects among the page's forms
        (``cms.forms._shared_fields``): to change a field, return a subclass from
        ``get_form_class`` and change it in its ``__init__``, never on a form this returned.
        """
        return self.get_form_class()(*args, page=self, **kwargs)

    def process_signature(self, form, request=None):
        """Store a valid form's signature; override to store more (or listen to ``cms.signals``)."""
        from .. import ratelimit, signing

        if request is None:
            return signing.sign_petition(self, form.cleaned_data)
        return signing.sign_petition(
            self, form.cleaned_data, source=request.GET.get("source", ""), ip=ratelimit.client_address(request)
        )

    # --- values for templates ---------------------------------------------

    def signing_status(self, now=None) -> SigningStatus:
        now = now or timezone.now()
        if not self.live:
            return SigningStatus(False, gettext("This petition is not published, so it cannot be signed."))
        if self.opens_at and now < self.opens_at:
            opens_at = timezone.localtime(self.opens_at)
            message = gettext("This petition opens for signatures on %(date)s at %(time)s.") % {
                "date": dateformat.format(opens_at, "j F Y"),  # the month's name in the active language
                "time": dateformat.format(opens_at, "H:i"),
            }
            return SigningStatus(False, message)
        if self.closes_at and now >= self.closes_at:
            return SigningStatus(False, gettext("This petition has closed and no longer accepts signatures."))
        return SigningStatus(True)

    @property
    def canonical_id(self) -> int:
        """The id its signatures, counts and feed go under, shared by its translations (``cms.translations``)."""
        return canonical_id(self)

    def get_language(self) -> str:
        """The language of this page's locale (else the default): its signers' emails go out in it."""
        return page_language(self)

    def get_live_values(self):
        """(count, goal) from the cache, fetched once per request."""
        if not hasattr(self, "_live_values"):
            count, raised_goal = live_values([self.canonical_id])[self.canonical_id]
            self._live_values = (count, max(self.goal, raised_goal or 0))
        return self._live_values

    def get_signature_count(self) -> int:
        return self.get_live_values()[0]

    def get_goal(self) -> int:
        """The page's goal, or the higher one a milestone raised it to."""
        return self.get_live_values()[1]

    def get_feed(self) -> list:
        """The newest signers as they allowed, from the store (rebuilt from the database on a miss)."""
        store = get_store()
        try:
            feed = store.get_feed(self.canonical_id)
            if feed is None:
                feed = self.get_feed_from_database()
                store.set_feed(self.canonical_id, feed)
        except DatabaseError:
            raise
        except Exception as exc:  # any store's failure (Redis down): one query for this render
            warn(logger, "Feed read from the database: the store is unavailable", exc)
            feed = self.get_feed_from_database()
        # An entry can arrive twice (a verification racing a rebuild): show it once.
        seen = set()
        return [entry for entry in feed if not (entry["id"] in seen or seen.add(entry["id"]))]

    def get_feed_from_database(self) -> list:
        return [signature.feed_entry(self) for signature in get_signature_model().objects.for_feed(self.canonical_id)]

    def refresh_feed(self):
        """Rebuild the cached feed now (a lead hid a name), not at the next reconcile."""
        get_store().set_feed(self.canonical_id, self.get_feed_from_database())

    def get_officials(self):
        """The officials addressed by the page's letter blocks, in order, once each."""
        seen, officials = set(), []
        for block in getattr(self, "body", None) or []:
            if block.block_type == "letter":
                for official in block.value.get("officials") or []:
                    if official is not None and official.pk not in seen:
                        seen.add(official.pk)
                        officials.append(official)
        return officials

    def get_sent_deliveries(self):
        return list(
            Delivery.objects.filter(
                petition_id=self.canonical_id, status__in=[Delivery.Status.SENT, Delivery.Status.PARTIAL]
            )
            .prefetch_related("officials")
            .order_by("-sent_at")
        )

    def get_public_responses(self):
        return list(
            OfficialResponse.objects.filter(petition_id=self.canonical_id, show_on_page=True).select_related(
                "official", "document"
            )
        )

    def get_privacy_settings(self, request=None):
        """The site's privacy setting, read once per page object (with a request: its site, no lookup)."""
        if not hasattr(self, "_petitions_privacy"):
            if request is not None:
                self._petitions_privacy = PetitionPrivacySettings.for_request(request)
            else:
                site = self.get_site()
                self._petitions_privacy = PetitionPrivacySettings.for_site(site) if site else PetitionPrivacySettings()
        return self._petitions_privacy

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        self.get_privacy_settings(request)  # the notice's link is on every page of the petition
        return context

    def get_campaign(self):
        """The nearest CampaignIndexPage above this page, or None; looked up once per page object.

        One query (the ancestors' paths are prefixes of this page's own), with the logo joined, so
        rendering the page or compiling its email costs one lookup however often it is asked.
        """
        if not hasattr(self, "_petitions_campaign"):
            steplen = self.steplen
            paths = [self.path[:end] for end in range(steplen, len(self.path), steplen)]
            self._petitions_campaign = (
                CampaignIndexPage.objects.filter(path__in=paths).select_related("logo").order_by("-depth").first()
                if paths
                else None
            )
        return self._petitions_campaign

    def get_identity(self):
        """The campaign's identity (``cms.identity``): sender, logo, accent colour; the site's outside a campaign."""
        if not hasattr(self, "_petitions_identity"):
            self._petitions_identity = identity_of(self.get_campaign())
        return self._petitions_identity

    def get_privacy_notice(self) -> str:
        """The privacy notice for this petition's signers (rich text): the page's own, its campaign's, or the site's."""
        campaign = self.get_campaign()
        return self.privacy_notice or (campaign and campaign.privacy_notice) or self.get_privacy_settings().notice

    def get_privacy_url(self) -> str:
        """The privacy notice's absolute URL, for the sign form, the API and every email.

        The petition's ``privacy/`` route when the page or its campaign holds a notice; else the
        campaign's external notice; else the site's external notice when the site setting holds no
        notice of its own; else the route, showing the site's notice.
        """
        if self.privacy_notice:
            return self.get_full_subpage_url("privacy")
        campaign = self.get_campaign()
        if campaign is not None and (campaign.privacy_notice or campaign.privacy_url):
            return self.get_full_subpage_url("privacy") if campaign.privacy_notice else campaign.privacy_url
        settings_ = self.get_privacy_settings()
        if not settings_.notice and settings_.url:
            return settings_.url
        return self.get_full_subpage_url("privacy")

    def get_full_subpage_url(self, name) -> str:
        """The absolute URL of one of the page's routes (``confirm``, ``privacy``), for emails and the API.

        On ``SITE_URL`` where it is set (links must not depend on the request's host), else the site's.
        """
        site_url = get_setting("SITE_URL")
        parts = self.get_url_parts()
        if site_url and parts:
            return site_url.rstrip("/") + parts[2] + self.reverse_subpage(name)
        return (self.get_full_url() or "") + self.reverse_subpage(name)

    def has_sign_form(self) -> bool:
        """Whether the body holds a sign form, which the page's "Sign the petition" link jumps to."""
        return any(block.block_type == "sign_form" for block in getattr(self, "body", None) or [])

    def get_share_blocks(self):
        """The body's share-links blocks, repeated on the thank-you screens."""
        return [block for block in getattr(self, "body", None) or [] if block.block_type == "share_links"]

    def get_landing_page_template(self, request=None):
        return self.get_template(request).replace(".html", "_landing.html")

    def render_landing(self, request, stage, status=200, **extra):
        context = self.get_context(request)
        context.update(stage=stage, **extra)
        return TemplateResponse(request, self.get_landing_page_template(request), context, status=status)

    # --- routes --------------------------------------------------------------

    def serve(self, request, *args, **kwargs):
        # In the page's language, even on a URL without its prefix (a host without i18n_patterns).
        return in_page_language(
            self, lambda request: super(PetitionMixin, self).serve(request, *args, **kwargs), request
        )

    @path("")
    def index_route(self, request, *args, **kwargs):
        if request.method == "POST":
            return self.serve_sign(request)
        response = self.render(request, context_overrides={"form": self.get_form()})
        # Nothing on it is per visitor (the form carries no CSRF token: see cms/origin.py),
        # so anonymous visitors may share one copy (cms.middleware).
        response.petitions_cacheable = self._shareable(request)
        return response

    @staticmethod
    def _shareable(request) -> bool:
        """Whether this answer may be one copy for every anonymous visitor: not a logged-in user's, not a preview."""
        return not request.user.is_authenticated and not getattr(request, "is_preview", False)

    def serve_sign(self, request):
        """Answer a sign POST (see ``cms.page_views.serve_sign``); override to change the flow."""
        from ..page_views import serve_sign

        return serve_sign(self, request)

    def get_signed_url(self):
        # Kept on the instance: the sign endpoint reuses page objects for a moment.
        if not hasattr(self, "_petitions_signed_url"):
            self._petitions_signed_url = self.url + self.reverse_subpage("signed")
        return self._petitions_signed_url

    def render_page(self, request, form, status=200, **extra):
        context = self.get_context(request)
        context.update(form=form, **extra)
        return TemplateResponse(request, self.get_template(request), context, status=status)

    @path("signed/", name="signed")
    def signed_route(self, request):
        # Where every sign redirects, the same for everyone who signed: one shared copy, like the page.
        response = self.render_landing(request, "signed")
        response.petitions_cacheable = self._shareable(request)
        return response

    @path("share-card/", name="share_card")
    def share_card_route(self, request):
        # Not "share-card.png": Wagtail's page paths allow no ".".
        return self.serve_share_card(request)

    def serve_share_card(self, request):
        """Answer with the page's generated share card, a PNG (see ``cms.share_cards``); override to draw your own.

        It is the page's og:image when no share image is chosen.
        """
        return serve_card(self, request)

    @path("privacy/", name="privacy")
    def privacy_route(self, request):
        return self.render_landing(request, "privacy", notice=self.get_privacy_notice())

    @path("confirm/", name="confirm")
    def confirm_route(self, request):
        # The token rides in the query string: Wagtail's page paths allow no ":".
        # A GET never verifies or changes anything: mail scanners prefetch links. It shows
        # what will be stored and published, in a form whose button POSTs to the plugin's
        # confirm endpoint (cms.views.confirm -> serve_confirm).
        return self.serve_confirm(request)

    def refuse_token(self, request, token):
        """The landing page that explains why ``token`` cannot confirm here, or None if it can."""
        try:
            read_token(token, self.canonical_id)
        except ExpiredToken:
            return self.render_landing(request, "expired", status=410)
        except InvalidToken:
            return self.render_landing(request, "invalid", status=400)
        return None

    def serve_confirm(self, request):
        """Show the confirm page (GET) or answer its button's POST (see ``cms.page_views.serve_confirm``)."""
        from ..page_views import serve_confirm

        return serve_confirm(self, request)

    def serve_preview(self, request, mode_name):
        if mode_name == "landing":
            request.is_preview = True
            return self.render_landing(request, "signed")
        return super().serve_preview(request, mode_name)

    @property
    def preview_modes(self):
        return [("", _("Petition page")), ("landing", _("After signing"))]

    def get_preview_context(self, request, mode_name):
        context = super().get_preview_context(request, mode_name)
        context.setdefault("form", self.get_form())
        return context


class PetitionPage(PetitionMixin, Page):
    intro = models.TextField(
        blank=True, verbose_name=_("intro"), help_text=_("A short summary, used in listings and share previews.")
    )
    body = StreamField(PetitionStreamBlock(), blank=True, verbose_name=_("body"))
    share_image = models.ForeignKey(
        get_image_model_string(),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("share image"),
        help_text=_(
            "The picture shown where the petition is shared, cropped to 1200×630. "
            "Blank: a card with the title and the live count is made for it."
        ),
    )

    api_fields = PetitionMixin.api_fields + [APIField("intro"), APIField("body")]

    content_panels = Page.content_panels + [FieldPanel("intro"), FieldPanel("body")]
    edit_handler = TabbedInterface(
        [
            ObjectList(content_panels, heading=_("Content")),
            ObjectList(PetitionMixin.petition_panels, heading=_("Petition")),
            ObjectList(Page.promote_panels + [FieldPanel("share_image")], heading=_("Promote")),
            ObjectList(Page.settings_panels, heading=_("Settings")),
        ]
    )
    search_fields = Page.search_fields + [index.SearchField("intro"), index.SearchField("body")]

    parent_page_types = ["petitions_cms.CampaignIndexPage"]
    subpage_types = []
    template = "petitions/pages/petition_page.html"

    class Meta:
        verbose_name = _("petition")
        verbose_name_plural = _("petitions")


class CampaignIndexPage(RoutablePageMixin, Page):
    intro = RichTextField(blank=True, verbose_name=_("intro"))

    # The campaign's identity (cms.identity): its petitions' pages, emails and delivery files use it.
    sender_name = models.CharField(
        max_length=100,
        blank=True,
        verbose_name=_("sender name"),
        help_text=_("The name the campaign's emails come from. Blank: the site's sender."),
    )
    from_email = models.EmailField(
        blank=True,
        verbose_name=_("from address"),
        help_text=_("The address the campaign's emails come from, on a domain the site allows. Blank: the site's."),
    )
    reply_to_email = models.EmailField(
        blank=True,
        verbose_name=_("reply-to address"),
        help_text=_("Where replies to the campaign's emails go, on a domain the site allows. Blank: no Reply-To."),
    )
    logo = models.ForeignKey(
        get_image_model_string(),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("logo"),
        help_text=_("Shown in the header of the campaign's pages and on the cover of delivered signature lists."),
    )
    accent_colour = models.CharField(
        max_length=7,
        blank=True,
        validators=[validate_accent_colour],
        verbose_name=_("accent colour"),
        help_text=_(
            "Buttons, links and rules, as #rrggbb. White text must be readable on it (contrast of 4.5:1 or more)."
        ),
    )
    privacy_notice = RichTextField(
        blank=True,
        verbose_name=_("privacy notice"),
        help_text=_("The campaign's privacy notice for signers, used by its petitions that have none of their own."),
    )
    privacy_url = models.URLField(
        blank=True,
        verbose_name=_("privacy notice address"),
        help_text=_(
            "Or the address of the campaign's notice published elsewhere; used when the notice above is empty."
        ),
    )

    content_panels = Page.content_panels + [FieldPanel("intro")]
    identity_panels = [
        MultiFieldPanel(
            [FieldPanel("sender_name"), FieldPanel("from_email"), FieldPanel("reply_to_email")],
            heading=_("Emails"),
        ),
        FieldPanel("logo"),
        FieldPanel("accent_colour"),
        MultiFieldPanel([FieldPanel("privacy_notice"), FieldPanel("privacy_url")], heading=_("Privacy notice")),
    ]
    edit_handler = TabbedInterface(
        [
            ObjectList(content_panels, heading=_("Content")),
            ObjectList(identity_panels, heading=_("Identity")),
            ObjectList(Page.promote_panels, heading=_("Promote")),
            ObjectList(Page.settings_panels, heading=_("Settings")),
        ]
    )
    subpage_types = ["petitions_cms.PetitionPage"]
    template = "petitions/pages/campaign_index_page.html"

    class Meta:
        verbose_name = _("campaign index")
        verbose_name_plural = _("campaign indexes")

    def get_petitions(self):
        """Live petitions under this index, each with its cached count attached."""
        petitions = list(self.get_children().live().public().specific().order_by("-first_published_at"))
        counts = live_counts([p.canonical_id for p in petitions])
        for petition in petitions:
            petition.cached_count = counts.get(petition.canonical_id, 0)
        return petitions

    def clean(self):
        super().clean()
        errors = {}
        for field in ("from_email", "reply_to_email"):
            if getattr(self, field):
                try:
                    validate_sender_address(getattr(self, field))
                except ValidationError as error:
                    errors[field] = error
        if errors:
            raise ValidationError(errors)
        self.accent_colour = (self.accent_colour or "").lower()

    def get_campaign(self):
        return self

    def route(self, request, path_components):
        # Routing a request to a petition passes through its campaigns, already loaded: hand the
        # nearest one (the deepest, whose route returns first) to the petition, so rendering it
        # costs no query for its identity (``PetitionMixin.get_campaign``).
        result = super().route(request, path_components)
        page = getattr(result, "page", None)
        if page is not None and page is not self and not hasattr(page, "_petitions_campaign"):
            page._petitions_campaign = self
        return result

    def get_identity(self):
        """This campaign's identity (``cms.identity``), built once per page object."""
        if not hasattr(self, "_petitions_identity"):
            self._petitions_identity = identity_of(self)
        return self._petitions_identity

    def get_privacy_url(self) -> str:
        """The campaign's privacy notice: its ``privacy/`` route, its external notice, or "" for none."""
        if self.privacy_notice:
            return (self.get_url() or "") + self.reverse_subpage("privacy")
        return self.privacy_url

    @path("privacy/", name="privacy")
    def privacy_route(self, request):
        if not self.privacy_notice:
            raise Http404
        return self.render(request, template="petitions/pages/campaign_index_page_privacy.html")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["petitions"] = self.get_petitions()
        return context
