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

An entry outlives its freshness: it is kept for PETITIONS["PAGE_STALE_SECONDS"]
(a day), and each process keeps its last good copy of each page in memory
too (:data:`COPIES`, bounded). A fresh entry is served as a hit; an older one
makes the page render again, and if that render fails (a 5xx: the database or
Redis is down) the stale copy is served instead (``X-Petitions-Cache: stale``,
a short max-age), so anonymous visitors keep reading the petition through an
outage (a share link's query string, ``?fbclid=…``, gets the same copy then).
A path this process never cached is looked up only when its render failed, so
the lookup costs nothing while all is well. A cache that fails to
read or write (Redis down, a full disk under the file cache) is a miss, or a
copy not stored, and a warning: never an error for the visitor.

:class:`OutageMiddleware` turns a dependency's outage anywhere below it into a
503 a person understands (``cms.outage``).
"""

import logging
import sys
import time
from collections import OrderedDict

from django.conf import settings
from django.core.signals import got_request_exception
from django.http import HttpResponse

from .conf import get_setting
from .degraded import warn
from .localcache import LocalMemo
from .outage import is_outage, patch_public_cache, unavailable_response
from .store import get_cache

logger = logging.getLogger("petitions.middleware")

PRIVATE_COOKIES = ("messages",)
# Paths this process has seen a petition page answer: only these cost a cache
# read, so every other request (the API, static files, other pages) pays nothing.
KNOWN_PATHS = set()
LOCAL = LocalMemo()
MAX_KNOWN_PATHS = 10_000
#: This process's last good copy of each page it cached, newest last: served when both the render
#: and the shared cache fail (the database and Redis down). Bounded: about 100 pages of a few
#: dozen kilobytes each.
COPIES = OrderedDict()
MAX_COPIES = 100
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
    # "v3": an entry holds (content, headers, stored at); "v2" entries held no time.
    return f"petitions:page:v3:{request.get_host()}:{request.path}"


def _replayed_headers(response):
    return [(name, value) for name, value in response.items() if name.lower() not in NOT_REPLAYED]


def _anonymous(request):
    cookies = request.COOKIES
    return settings.SESSION_COOKIE_NAME not in cookies and not any(name in cookies for name in PRIVATE_COOKIES)


def _read(key):
    """The shared cache's entry, or None: missing, or the cache failed (a warning, never an error)."""
    try:
        return get_cache().get(key)
    except Exception as exc:  # any backend's failure (Redis down, an unreadable file): a miss
        warn(logger, "Cached petition pages not read", exc)
        return None


def _write(key, entry, timeout):
    try:
        get_cache().set(key, entry, timeout)
    except Exception as exc:  # Redis down, a full disk under the file cache: the page is served uncached
        warn(logger, "Cached petition pages not stored", exc)


def _keep_copy(key, entry):
    COPIES[key] = entry
    COPIES.move_to_end(key)
    while len(COPIES) > MAX_COPIES:
        COPIES.popitem(last=False)


def forget_copies():
    """Forget this process's known paths and copies (tests)."""
    KNOWN_PATHS.clear()
    COPIES.clear()
    LOCAL.clear()


def _replay(entry, state):
    content, headers, _ = entry
    response = HttpResponse(content)
    for name, value in headers:  # Content-Type and Cache-Control included
        response[name] = value
    response["Content-Length"] = str(len(content))
    response["X-Petitions-Cache"] = state
    return response


class PetitionPageCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        seconds = get_setting("PAGE_CACHE_SECONDS")
        if not (seconds and request.method in ("GET", "HEAD") and _anonymous(request)):
            return self.get_response(request)
        key = entry = None
        # Only a bare path is served from and stored in the cache; with a query string it is rendered.
        # Other paths (the API, count.json, static files) pay nothing here unless their render fails.
        shared = not request.GET
        if shared and request.path in KNOWN_PATHS:
            key = _cache_key(request)
            entry = LOCAL.get(key)
            if entry is None:
                entry = _read(key)
                if entry is not None:
                    LOCAL.set(key, entry)
            if entry is not None and time.time() - entry[2] < seconds:
                return _replay(entry, "hit")
        response = self.get_response(request)
        cacheable = getattr(response, "petitions_cacheable", False) and response.status_code == 200
        if shared and cacheable and not response.cookies:
            patch_public_cache(response, max_age=seconds)
            key = key or _cache_key(request)
            entry = (response.content, _replayed_headers(response), time.time())
            _write(key, entry, max(seconds, get_setting("PAGE_STALE_SECONDS") or 0))
            _keep_copy(key, entry)
            if len(KNOWN_PATHS) < MAX_KNOWN_PATHS:
                KNOWN_PATHS.add(request.path)
            response["X-Petitions-Cache"] = "miss"
        elif response.status_code >= 500:
            # A share link's query string (utm_source, fbclid) asks for the same page: its copy will do.
            stale = self._stale_copy(key or _cache_key(request), entry)
            if stale is not None:
                return stale
        return response

    def _stale_copy(self, key, entry):
        """The newest copy to serve instead of a failed render, or None (the failure stands)."""
        if not get_setting("PAGE_STALE_SECONDS"):
            return None
        if entry is None:  # not read yet (a fresh process, a query string) or not there: paid only on errors
            entry = _read(key)
        candidates = [copy for copy in (entry, COPIES.get(key)) if copy is not None]
        candidates = [copy for copy in candidates if time.time() - copy[2] < get_setting("PAGE_STALE_SECONDS")]
        if not candidates:
            return None
        response = _replay(max(candidates, key=lambda copy: copy[2]), "stale")
        # Short-lived downstream: the next request tries the origin again.
        del response["Cache-Control"]
        patch_public_cache(response, max_age=get_setting("PAGE_CACHE_SECONDS"))
        return response


def _note_outage(sender, request=None, **kwargs):
    """Mark a request whose exception Django is turning into a 500 (got_request_exception), if an outage."""
    exc = sys.exc_info()[1]
    if request is not None and is_outage(exc):
        request.petitions_outage = exc


class OutageMiddleware:
    """A dependency's outage anywhere below this middleware is a 503 with Retry-After, not a 500 page.

    Add ``"cms.middleware.OutageMiddleware"`` to MIDDLEWARE after SecurityMiddleware (and a CSP
    middleware), so the 503 still gets their headers, and before everything that reads the
    database or Redis: the page cache, the session, authentication.

    A separate middleware rather than a part of the page cache, because it answers for every
    path (the API, sign and confirm POSTs, the admin), not only the pages the cache serves. Django
    hands an exception to a middleware in two ways, and both are covered:

    - a view's exception (a page's render, a sign POST) reaches ``process_exception``, which
      answers the 503 itself; the page cache further in then sees a 5xx and may serve its stale
      copy instead;
    - an exception raised in another middleware (the session or authentication reading the
      database) never reaches an outer middleware as an exception: Django's
      ``convert_exception_to_response`` wraps each middleware and turns it into a 500 response
      on the spot. Only the ``got_request_exception`` signal sees it, so a receiver marks the
      request, and ``__call__`` swaps that 500 for the 503. (Django has logged that exception
      with its traceback by then; ``process_exception`` logs one line, at most every few seconds.)

    The JSON API answers its own 503s in its error shape (``cms.api.base``).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        got_request_exception.connect(_note_outage, dispatch_uid="petitions-outage")

    def __call__(self, request):
        response = self.get_response(request)
        exc = getattr(request, "petitions_outage", None)
        if exc is not None and response.status_code == 500:
            return unavailable_response(request, exc)
        return response

    def process_exception(self, request, exception):
        if is_outage(exception):
            return unavailable_response(request, exception)
        return None
