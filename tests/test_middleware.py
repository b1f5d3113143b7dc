"""The shared page cache (cms.middleware): a cached copy is as safe as a fresh one."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from cms import middleware

pytestmark = pytest.mark.django_db

CACHE = "cms.middleware.PetitionPageCacheMiddleware"
#: What a hit and a miss may differ in: the cache's own marker.
OWN_MARKER = "X-Petitions-Cache"


@pytest.fixture(params=["the demo's order", "the cache first"])
def middleware_order(request, settings):
    """The demo puts the cache after SecurityMiddleware; a host may put it first of all."""
    if request.param == "the cache first":
        settings.MIDDLEWARE = [CACHE, *(name for name in settings.MIDDLEWARE if name != CACHE)]
    assert CACHE in settings.MIDDLEWARE
    return request.param


def test_a_cached_copy_carries_the_same_security_headers_as_the_fresh_page(petition, client, middleware_order):
    miss = client.get(petition.url)
    hit = client.get(petition.url)

    assert (miss[OWN_MARKER], hit[OWN_MARKER]) == ("miss", "hit")
    for name in (
        "X-Frame-Options",
        "Vary",
        "Referrer-Policy",
        "X-Content-Type-Options",
        "Cross-Origin-Opener-Policy",
        "Content-Security-Policy",
    ):
        assert name in miss, name  # the page has them fresh: a hit must too
    assert {k: v for k, v in hit.items() if k != OWN_MARKER} == {k: v for k, v in miss.items() if k != OWN_MARKER}
    assert hit.content == miss.content


def page_response(**headers):
    response = HttpResponse("<p>petition</p>", content_type="text/html; charset=utf-8")
    response.petitions_cacheable = True
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def test_a_cached_copy_never_replays_a_cookie_or_a_connection_header(settings):
    settings.PETITIONS = {**settings.PETITIONS, "PAGE_CACHE_SECONDS": 5}
    fresh = page_response(
        Set_Cookie="visitor=one; Path=/", Connection="keep-alive", Content_Length="15", X_Frame_Options="DENY"
    )
    cache = middleware.PetitionPageCacheMiddleware(lambda request: fresh)
    request = RequestFactory().get("/petition-with-a-cookie/")

    miss = cache(request)
    hit = cache(RequestFactory().get("/petition-with-a-cookie/"))

    assert (miss[OWN_MARKER], hit[OWN_MARKER]) == ("miss", "hit")
    assert hit["X-Frame-Options"] == "DENY"
    assert "Set-Cookie" not in hit and not hit.cookies
    assert "Connection" not in hit
    assert hit.get("Content-Length") in (None, str(len(hit.content)))
