"""Who may POST signatures: the site's own pages, and origins the host allows.

Petition pages are cached for anonymous visitors, so their forms carry no
per-visitor CSRF token. Instead the sign and confirm endpoints check the
``Origin`` header browsers send with every cross-site POST (``Referer`` when
it is absent): a third-party page cannot make a visitor's browser sign.
Requests without either come from no browser (curl, a server), which a
visitor's browser cannot be tricked into sending.
"""

from urllib.parse import urlsplit

from django.conf import settings

from .conf import get_setting


def allowed_origins(request) -> set:
    return {
        f"{request.scheme}://{request.get_host()}",
        *get_setting("ALLOWED_ORIGINS"),
        *getattr(settings, "CSRF_TRUSTED_ORIGINS", ()),
    }


def request_origin(request) -> str | None:
    origin = request.META.get("HTTP_ORIGIN")
    if origin is None and request.META.get("HTTP_REFERER"):
        parts = urlsplit(request.META["HTTP_REFERER"])
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin


def origin_allowed(request) -> bool:
    origin = request_origin(request)
    return origin is None or origin in allowed_origins(request)
