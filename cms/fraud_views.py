"""Admin views of the fraud tools, for campaign leads: bulk invalidations and the quarantine.

An invalidation is created with its conditions, shows its preview count and a sample,
and runs only when a lead confirms it (``petitions.run_invalidation``, in batches). The
rules that quarantine are a snippet (``cms.wagtail_hooks``). The flows are ``cms.fraud``.
"""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST
from wagtail.models import Page

from workers import tasks

from . import fraud
from .admin_views import petition_pages
from .conf import get_signature_model
from .models import CampaignIndexPage, Invalidation
from .permissions import REVIEW_FRAUD, petitions_for, require_fraud_permission

SAMPLE_SIZE = 20


def scope(user):
    """The pages under the campaigns ``user`` reviews for fraud (every page, for a superuser)."""
    return petitions_for(user, REVIEW_FRAUD)


def campaign_choices(user):
    return Page.objects.filter(pk__in=scope(user).type(CampaignIndexPage).values("pk")).order_by("title")


def invalidations_for(user):
    """Invalidations of the user's petitions and campaigns; those of every petition only for a superuser."""
    invalidations = Invalidation.objects.select_related("petition", "campaign", "created_by")
    if user.is_superuser:
        return invalidations
    pages = scope(user)
    return invalidations.filter(Q(petition__in=pages) | Q(campaign__in=pages))


def signatures_for(user):
    Signature = get_signature_model()
    return Signature.objects.filter(status=Signature.Status.QUARANTINED, petition__in=scope(user))


QUARANTINE_PAGE_SIZE = 100


class InvalidationForm(forms.ModelForm):
    class Meta:
        model = Invalidation
        fields = ["petition", "campaign", "summary", "email_domain", "ip_network", "created_after", "created_before"]
        widgets = {
            "created_after": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "created_before": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["petition"].queryset = petition_pages(user, REVIEW_FRAUD, live=False)
        self.fields["petition"].empty_label = gettext("None: a whole campaign")
        self.fields["campaign"].queryset = campaign_choices(user)
        self.fields["campaign"].empty_label = (
            gettext("Every campaign") if user.is_superuser else gettext("Choose a campaign")
        )

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("petition") or cleaned.get("campaign")) and not self.user.is_superuser:
            raise forms.ValidationError(gettext("Choose a petition or one of your campaigns."))
        return cleaned


@require_fraud_permission
def index(request):
    return render(
        request,
        "petitions/admin/fraud_index.html",
        {
            "invalidations": invalidations_for(request.user)[:200],
            "quarantined": signatures_for(request.user).count(),
            "page_title": gettext("Fraud tools"),
            "header_icon": "warning",
        },
    )


@require_fraud_permission
def create(request):
    form = InvalidationForm(request.POST or None, initial={"petition": request.GET.get("petition")}, user=request.user)
    if request.method == "POST" and form.is_valid():
        invalidation = form.save(commit=False)
        invalidation.created_by = request.user
        invalidation.save()
        return redirect("petitions_fraud:detail", invalidation.pk)
    return render(
        request,
        "petitions/admin/fraud_create.html",
        {"form": form, "page_title": gettext("New invalidation"), "header_icon": "warning"},
        status=400 if form.errors else 200,
    )


@require_fraud_permission
def detail(request, pk):
    invalidation = get_object_or_404(invalidations_for(request.user), pk=pk)
    # Until it is started the count is taken afresh, so the number confirmed is the number run.
    sample = fraud.preview(invalidation, SAMPLE_SIZE) if invalidation.pending else []
    return render(
        request,
        "petitions/admin/fraud_detail.html",
        {
            "invalidation": invalidation,
            "sample": sample,
            "page_title": gettext("Invalidation: %(summary)s") % {"summary": invalidation.summary},
            "header_icon": "warning",
        },
    )


@require_POST
@require_fraud_permission
def start(request, pk):
    invalidation = get_object_or_404(invalidations_for(request.user), pk=pk)
    if fraud.start(invalidation):
        transaction.on_commit(lambda: tasks.run_invalidation.delay(invalidation.pk))
        messages.success(request, gettext("Invalidating in batches: the count below follows its progress."))
    else:
        messages.warning(request, gettext("This invalidation has already been started."))
    return redirect("petitions_fraud:detail", pk)


@require_POST
@require_fraud_permission
def restore(request, pk):
    invalidation = get_object_or_404(invalidations_for(request.user), pk=pk)
    restored = fraud.restore(invalidation)
    if restored or invalidation.completed_at:
        messages.success(
            request,
            ngettext(
                "Restored %(count)d signature; the next reconcile counts it again.",
                "Restored %(count)d signatures; the next reconcile counts them again.",
                restored,
            )
            % {"count": restored},
        )
    else:
        messages.warning(request, gettext("Only a completed invalidation can be undone."))
    return redirect("petitions_fraud:detail", pk)


@require_fraud_permission
def quarantine(request):
    """Quarantined signatures, newest first: release them (they count) or invalidate them."""
    if request.method == "POST":
        # Only the user's own campaigns' quarantined signatures; any other id changes nothing.
        picked = [value for value in request.POST.getlist("signatures") if value.isdigit()]
        ids = list(signatures_for(request.user).filter(pk__in=picked).values_list("pk", flat=True))
        action = request.POST.get("action")
        if action == "release":
            messages.success(
                request, gettext("Released %(count)d: the next reconcile counts them.") % {"count": fraud.release(ids)}
            )
        elif action == "invalidate":
            messages.success(request, gettext("Invalidated %(count)d.") % {"count": fraud.invalidate_quarantined(ids)})
        else:
            messages.error(request, gettext("Choose to release or to invalidate."))
        return redirect("petitions_fraud:quarantine")
    rows = signatures_for(request.user).order_by("-verified_at", "-pk")
    petition_id = request.GET.get("petition", "")
    if petition_id.isdigit():
        rows = rows.filter(petition_id=petition_id)
    page = Paginator(rows, QUARANTINE_PAGE_SIZE).get_page(request.GET.get("p"))
    titles = dict(Page.objects.filter(pk__in={row.petition_id for row in page}).values_list("pk", "title"))
    return render(
        request,
        "petitions/admin/fraud_quarantine.html",
        {
            "page": page,
            "rows": [(row, titles.get(row.petition_id, "")) for row in page],
            "page_title": gettext("Quarantined signatures"),
            "header_icon": "warning",
        },
    )


def urlpatterns():
    return [
        path("", index, name="index"),
        path("invalidations/new/", create, name="create"),
        path("invalidations/<int:pk>/", detail, name="detail"),
        path("invalidations/<int:pk>/start/", start, name="start"),
        path("invalidations/<int:pk>/restore/", restore, name="restore"),
        path("quarantine/", quarantine, name="quarantine"),
    ]
