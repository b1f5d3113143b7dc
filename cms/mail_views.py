"""The signer's unsubscribe page (and its one-click POST), and the leads' bounce and complaint report.

The flows are ``cms.suppression``.
"""

from functools import wraps

from django.db.models import Count, Q
from django.http import HttpResponseForbidden
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import suppression
from .conf import get_signature_model
from .permissions import VIEW_SIGNATURES, petitions_for
from .tokens import InvalidToken, read_unsubscribe_token

SCOPES = (suppression.Scope.PETITION, suppression.Scope.ALL)


def _page(request, template, context, status=200):
    response = render(request, template, context, status=status)
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


def _refused(request, message, status):
    return _page(request, "petitions/unsubscribe.html", {"error": message}, status=status)


@csrf_exempt  # RFC 8058: the mailbox provider POSTs "List-Unsubscribe=One-Click" with no cookie, no token
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET: a page with the choices (never an unsubscribe: mail scanners fetch links). POST: unsubscribe.

    A POST without ``scope`` (the one-click POST) unsubscribes from this petition's updates.
    """
    try:
        signature_id = read_unsubscribe_token(token)
    except InvalidToken:
        detail = gettext(
            "This unsubscribe link is not valid: it may have been cut short when it was copied. "
            "Open it from the email again, or use the newest email you got from us."
        )
        return _refused(request, detail, 400)
    Signature = get_signature_model()
    signature = Signature.objects.filter(pk=signature_id).select_related("petition").first()
    if signature is None:
        return _refused(request, gettext("There is nothing to unsubscribe: this signature has been erased, "
                        "and no more emails are sent about it."), 404)  # fmt: skip
    context = {"petition": signature.petition, "token": token, "scopes": SCOPES}
    if request.method == "GET":
        return _page(request, "petitions/unsubscribe.html", context)
    scope = request.POST.get("scope") or suppression.Scope.PETITION
    if scope not in SCOPES:
        return _refused(request, gettext("Choose “this petition” or “all petitions”."), 400)
    suppression.unsubscribe(signature.pk, scope)
    return _page(request, "petitions/unsubscribe.html", {**context, "done": scope})


# --- admin: bounce and complaint rates ------------------------------------------------------


def email_rates(user):
    """Per petition of ``user``'s campaigns: emails handed to the ESP, bounced, complained of, and the rates.

    From the signatures' ``email_status``: an address that bounces or complains later marks all of
    its signatures, so a rate is the share of signers whose address the ESP gave up on.
    """
    Signature = get_signature_model()
    status = Signature.EmailStatus
    emailed = [status.SENT, status.BOUNCED, status.COMPLAINED, status.REFUSED]
    rows = (
        Signature.objects.filter(petition__in=petitions_for(user, VIEW_SIGNATURES), email_status__in=emailed)
        .values("petition_id", "petition__title")
        .annotate(
            emailed=Count("pk"),
            bounced=Count("pk", filter=Q(email_status__in=[status.BOUNCED, status.REFUSED])),
            complained=Count("pk", filter=Q(email_status=status.COMPLAINED)),
        )
        .order_by("petition__title")
    )
    return [
        {
            **row,
            "bounce_rate": 100 * row["bounced"] / row["emailed"],
            "complaint_rate": 100 * row["complained"] / row["emailed"],
        }
        for row in rows
    ]


def require_view_signatures_permission(view):
    """A plain 403 for a user who may not view signatures; which petitions they see is ``petitions_for``'s."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.has_perm(VIEW_SIGNATURES):
            return HttpResponseForbidden(gettext("This report needs the permission to view signatures."))
        return view(request, *args, **kwargs)

    return wrapped


@require_view_signatures_permission
def email_report(request):
    return render(
        request,
        "petitions/admin/email_report.html",
        {"rows": email_rates(request.user), "page_title": gettext("Bounces and complaints"), "header_icon": "mail"},
    )


def admin_urlpatterns():
    return [path("", email_report, name="index")]
