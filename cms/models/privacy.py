from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting
from wagtail.fields import RichTextField

DEFAULT_PRIVACY_NOTICE = (
    "<p>When you sign, we keep the name, email address and choices you give us, with the time you signed "
    "and the network address you signed from. Your email address is used to confirm your signature and, "
    "only if you ask for them, to send you updates; it is never published or passed on. Your name appears "
    "in the list of signers only as you choose, and goes to the officials the petition is addressed to "
    "only if you tick the box that says so, with exactly the details that box names.</p>"
)


@register_setting(icon="lock")
class PetitionPrivacySettings(BaseSiteSetting):
    """The site's privacy notice for signers (Settings → Petition privacy); a petition can override it.

    Shown next to every sign form, served at each petition's ``privacy/`` route, and linked from
    every email the plugin sends. ``url`` points to a notice kept elsewhere instead.
    """

    notice = RichTextField(
        blank=True,
        default=DEFAULT_PRIVACY_NOTICE,
        help_text=_("What signers' data is used for, who sees it and how long it is kept."),
    )
    url = models.URLField(
        blank=True,
        help_text=_("Or the address of a privacy notice published elsewhere; used when the notice above is empty."),
        verbose_name=_("url"),
    )

    panels = [FieldPanel("notice"), FieldPanel("url")]

    class Meta:
        verbose_name = _("petition privacy notice")
