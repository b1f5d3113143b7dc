"""Admin side of outgoing webhooks: the endpoint form and scope, and the events' history with "redeliver".

Endpoints are a snippet (``cms.wagtail_hooks``) that campaign leads see within their grants:
a lead's endpoint belongs to one of their campaigns, an endpoint for every campaign is a
superuser's. The secret is generated on creation and shown to whoever may edit the endpoint.
"""

import uuid

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.models import Page

from workers.tasks import queue_webhooks

from . import webhooks
from .models import CampaignIndexPage, WebhookEndpoint, WebhookEvent
from .permissions import DELIVER, petitions_for, require_deliver_permission

EVENTS_SHOWN = 200


def scope(user):
    """The pages under the campaigns ``user`` leads (with the deliver permission)."""
    return petitions_for(user, DELIVER)


def endpoints_for(user, queryset=None):
    """The endpoints of the user's campaigns; those of every campaign only for a superuser."""
    queryset = WebhookEndpoint.objects.all() if queryset is None else queryset
    if user.is_superuser:
        return queryset
    return queryset.filter(campaign__in=scope(user))


def granted_endpoints(user, queryset):
    return endpoints_for(user, queryset)


class WebhookEndpointForm(WagtailAdminModelForm):
    events = forms.MultipleChoiceField(choices=WebhookEndpoint.Event.choices, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["events"].label = gettext("Events")
        self.fields["events"].help_text = gettext("The events sent to this URL.")
        user = self.for_user
        if user is not None and "campaign" in self.fields:
            self.fields["campaign"].widget = forms.Select()
            self.fields["campaign"].queryset = Page.objects.filter(
                pk__in=scope(user).type(CampaignIndexPage).values("pk")
            ).order_by("title")
            self.fields["campaign"].empty_label = (
                gettext("Every campaign") if user.is_superuser else gettext("Choose a campaign")
            )

    def clean_url(self):
        url = self.cleaned_data.get("url")
        try:
            webhooks.check_url(url)
        except webhooks.UnsafeURL as exc:
            raise forms.ValidationError(str(exc)) from None
        return url

    def clean(self):
        cleaned = super().clean()
        user = self.for_user
        if user is not None and not user.is_superuser and not cleaned.get("campaign"):
            self.add_error(
                "campaign",
                gettext("Choose one of your campaigns: an endpoint for every campaign is an administrator's."),
            )
        return cleaned

    def save(self, commit=True):
        if not self.instance.pk and self.for_user is not None:
            self.instance.created_by = self.for_user
        return super().save(commit=commit)


def events_for(user):
    return WebhookEvent.objects.filter(endpoint__in=endpoints_for(user)).select_related("endpoint")


@require_deliver_permission
def events(request):
    status = request.GET.get("status", WebhookEvent.Status.DEAD)
    rows = events_for(request.user).prefetch_related("attempts")
    if status in WebhookEvent.Status.values:
        rows = rows.filter(status=status)
    return render(
        request,
        "petitions/admin/webhook_events.html",
        {
            "events": rows[:EVENTS_SHOWN],
            "status": status,
            "statuses": WebhookEvent.Status.choices,
            "page_title": gettext("Webhook events"),
            "header_icon": "link",
        },
    )


@require_POST
@require_deliver_permission
def redeliver(request):
    ids = [value for value in request.POST.getlist("event") if _is_uuid(value)]
    count = webhooks.redeliver(events_for(request.user).filter(pk__in=ids).values_list("pk", flat=True), queue_webhooks)
    messages.success(
        request,
        ngettext("%(count)d event is being sent again.", "%(count)d events are being sent again.", count)
        % {"count": count},
    )
    return redirect("petitions_webhooks:events")


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def urlpatterns():
    return [path("", events, name="events"), path("redeliver/", redeliver, name="redeliver")]
