"""Signers' rights for campaign leads: find an address's signatures, export them as JSON, erase them.

Within the lead's own campaigns only (``cms.permissions.erasable_petitions``): a signature on
another campaign's petition is never shown, counted or erased, and an address with none in
the lead's campaigns gets the same answer as one that never signed. The address is posted,
never put in a URL, and never logged (``cms.erasure``).
"""

import json
from functools import wraps

from django import forms
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods
from wagtail.models import Page

from . import erasure, manage
from .addresses import MAX_LENGTH
from .models import ErasureLog
from .permissions import can_erase, erasable_petitions

NOTHING_FOUND = _("No signatures of that address in your campaigns.")
TEMPLATE = "petitions/admin/signers.html"


class AddressForm(forms.Form):
    email = forms.EmailField(
        max_length=MAX_LENGTH,
        label=_("Email address"),
        error_messages={"invalid": _("Enter an email address, as the signer gave it.")},
    )


def require_erase_permission(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_erase(request.user):
            return HttpResponseForbidden(gettext("Finding and erasing signatures needs the campaign lead permissions."))
        return view(request, *args, **kwargs)

    return wrapped


@require_http_methods(["GET", "POST"])
@require_erase_permission
def index(request):
    petitions = erasable_petitions(request.user)
    form = AddressForm(request.POST or None)
    context = {
        "form": form,
        "page_title": gettext("Signers' rights: access and erasure"),
        "header_icon": "user",
        "logs": ErasureLog.objects.filter(petition__in=petitions).select_related("petition", "actor")[:50],
    }
    if request.method != "POST":
        return render(request, TEMPLATE, context)
    if not form.is_valid():
        return render(request, TEMPLATE, context, status=400)
    action = request.POST.get("action")
    if action not in ("find", "export", "review", "erase", "revoke"):
        context["notice"] = gettext("Choose to find, export, erase or revoke the links.")
        return render(request, TEMPLATE, context, status=400)
    signatures = list(erasure.signatures_of(form.cleaned_data["email"], petitions))
    if not signatures:
        context["notice"] = NOTHING_FOUND
        return render(request, TEMPLATE, context)
    if action == "export":
        return _export(signatures)
    if action == "erase":
        erased = erasure.erase_signatures(
            [signature.pk for signature in signatures], reason=ErasureLog.Reason.LEAD, actor=request.user
        )
        context["notice"] = ngettext(
            "Erased %(count)d signature of that address. Counts and feeds correct themselves at the next reconcile.",
            "Erased %(count)d signatures of that address. Counts and feeds correct themselves at the next reconcile.",
            erased,
        ) % {"count": erased}
        context["form"] = AddressForm()
        return render(request, TEMPLATE, context)
    if action == "revoke":
        # A signer whose link leaked (a forwarded email): the old links stop working; the lead
        # answers that signer's requests from here from now on.
        revoked = manage.revoke_links([signature.pk for signature in signatures])
        context["notice"] = ngettext(
            "Revoked the manage links of %(count)d signature of that address.",
            "Revoked the manage links of %(count)d signatures of that address.",
            revoked,
        ) % {"count": revoked}
    titles = dict(Page.objects.filter(pk__in={s.petition_id for s in signatures}).values_list("pk", "title"))
    context.update(rows=[(signature, titles.get(signature.petition_id, "")) for signature in signatures])
    context["review"] = action == "review"
    return render(request, TEMPLATE, context)


def _export(signatures):
    data = erasure.export(signatures)
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False), content_type="application/json"
    )
    # No address in the file name: it ends up in download folders and browser histories.
    response["Content-Disposition"] = f'attachment; filename="signatures-{timezone.now():%Y%m%d-%H%M%S}.json"'
    add_never_cache_headers(response)  # no-store, private
    return response


def urlpatterns():
    return [path("", index, name="index")]
