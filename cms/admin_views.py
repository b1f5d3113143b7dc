"""Admin views for campaign leads: prepare, preview, send and follow deliveries."""

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST
from wagtail.models import Page

from . import deliveries
from .models import Delivery, Official, PetitionMixin
from .permissions import require_deliver_permission


def petition_pages():
    ids = [page.pk for page in Page.objects.live().specific() if isinstance(page, PetitionMixin)]
    return Page.objects.filter(pk__in=ids).order_by("title")


class DeliveryForm(forms.Form):
    petition = forms.ModelChoiceField(queryset=Page.objects.none(), empty_label=None)
    officials = forms.ModelMultipleChoiceField(
        queryset=Official.objects.all(), widget=forms.CheckboxSelectMultiple, required=True
    )
    include_list = forms.BooleanField(
        required=False,
        initial=True,
        label="Attach the signers who consented to be named (CSV and PDF; never email addresses)",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["petition"].queryset = petition_pages()


@require_deliver_permission
def index(request):
    items = Delivery.objects.select_related("petition").prefetch_related("recipients")[:200]
    return render(
        request,
        "petitions/admin/delivery_index.html",
        {"deliveries": items, "page_title": "Deliveries", "header_icon": "mail"},
    )


@require_deliver_permission
def create(request):
    petition_id = request.POST.get("petition") or request.GET.get("petition")
    page = None
    if petition_id and str(petition_id).isdigit():
        page = Page.objects.filter(pk=petition_id).first()
        page = page.specific if page else None
    initial = {"officials": [o.pk for o in page.get_officials()]} if isinstance(page, PetitionMixin) else {}
    if page is not None:
        initial["petition"] = page.pk
    form = DeliveryForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            delivery = deliveries.prepare_delivery(
                form.cleaned_data["petition"].specific,
                form.cleaned_data["officials"],
                user=request.user,
                include_list=form.cleaned_data["include_list"],
            )
        except deliveries.DeliveryError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("petitions_deliveries:detail", delivery.pk)
    return render(
        request,
        "petitions/admin/delivery_create.html",
        {"form": form, "petition": page, "page_title": "New delivery", "header_icon": "mail"},
        status=400 if form.errors else 200,
    )


@require_deliver_permission
def detail(request, pk):
    delivery = get_object_or_404(Delivery.objects.select_related("petition"), pk=pk)
    recipients = list(delivery.recipients.all())
    subject, text, html = deliveries.render(delivery, recipients[0] if recipients else None)
    return render(
        request,
        "petitions/admin/delivery_detail.html",
        {
            "delivery": delivery,
            "recipients": recipients,
            "preview_subject": subject,
            "preview_text": text,
            "preview_html": html,
            "can_retry": delivery.status == Delivery.Status.PARTIAL,
            "page_title": f"Delivery of “{delivery.petition.title}”",
            "header_icon": "mail",
        },
    )


def _act(request, pk, action, success):
    """Run a delivery action; say what happened on the delivery's page."""
    delivery = get_object_or_404(Delivery, pk=pk)
    try:
        action(delivery)
    except deliveries.DeliveryError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success)
    return redirect("petitions_deliveries:detail", pk)


@require_POST
@require_deliver_permission
def send(request, pk):
    return _act(
        request, pk, deliveries.start_sending, "Sending: each official's outcome appears below as the ESP answers."
    )


@require_POST
@require_deliver_permission
def retry(request, pk):
    return _act(request, pk, deliveries.retry_failed, "Retrying the failed recipients only.")


@require_deliver_permission
def download(request, pk, kind):
    delivery = get_object_or_404(Delivery, pk=pk)
    field = {"csv": delivery.csv_file, "pdf": delivery.pdf_file}.get(kind)
    if not field:
        raise Http404("No such file")
    return FileResponse(field.open("rb"), as_attachment=True, filename=field.name.rsplit("/", 1)[-1])


def urlpatterns():
    return [
        path("", index, name="index"),
        path("new/", create, name="create"),
        path("<int:pk>/", detail, name="detail"),
        path("<int:pk>/send/", send, name="send"),
        path("<int:pk>/retry/", retry, name="retry"),
        path("<int:pk>/files/<str:kind>/", download, name="download"),
    ]


def menu_url():
    return reverse("petitions_deliveries:index")
