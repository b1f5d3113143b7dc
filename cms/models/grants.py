"""Where a campaign lead may look: campaigns granted per group or per user, and what a token may do there.

A lead's *permissions* (``view_signature``, ``deliver_petition``, ``view_delivery``) say what
they may do; a :class:`CampaignGrant` says where. Every entry point asks
``cms.permissions.petitions_for(user, perm)``, which answers with the pages under the user's
granted campaigns (everything, for a superuser). A permission without a grant shows nothing.
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.models import APIToken


class CampaignGrant(models.Model):
    """A group's or a user's access to one campaign: a page and every page under it."""

    campaign = models.ForeignKey(
        "wagtailcore.Page",
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Usually a campaign index: its petitions (and any page under it) are granted."),
        verbose_name=_("campaign"),
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="campaign_grants", verbose_name=_("group")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="campaign_grants",
        verbose_name=_("user"),
    )

    panels = [FieldPanel("campaign"), FieldPanel("group"), FieldPanel("user")]

    class Meta:
        verbose_name = _("campaign grant")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(group__isnull=False, user__isnull=True)
                | models.Q(group__isnull=True, user__isnull=False),
                name="campaign_grant_group_or_user",
            ),
            models.UniqueConstraint(fields=("campaign", "group"), name="unique_campaign_grant_group"),
            models.UniqueConstraint(fields=("campaign", "user"), name="unique_campaign_grant_user"),
        ]

    def __str__(self):
        return f"{self.group or self.user} → {self.campaign}"

    def clean(self):
        if (self.group_id is None) == (self.user_id is None):
            raise ValidationError("Grant the campaign to a group or to a user (one of them).")


class TokenScopes(models.Model):
    """What a Wagtail API token may do on the campaign leads' endpoints, within its user's grants.

    A token with no row here (one made by Wagtail's own token admin or ``manage.py
    api_tokens``) may only read signatures.
    """

    #: The scope names, in the order the admin lists them.
    NAMES = ("read_signatures", "export", "deliver", "record")

    token = models.OneToOneField(
        APIToken, primary_key=True, on_delete=models.CASCADE, related_name="petition_scopes", verbose_name=_("token")
    )
    read_signatures = models.BooleanField(
        default=True,
        help_text=_("Read verified signatures a page at a time (JSON and OSDI)."),
        verbose_name=_("read signatures"),
    )
    export = models.BooleanField(
        default=False, help_text=_("Download every verified signature as one CSV file."), verbose_name=_("export")
    )
    deliver = models.BooleanField(
        default=False, help_text=_("Follow deliveries and each official's send status."), verbose_name=_("deliver")
    )
    record = models.BooleanField(
        default=False,
        help_text=_("Record signatures through the OSDI helper without the per-address rate limit (CRM imports)."),
        verbose_name=_("record"),
    )

    class Meta:
        verbose_name = _("API token scopes")
        verbose_name_plural = _("API token scopes")

    def __str__(self):
        return ", ".join(self.granted()) or "no scopes"

    def granted(self):
        return [name for name in self.NAMES if getattr(self, name)]
