"""CORS for the JSON API: only origins on the site's allow-list may read its answers.

The allow-list is the one the sign endpoints already use (``cms.origin``):
the site's own origin, ``PETITIONS["ALLOWED_ORIGINS"]`` and
``CSRF_TRUSTED_ORIGINS``. It is applied per view rather than by a
middleware, so a host gets it by including ``cms.urls`` and nothing else.

CORS only decides what a browser lets a page *read*. What stops a
third-party page from making a visitor's browser *sign* is the Origin check
in the POST endpoints themselves (``cms.origin.origin_allowed``): browsers
send ``Origin`` with every cross-site POST, simple or not, and an origin
that is not on the list gets a 403 before anything is stored.
"""

from functools import wraps

from django.http import HttpResponse
from django.utils.cache import patch_vary_headers

from ..origin import allowed_origins

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "Accept, Authorization, Content-Type, If-Modified-Since, If-None-Match, OSDI-API-Token"
EXPOSE_HEADERS = "ETag, Retry-After"
#: How long a browser may reuse a preflight answer, in seconds.
PREFLIGHT_MAX_AGE = 600


def cors_origin(request) -> str | None:
    """The request's ``Origin`` if that origin may read the answer, else None."""
    origin = request.headers.get("Origin")
    if origin and origin in allowed_origins(request):
        return origin
    return None


def preflight(request) -> HttpResponse:
    """Answer a CORS preflight: 204 with the grant for allowed origins, 403 for others."""
    origin = cors_origin(request)
    if origin is None:
        response = HttpResponse(status=403)
    else:
        response = HttpResponse(status=204)
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = ALLOW_METHODS
        response["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    patch_vary_headers(response, ["Origin"])
    return response


def add_cors_headers(request, response):
    # Always vary on Origin: a shared cache must not hand one origin's answer to another.
    patch_vary_headers(response, ["Origin"])
    origin = cors_origin(request)
    if origin is not None:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return response


def with_cors(view):
    """Wrap a view: answer preflights, and grant allowed origins the right to read."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return preflight(request)
        return add_cors_headers(request, view(request, *args, **kwargs))

    return wrapped
