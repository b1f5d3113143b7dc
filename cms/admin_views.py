"""Admin views for campaign leads: prepare, preview, send and follow deliveries.

A lead sees only the deliveries of petitions under their granted campaigns
(``cms.permissions.petitions_for``); another campaign's delivery or petition is a 404.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseGone
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import dateformat
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from wagtail.log_actions import log
from wagtail.models import APIToken, Page
from wagtail.users.utils import get_manageable_token_owners

from . import deliveries
from .models import Delivery, Official, PetitionMixin, TokenScopes
from .permissions import DELIVER, VIEW_SIGNATURES, petitions_for, require_deliver_permission


def petition_pages(user, perm=DELIVER, *, live=True):
    """The petitions (live ones only, unless ``live`` is False) ``user`` may act on with ``perm``."""
    granted = petitions_for(user, perm)
    if live:
        granted = granted.live()
    ids = [page.pk for page in granted.specific() if isinstance(page, PetitionMixin)]
    return Page.objects.filter(pk__in=ids).order_by("title")


def deliveries_for(user):
    return Delivery.objects.filter(petition__in=petitions_for(user, DELIVER))


class DeliveryForm(forms.Form):
    petition = forms.ModelChoiceField(queryset=Page.objects.none(), empty_label=None)
    officials = forms.ModelMultipleChoiceField(
        queryset=Official.objects.all(), widget=forms.CheckboxSelectMultiple, required=True
    )
    include_list = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Attach the signers who consented to be named (CSV and PDF; never email addresses)"),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["petition"].queryset = petition_pages(user)


@require_deliver_permission
def index(request):
    items = deliveries_for(request.user).select_related("petition").prefetch_related("recipients")[:200]
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
        page = get_object_or_404(petitions_for(request.user, DELIVER), pk=petition_id).specific
    initial = {"officials": [o.pk for o in page.get_officials()]} if isinstance(page, PetitionMixin) else {}
    if page is not None:
        initial["petition"] = page.pk
    form = DeliveryForm(request.POST or None, initial=initial, user=request.user)
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
        {"form": form, "petition": page, "page_title": gettext("New delivery"), "header_icon": "mail"},
        status=400 if form.errors else 200,
    )


@require_deliver_permission
def detail(request, pk):
    delivery = get_object_or_404(deliveries_for(request.user).select_related("petition"), pk=pk)
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
            "page_title": gettext("Delivery of “%(petition)s”") % {"petition": delivery.petition.title},
            "header_icon": "mail",
        },
    )


def _act(request, pk, action, success):
    """Run a delivery action; say what happened on the delivery's page."""
    delivery = get_object_or_404(deliveries_for(request.user), pk=pk)
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
        request,
        pk,
        deliveries.start_sending,
        gettext("Sending: each official's outcome appears below as the ESP answers."),
    )


@require_POST
@require_deliver_permission
def retry(request, pk):
    return _act(request, pk, deliveries.retry_failed, gettext("Retrying the failed recipients only."))


@require_deliver_permission
def download(request, pk, kind):
    delivery = get_object_or_404(deliveries_for(request.user), pk=pk)
    field = {"csv": delivery.csv_file, "pdf": delivery.pdf_file}.get(kind)
    if field is not None and delivery.files_deleted_at:
        return HttpResponseGone(
            gettext("The signature files were deleted on %(date)s under the retention policy.")
            % {"date": dateformat.format(delivery.files_deleted_at, "j F Y")},
            content_type="text/plain; charset=utf-8",
        )
    if not field:
        raise Http404(gettext("No such file"))
    return FileResponse(field.open("rb"), as_attachment=True, filename=field.name.rsplit("/", 1)[-1])


# --- API tokens with scopes -----------------------------------------------------------------


def require_lead(view):
    """Token pages are for users who may view signatures (the leads' API needs that anyway)."""

    def wrapped(request, *args, **kwargs):
        if not request.user.has_perm(VIEW_SIGNATURES):
            raise PermissionDenied(gettext("API tokens for the leads' endpoints need the view signatures permission."))
        return view(request, *args, **kwargs)

    return wrapped


def tokens_for(user):
    """The tokens ``user`` manages: their own, or everyone's (but superusers') with Wagtail's change-user permission."""
    return APIToken.objects.filter(user__in=get_manageable_token_owners(user))


class TokenForm(forms.Form):
    name = forms.CharField(max_length=255, label=_("Name"), help_text=_("What uses it, e.g. “CRM sync”."))
    user = forms.ModelChoiceField(
        queryset=None, empty_label=None, label=_("User"), help_text=_("The token acts as this user.")
    )
    scopes = forms.MultipleChoiceField(
        choices=[(name, TokenScopes._meta.get_field(name).help_text) for name in TokenScopes.NAMES],
        widget=forms.CheckboxSelectMultiple,
        initial=["read_signatures"],
        required=True,
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = get_manageable_token_owners(user).order_by("username")
        self.fields["user"].initial = user.pk


@require_lead
def token_index(request):
    tokens = tokens_for(request.user).select_related("user", "petition_scopes").order_by("-created")
    return render(
        request,
        "petitions/admin/token_index.html",
        {"tokens": tokens, "page_title": gettext("Lead API tokens"), "header_icon": "key"},
    )


@require_lead
def token_create(request):
    form = TokenForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        api_token, plaintext = APIToken.create_token(user=form.cleaned_data["user"], name=form.cleaned_data["name"])
        scopes = set(form.cleaned_data["scopes"])
        TokenScopes.objects.create(token=api_token, **{name: name in scopes for name in TokenScopes.NAMES})
        log(api_token, "wagtail.apitoken.create", data={"source": "petitions_lead_tokens", "scopes": sorted(scopes)})
        # The plaintext is shown on this one answer and never stored.
        return render(
            request,
            "petitions/admin/token_created.html",
            {"token": api_token, "plaintext": plaintext, "page_title": gettext("Token created"), "header_icon": "key"},
        )
    return render(
        request,
        "petitions/admin/token_create.html",
        {"form": form, "page_title": gettext("New lead API token"), "header_icon": "key"},
        status=400 if form.errors else 200,
    )


@require_POST
@require_lead
def token_revoke(request, pk):
    api_token = get_object_or_404(tokens_for(request.user), pk=pk)
    if api_token.revoked_at is None:
        api_token.revoke()
        log(api_token, "wagtail.apitoken.revoke", data={"source": "petitions_lead_tokens"})
    messages.success(request, gettext("Revoked “%(name)s”: it stops working now.") % {"name": api_token.name})
    return redirect("petitions_tokens:index")


def token_urlpatterns():
    return [
        path("", token_index, name="index"),
        path("new/", token_create, name="create"),
        path("<int:pk>/revoke/", token_revoke, name="revoke"),
    ]


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
