"""Admin views of the fraud tools, for campaign leads: bulk invalidations and the quarantine.

An invalidation is created with its conditions, shows its preview count and a sample,
and runs only when a lead confirms it (``petitions.run_invalidation``, in batches). The
rules that quarantine are a snippet (``cms.wagtail_hooks``). The flows are ``cms.fraud``.
"""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST
from wagtail.models import Page

from workers import tasks

from . import fraud
from .conf import get_signature_model
from .models import Invalidation
from .permissions import require_fraud_permission

SAMPLE_SIZE = 20


def petition_pages(user):
    # Every live petition, until the fraud tools are scoped to campaign grants (next commit).
    ids = [page.pk for page in Page.objects.live().specific() if hasattr(page, "signing_status")]
    return Page.objects.filter(pk__in=ids).order_by("title")


QUARANTINE_PAGE_SIZE = 100


class InvalidationForm(forms.ModelForm):
    class Meta:
        model = Invalidation
        fields = ["petition", "summary", "email_domain", "ip_network", "created_after", "created_before"]
        widgets = {
            "created_after": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "created_before": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["petition"].queryset = petition_pages(None)
        self.fields["petition"].empty_label = "Every petition"


@require_fraud_permission
def index(request):
    Signature = get_signature_model()
    return render(
        request,
        "petitions/admin/fraud_index.html",
        {
            "invalidations": Invalidation.objects.select_related("petition", "created_by")[:200],
            "quarantined": Signature.objects.filter(status=Signature.Status.QUARANTINED).count(),
            "page_title": "Fraud tools",
            "header_icon": "warning",
        },
    )


@require_fraud_permission
def create(request):
    form = InvalidationForm(request.POST or None, initial={"petition": request.GET.get("petition")})
    if request.method == "POST" and form.is_valid():
        invalidation = form.save(commit=False)
        invalidation.created_by = request.user
        invalidation.save()
        return redirect("petitions_fraud:detail", invalidation.pk)
    return render(
        request,
        "petitions/admin/fraud_create.html",
        {"form": form, "page_title": "New invalidation", "header_icon": "warning"},
        status=400 if form.errors else 200,
    )


@require_fraud_permission
def detail(request, pk):
    invalidation = get_object_or_404(Invalidation.objects.select_related("petition", "created_by"), pk=pk)
    # Until it is started the count is taken afresh, so the number confirmed is the number run.
    sample = fraud.preview(invalidation, SAMPLE_SIZE) if invalidation.pending else []
    return render(
        request,
        "petitions/admin/fraud_detail.html",
        {
            "invalidation": invalidation,
            "sample": sample,
            "page_title": f"Invalidation: {invalidation.summary}",
            "header_icon": "warning",
        },
    )


@require_POST
@require_fraud_permission
def start(request, pk):
    invalidation = get_object_or_404(Invalidation, pk=pk)
    if fraud.start(invalidation):
        transaction.on_commit(lambda: tasks.run_invalidation.delay(invalidation.pk))
        messages.success(request, "Invalidating in batches: the count below follows its progress.")
    else:
        messages.warning(request, "This invalidation has already been started.")
    return redirect("petitions_fraud:detail", pk)


@require_POST
@require_fraud_permission
def restore(request, pk):
    invalidation = get_object_or_404(Invalidation, pk=pk)
    restored = fraud.restore(invalidation)
    if restored or invalidation.completed_at:
        messages.success(request, f"Restored {restored} signatures; the next reconcile counts them again.")
    else:
        messages.warning(request, "Only a completed invalidation can be undone.")
    return redirect("petitions_fraud:detail", pk)


@require_fraud_permission
def quarantine(request):
    """Quarantined signatures, newest first: release them (they count) or invalidate them."""
    Signature = get_signature_model()
    if request.method == "POST":
        ids = [value for value in request.POST.getlist("signatures") if value.isdigit()]
        action = request.POST.get("action")
        if action == "release":
            messages.success(request, f"Released {fraud.release(ids)}: the next reconcile counts them.")
        elif action == "invalidate":
            messages.success(request, f"Invalidated {fraud.invalidate_quarantined(ids)}.")
        else:
            messages.error(request, "Choose to release or to invalidate.")
        return redirect("petitions_fraud:quarantine")
    rows = Signature.objects.filter(status=Signature.Status.QUARANTINED).order_by("-verified_at", "-pk")
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
            "page_title": "Quarantined signatures",
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
