"""Serve petition pages to anonymous visitors from a shared cache.

Add ``"cms.middleware.PetitionPageCacheMiddleware"`` near the top of
MIDDLEWARE (before the session middleware, so a hit costs one cache read).
Only responses a petition page marks cacheable are stored, only for GETs
without a query string from visitors with no session or messages cookie,
for PETITIONS["PAGE_CACHE_SECONDS"].
"""

from django.conf import settings
from django.http import HttpResponse
from django.utils.cache import patch_cache_control

from .conf import get_setting
from .localcache import LocalMemo
from .store import get_cache

PRIVATE_COOKIES = ("messages",)
# Paths this process has seen a petition page answer: only these cost a cache
# read, so every other request (the API, static files, other pages) pays nothing.
KNOWN_PATHS = set()
LOCAL = LocalMemo()
MAX_KNOWN_PATHS = 10_000


def _cache_key(request):
    return f"petitions:page:{request.get_host()}:{request.path}"


def _anonymous(request):
    cookies = request.COOKIES
    return settings.SESSION_COOKIE_NAME not in cookies and not any(name in cookies for name in PRIVATE_COOKIES)


class PetitionPageCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        seconds = get_setting("PAGE_CACHE_SECONDS")
        usable = seconds and request.method in ("GET", "HEAD") and not request.GET and _anonymous(request)
        if usable and request.path in KNOWN_PATHS:
            key = _cache_key(request)
            cached = LOCAL.get(key)
            if cached is None:
                cached = get_cache().get(key)
                if cached is not None:
                    LOCAL.set(key, cached)
            if cached is not None:
                content, content_type = cached
                response = HttpResponse(content, content_type=content_type)
                patch_cache_control(response, public=True, max_age=seconds)
                response["X-Petitions-Cache"] = "hit"
                return response
        response = self.get_response(request)
        if (
            usable
            and getattr(response, "petitions_cacheable", False)
            and response.status_code == 200
            and not response.cookies
        ):
            get_cache().set(_cache_key(request), (response.content, response["Content-Type"]), seconds)
            if len(KNOWN_PATHS) < MAX_KNOWN_PATHS:
                KNOWN_PATHS.add(request.path)
            patch_cache_control(response, public=True, max_age=seconds)
            response["X-Petitions-Cache"] = "miss"
        return response
