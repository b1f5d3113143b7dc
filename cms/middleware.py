"""Serve petition pages to anonymous visitors from a shared cache.

Add ``"cms.middleware.PetitionPageCacheMiddleware"`` near the top of
MIDDLEWARE (before the session middleware, so a hit costs one cache read).
Only responses a petition page marks cacheable are stored, only for GETs
without a query string from visitors with no session or messages cookie,
for PETITIONS["PAGE_CACHE_SECONDS"].

A hit is answered before the middlewares listed after this one run, so it
cannot count on them for its headers: XFrameOptionsMiddleware (clickjacking:
a framed sign form posts from our own origin and passes the Origin check),
SessionMiddleware's ``Vary: Cookie``, a host's Content-Security-Policy, and
in a host that lists this middleware first, SecurityMiddleware's
Referrer-Policy, X-Content-Type-Options and Cross-Origin-Opener-Policy too.
So the miss's headers are stored with its content and a hit replays them,
whatever the order. They are replayed by a deny-list rather than an
allow-list: an allow-list would drop the next security header a host adds
(Permissions-Policy, Cross-Origin-Embedder-Policy, ...), which is this very
bug again, while everything on a cacheable page is already shared by every
anonymous visitor (a page that sets a cookie is never stored). What is left
out (``NOT_REPLAYED``) belongs to one response or one connection, not to the
page: ``Set-Cookie``, ``Content-Length`` (recomputed for the content) and the
hop-by-hop headers. (A CSP nonce is replayed with the content that uses it.)
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
#: Header names (lower case) a hit does not replay from the miss: see the module's docstring.
NOT_REPLAYED = frozenset(
    {
        "set-cookie",  # one visitor's (cookies themselves keep a page out of the cache)
        "content-length",  # set again from the content
        "x-petitions-cache",  # hit or miss, set on each answer
        # Hop-by-hop (RFC 9110 section 7.6.1): about one connection, for the server to set.
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def _cache_key(request):
    # "v2": an entry holds (content, headers); older processes stored (content, content type).
    return f"petitions:page:v2:{request.get_host()}:{request.path}"


def _replayed_headers(response):
    return [(name, value) for name, value in response.items() if name.lower() not in NOT_REPLAYED]


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
                content, headers = cached
                response = HttpResponse(content)
                for name, value in headers:  # Content-Type and Cache-Control included
                    response[name] = value
                response["Content-Length"] = str(len(content))
                response["X-Petitions-Cache"] = "hit"
                return response
        response = self.get_response(request)
        if (
            usable
            and getattr(response, "petitions_cacheable", False)
            and response.status_code == 200
            and not response.cookies
        ):
            patch_cache_control(response, public=True, max_age=seconds)
            get_cache().set(_cache_key(request), (response.content, _replayed_headers(response)), seconds)
            if len(KNOWN_PATHS) < MAX_KNOWN_PATHS:
                KNOWN_PATHS.add(request.path)
            response["X-Petitions-Cache"] = "miss"
        return response
