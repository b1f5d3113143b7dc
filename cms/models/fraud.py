"""Fraud tools: the rules that quarantine signatures, and the record of each bulk invalidation.

After e-petitions' blocked domains and IPs and its ``Invalidation``; the flows that act on
them are in ``cms.fraud``.
"""

import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..addresses import normalize_email


def parse_network(value: str):
    """An IPv4 or IPv6 address or CIDR network, as an ``ip_network``; ValidationError if it is neither."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValidationError(f"“{value}” is not an IP address or network (e.g. 203.0.113.0/24 or 2001:db8::/32).")


def clean_domain(value: str) -> str:
    """A domain as canonical addresses store it (lowercase, IDNA, a provider's main domain: googlemail is gmail)."""
    value = value.strip().lower().rstrip(".")
    if not value or "@" in value or " " in value or "." not in value.strip("."):
        raise ValidationError(gettext("Enter a domain such as example.org, not an email address."))
    return normalize_email(f"x@{value}").rpartition("@")[2]


class FraudRule(models.Model):
    """An address, email domain or IP network whose signatures are quarantined when confirmed.

    The signer sees what every signer sees; the signature waits, uncounted, for a
    lead to release or invalidate it (``cms.fraud``).
    """

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email address")
        DOMAIN = "domain", _("Email domain (and its subdomains)")
        IP = "ip", _("IP address or network (CIDR)")

    kind = models.CharField(max_length=8, choices=Kind.choices, verbose_name=_("kind"))
    value = models.CharField(
        max_length=255,
        help_text=_(
            "An address (ada@example.org), a domain (example.org) or a network (203.0.113.0/24, 2001:db8::/32)."
        ),
        verbose_name=_("value"),
    )
    campaign = models.ForeignKey(
        "wagtailcore.Page",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("The campaign whose petitions it watches. Empty: every campaign (superusers only)."),
        verbose_name=_("campaign"),
    )
    note = models.TextField(blank=True, help_text=_("Why: for the other leads."), verbose_name=_("note"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    wagtail_reference_index_ignore = True

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "value", "campaign"], name="petitions_cms_one_fraud_rule"),
            models.UniqueConstraint(
                fields=["kind", "value"],
                condition=models.Q(campaign__isnull=True),
                name="petitions_cms_one_fraud_rule_everywhere",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.value}"

    def clean(self):
        value = (self.value or "").strip()
        if not value:
            raise ValidationError({"value": gettext("Enter an address, a domain or a network.")})
        try:
            if self.kind == self.Kind.EMAIL:
                if "@" not in value.strip("@"):
                    raise ValidationError(gettext("Enter a whole email address, such as ada@example.org."))
                self.value = normalize_email(value)
            elif self.kind == self.Kind.DOMAIN:
                self.value = clean_domain(value)
            elif self.kind == self.Kind.IP:
                self.value = str(parse_network(value))
        except ValidationError as error:
            raise ValidationError({"value": error.messages})


class Invalidation(models.Model):
    """One bulk invalidation: its conditions, the preview count, who ran it and how far it got.

    Created pending; ``cms.fraud.preview`` counts what matches; a lead starts it
    after seeing the count and the ``petitions.run_invalidation`` task marks the
    matching signatures invalidated in batches. The next reconcile recounts the
    petitions it touched. ``cms.fraud.restore`` undoes it.
    """

    petition = models.ForeignKey(
        "wagtailcore.Page",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("One petition; or leave empty and choose a campaign."),
        verbose_name=_("petition"),
    )
    campaign = models.ForeignKey(
        "wagtailcore.Page",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Every petition of this campaign. Both empty: every petition (superusers only)."),
        verbose_name=_("campaign"),
    )
    summary = models.CharField(
        max_length=255, help_text=_("What this is about, for the record."), verbose_name=_("summary")
    )
    email_domain = models.CharField(
        max_length=255,
        blank=True,
        help_text=_("e.g. example.org (subdomains included)"),
        verbose_name=_("email domain"),
    )
    ip_network = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("An IP address or CIDR network: 203.0.113.0/24, 2001:db8::/48"),
        verbose_name=_("ip network"),
    )
    created_after = models.DateTimeField(
        null=True, blank=True, help_text=_("Signed at or after"), verbose_name=_("created after")
    )
    created_before = models.DateTimeField(
        null=True, blank=True, help_text=_("Signed before"), verbose_name=_("created before")
    )

    matching_count = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("matching count"))
    counted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("counted at"))
    invalidated_count = models.PositiveIntegerField(default=0, verbose_name=_("invalidated count"))
    restored_count = models.PositiveIntegerField(default=0, verbose_name=_("restored count"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    enqueued_at = models.DateTimeField(null=True, blank=True, verbose_name=_("enqueued at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))
    restored_at = models.DateTimeField(null=True, blank=True, verbose_name=_("restored at"))

    CONDITIONS = ("email_domain", "ip_network", "created_after", "created_before")

    wagtail_reference_index_ignore = True

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("review_fraud", _("Can quarantine, release and invalidate signatures"))]

    def __str__(self):
        return self.summary

    def clean(self):
        if not any(getattr(self, name) for name in self.CONDITIONS):
            raise ValidationError(
                gettext(
                    "Give at least one condition (a domain, an IP network or a time), or every signature would match."
                )
            )
        errors = {}
        if self.petition_id and self.campaign_id:
            errors["campaign"] = gettext("Choose a petition or a campaign, not both.")
        if self.email_domain:
            try:
                self.email_domain = clean_domain(self.email_domain)
            except ValidationError as error:
                errors["email_domain"] = error.messages
        if self.ip_network:
            try:
                self.ip_network = str(parse_network(self.ip_network))
            except ValidationError as error:
                errors["ip_network"] = error.messages
        if self.created_after and self.created_before and self.created_after >= self.created_before:
            errors["created_before"] = gettext(
                "The window must end after it starts (“signed before” is after “signed after”)."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def reach(self) -> str:
        """What it reaches, in words: a petition, a campaign's petitions, or every petition."""
        if self.petition_id:
            return self.petition.title
        if self.campaign_id:
            return gettext("Every petition of %(campaign)s") % {"campaign": self.campaign.title}
        return gettext("Every petition")

    @property
    def state(self) -> str:
        if self.restored_at:
            return "restored"
        if self.completed_at:
            return "completed"
        if self.started_at:
            return "running"
        if self.enqueued_at:
            return "queued"
        return "pending"

    @property
    def pending(self) -> bool:
        return self.enqueued_at is None
