"""Who may POST signatures: the site's own pages, and origins the host allows.

Petition pages are cached for anonymous visitors, so their forms carry no
per-visitor CSRF token. Instead the sign and confirm endpoints (the page's
``cms.views.sign``/``confirm`` and the JSON API's POSTs, through
``cms.api.base.check_origin``) ask ``origin_allowed``:

1. ``Sec-Fetch-Site: cross-site``, which browsers send (and pages cannot
   forge) when a page on another site made the request, is accepted only
   with an ``Origin`` header naming a partner: an origin of
   ``PETITIONS["ALLOWED_ORIGINS"]`` or ``CSRF_TRUSTED_ORIGINS`` other than the
   site's own (the widget and headless front ends on partner pages call the
   API this way). No ``Origin``, a ``Referer`` alone, ``null``, an origin not
   on the list, or the site's own origin (our pages are never cross-site to
   us, so the browser and the header disagree) is refused.
2. Otherwise (``same-origin``, ``same-site``, ``none``, an unknown value, or
   no header from an older browser or a non-browser), the ``Origin`` header
   browsers send with every cross-site POST (``Referer`` when it is absent)
   must be the site's own or an allowed one: a third-party page cannot make a
   visitor's browser sign. Requests without either come from no browser
   (curl, a server), which a visitor's browser cannot be tricked into
   sending.

A refused request is a 403 before anything is stored. Framing is handled
elsewhere: a sign form framed by another site posts from our own origin, so
pages carry ``X-Frame-Options``, cached copies included (``cms.middleware``).
"""

from urllib.parse import urlsplit

from django.conf import settings

from .conf import get_setting


def own_origin(request) -> str:
    return f"{request.scheme}://{request.get_host()}"


def allowed_origins(request) -> set:
    return {
        own_origin(request),
        *get_setting("ALLOWED_ORIGINS"),
        *getattr(settings, "CSRF_TRUSTED_ORIGINS", ()),
    }


def request_origin(request) -> str | None:
    origin = request.META.get("HTTP_ORIGIN")
    if origin is None and request.META.get("HTTP_REFERER"):
        parts = urlsplit(request.META["HTTP_REFERER"])
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin


def cross_site(request) -> bool:
    """Whether the browser says a page on another site made this request (``Sec-Fetch-Site``)."""
    return request.META.get("HTTP_SEC_FETCH_SITE", "").strip().lower() == "cross-site"


def origin_allowed(request) -> bool:
    """Whether this POST may sign or confirm: the rule in the module's docstring."""
    if cross_site(request):
        origin = request.META.get("HTTP_ORIGIN")
        return origin is not None and origin != own_origin(request) and origin in allowed_origins(request)
    origin = request_origin(request)
    return origin is None or origin in allowed_origins(request)
