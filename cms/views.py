"""The plugin's own endpoints: sign and confirm POSTs, and the count for polling."""

from django.http import Http404, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from wagtail.models import Page

from . import counters
from .models import PetitionMixin
from .origin import origin_allowed

REFUSED_ORIGIN = "Signatures can only be sent from this site's own petition pages."


def get_petition(page_id):
    page = get_object_or_404(Page.objects.live().public(), pk=page_id).specific
    if not isinstance(page, PetitionMixin):
        raise Http404("Not a petition")
    return page


@csrf_exempt  # protected by the Origin check instead: see cms/origin.py
@require_POST
def sign(request, page_id):
    if not origin_allowed(request):
        return HttpResponseForbidden(REFUSED_ORIGIN)
    return get_petition(page_id).serve_sign(request)


@csrf_exempt
@require_POST
def confirm(request, page_id):
    if not origin_allowed(request):
        return HttpResponseForbidden(REFUSED_ORIGIN)
    return get_petition(page_id).serve_confirm(request)


@require_GET
def count(request, page_id):
    """The live count and goal, from the cache: no SQL unless the cache was lost."""
    values = counters.get_live_values([page_id], check_exists=True).get(page_id)
    if values is None:
        raise Http404("No such petition")
    live_count, goal = values
    etag = f'W/"{live_count}-{goal}"'
    if request.headers.get("If-None-Match") == etag:
        response = JsonResponse({}, status=304)
        response.content = b""
    else:
        response = JsonResponse({"id": page_id, "count": live_count, "goal": goal})
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=2)
    return response
