"""Outgoing webhooks: the endpoints leads register, the events sent to them, and each attempt (``cms.webhooks``)."""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A URL that wants some of a campaign's events (or, set up by an admin, every campaign's)."""

    class Event(models.TextChoices):
        SIGNATURE_VERIFIED = "signature.verified", _("A signature was verified")
        MILESTONE_REACHED = "milestone.reached", _("A milestone was reached")
        DELIVERY_SENT = "delivery.sent", _("A delivery was sent")
        OFFICIAL_RESPONDED = "official.responded", _("An official responded")

    campaign = models.ForeignKey(
        "wagtailcore.Page",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("campaign"),
        help_text=_("The campaign whose petitions send events here; empty: every campaign (administrators only)."),
    )
    url = models.URLField(max_length=500, verbose_name=_("URL"))
    events = models.JSONField(default=list, verbose_name=_("events"))
    secret = models.CharField(max_length=80, default=new_secret, editable=False, verbose_name=_("secret"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    counts_only = models.BooleanField(
        default=False,
        verbose_name=_("counts only"),
        help_text=_("Send counts and ids only, never a signer's name or country."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["url"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self):
        return self.url


class WebhookEvent(models.Model):
    """One event for one endpoint. Its id is the X-Petitions-Event-Id of every attempt, so receivers dedupe."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        DEAD = "dead", _("Dead-lettered")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="webhook_events")
    event_type = models.CharField(max_length=40, verbose_name=_("event"))
    payload = models.JSONField(verbose_name=_("payload"))
    created = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    #: Retries stop WEBHOOKS_RETRY_WINDOW after this: the creation, or the last "redeliver".
    window_started_at = models.DateTimeField(verbose_name=_("retrying since"))
    attempts_made = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))

    class Meta:
        ordering = ["-created"]
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        indexes = [models.Index(fields=["status", "-created"], name="petitions_webhook_status")]

    def __str__(self):
        return f"{self.event_type} {self.id}"


class WebhookAttempt(models.Model):
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField(verbose_name=_("attempted at"))
    status_code = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("status code"))
    error = models.CharField(max_length=500, blank=True, verbose_name=_("error"))
    duration_ms = models.PositiveIntegerField(default=0, verbose_name=_("duration (ms)"))

    class Meta:
        ordering = ["attempted_at"]
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
