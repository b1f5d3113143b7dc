"""The plugin's own endpoints: sign and confirm POSTs, the count for polling, and a signer's manage page."""

import functools
import logging
import time

from django.http import Http404, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext, gettext_noop
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from wagtail.models import Page

from . import manage
from .api.cors import add_cors_headers, preflight
from .conf import get_setting
from .degraded import warn
from .localcache import LocalMemo
from .models import PetitionMixin, live_values, stored_values
from .origin import origin_allowed
from .outage import patch_public_cache
from .store import get_store
from .translations import canonical_id_for, in_page_language

logger = logging.getLogger("petitions.views")

#: In English, as tests compare it; marked for translation, translated where it is sent.
REFUSED_ORIGIN = gettext_noop("Signatures can only be sent from this site's own petition pages.")


def get_petition(page_id):
    """The live, public petition page ``page_id``, from a short in-process cache.

    Sign and confirm POSTs come in surges for one page; looking the page up
    (route, privacy, specific row) each time cost more than storing the
    signature. Publishing, unpublishing or deleting a page drops it from this
    process's cache; other processes see the change within PAGE_LOOKUP_SECONDS.
    """
    now = time.monotonic()
    cached = _petitions.get(page_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    page = get_object_or_404(Page.objects.live().public(), pk=page_id).specific
    if not isinstance(page, PetitionMixin):
        raise Http404("Not a petition")
    _petitions[page_id] = (now + get_setting("PAGE_LOOKUP_SECONDS"), page)
    return page


_petitions = {}


def forget_petition(sender=None, instance=None, **kwargs):
    _petitions.pop(getattr(instance, "pk", None), None)


def in_petition_language(view):
    """Answer ``view(request, page_id)`` in the petition page's language, whatever the request's.

    The plugin's URLs have no language prefix: a French page's sign and confirm answers (its form
    errors, its thank-you copy) are in French all the same (``cms.translations.in_page_language``).
    """

    @functools.wraps(view)
    def answer(request, page_id):
        try:
            page = get_petition(page_id)
        except Http404:
            return view(request, page_id)  # its own answer, as without a page
        return in_page_language(page, lambda request: view(request, page_id), request)

    return answer


@in_petition_language
@csrf_exempt  # protected by the Origin check instead: see cms/origin.py
@require_POST
def sign(request, page_id):
    if not origin_allowed(request):
        return HttpResponseForbidden(gettext(REFUSED_ORIGIN))
    return get_petition(page_id).serve_sign(request)


@in_petition_language
@csrf_exempt
@require_POST
def confirm(request, page_id):
    if not origin_allowed(request):
        return HttpResponseForbidden(gettext(REFUSED_ORIGIN))
    return get_petition(page_id).serve_confirm(request)


@require_http_methods(["GET", "POST"])
def manage_signature(request, page_id):
    """A signer's own page for their signature, opened by the link we emailed (``cms.manage``).

    Per signer, so never cached, and CSRF-protected like any form with a session (unlike the
    cached petition pages); a POST a browser marks cross-site is refused as on sign and confirm.
    The token rides in the query string and is kept out of Referer headers to other sites
    (``same-origin``: with ``no-referrer`` browsers send ``Origin: null`` on the form's POST, which
    the CSRF and Origin checks rightly refuse).
    """
    page = get_object_or_404(Page, pk=page_id).specific
    if not isinstance(page, PetitionMixin):
        raise Http404("Not a petition")
    if request.method == "POST" and not origin_allowed(request):
        response = HttpResponseForbidden(gettext("Your signature can only be changed from this site's own page."))
    else:
        response = in_page_language(page, lambda request: _manage(request, page), request)
    add_never_cache_headers(response)  # no-store, private: one signer's data
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response


def _manage(request, page):
    link = manage.open_link(page, request.GET.get("token", ""))
    context = {"page": page, "stage": link.refusal or "manage"}
    if link.refusal:
        return TemplateResponse(request, MANAGE_TEMPLATE, context, status=link.status)
    signature, status = link.signature, 200
    form = manage.ManageForm.for_signature(signature)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "withdraw":
            manage.withdraw(page, signature)
            return TemplateResponse(request, MANAGE_TEMPLATE, {**context, "stage": "withdrawn_now"})
        form = manage.ManageForm.for_signature(signature, request.POST)
        if action != "save":
            status, context["error"] = 400, gettext("Choose “Save my choices” or “Withdraw my signature”.")
        elif form.is_valid():
            manage.update_choices(page, signature, form.cleaned_data)
            form, context["saved"] = manage.ManageForm.for_signature(signature), True
        else:
            status = 400
    context.update(signature=signature, form=form)
    return TemplateResponse(request, MANAGE_TEMPLATE, context, status=status)


MANAGE_TEMPLATE = "petitions/pages/manage_signature.html"


@csrf_exempt  # it changes nothing; other methods get a JSON 405 rather than a CSRF page
def count(request, page_id):
    """The live count and goal, from the cache: no SQL unless the cache was lost.

    The most polled URL, so a plain view rather than the API framework, answering
    as the API does (JSON errors); partner pages (the widget) read it across
    origins: CORS for allowed origins only.
    """
    if request.method == "OPTIONS":
        return preflight(request)
    if request.method not in ("GET", "HEAD"):
        response = json_error(405, "method_not_allowed", gettext("Only GET, HEAD and OPTIONS."))
        response["Allow"] = "GET, HEAD, OPTIONS"
    else:
        # A translation answers with its petition's count, id and all (cms.translations: once a process).
        response = _count(request, canonical_id_for(page_id) or page_id)
    return add_cors_headers(request, response)


def json_error(status, code, detail):
    return JsonResponse({"detail": detail, "code": code}, status=status)


_counts = LocalMemo()


def _count(request, page_id):
    values = _counts.get(page_id)
    if values is None:
        read_values = live_values
        try:
            values = get_store().get_values([page_id])[page_id]
        except Exception as exc:  # the store is down: the database's stored total, without asking it again
            warn(logger, "count.json read from the database: the store is unavailable", exc)
            values, read_values = (None, None), stored_values
        if values[0] is None:  # not cached: only petitions get a count (SQL, then cached again)
            try:
                get_petition(page_id)
            except Http404:
                return json_error(404, "not_found", gettext("No such petition."))
            values = read_values([page_id])[page_id]
        _counts.set(page_id, values)
    live_count, goal = values
    etag = f'W/"{live_count}-{goal}"'
    if request.headers.get("If-None-Match") == etag:
        response = JsonResponse({}, status=304)
        response.content = b""
    else:
        response = JsonResponse({"id": page_id, "count": live_count, "goal": goal})
    response["ETag"] = etag
    patch_public_cache(response, max_age=2)  # and how long a CDN may serve it stale (cms.outage)
    return response
