"""What the site answers while a dependency (PostgreSQL, Redis) is down, and what others may keep serving.

An outage is a 503 with ``Retry-After`` (``PETITIONS["OUTAGE_RETRY_AFTER"]``),
never Django's 500 page: a person gets a short page saying the site is busy,
nothing already stored is lost, and a sign POST was not stored and may be sent
again (signing twice never counts twice); a program calling the JSON API gets
the API's error shape (``{"detail", "code": "unavailable"}``). The answer is
never cached by anyone (``no-store``), so a CDN holding an earlier copy with
``stale-if-error`` keeps serving that copy instead: :func:`patch_public_cache`
puts ``stale-while-revalidate`` and ``stale-if-error`` on every public answer.

:class:`cms.middleware.OutageMiddleware` turns the errors of :data:`OUTAGE_ERRORS`
into these answers; :func:`cms.degraded.warn` logs a degraded path without a line per request.
"""

import logging

import redis
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import resolve
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext

from .conf import get_setting
from .degraded import warn

logger = logging.getLogger("petitions.outage")

#: A dependency that cannot answer: the database (gone, restarting, a full disk under SQLite) or
#: Redis (refused, timed out, still loading its data after a restart: a ConnectionError too).
DATABASE_ERRORS = (OperationalError, InterfaceError)
OUTAGE_ERRORS = (*DATABASE_ERRORS, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
TEMPLATE = "petitions/unavailable.html"


def is_outage(exc) -> bool:
    return isinstance(exc, OUTAGE_ERRORS)


def patch_public_cache(response, max_age):
    """Mark an answer every visitor may share for ``max_age`` seconds, and how long a CDN may go on serving it.

    ``stale-while-revalidate`` lets a CDN answer from its copy while it fetches a new one;
    ``stale-if-error`` lets it keep answering from that copy while the origin fails (5xx, or
    unreachable) for that long (RFC 5861). Only ever on public answers: private, per-signer and
    error answers never carry them.
    """
    directives = {"public": True, "max_age": max_age}
    for name, setting in (("stale_while_revalidate", "STALE_WHILE_REVALIDATE"), ("stale_if_error", "STALE_IF_ERROR")):
        seconds = get_setting(setting)
        if seconds:
            directives[name] = seconds
    patch_cache_control(response, **directives)
    return response


def wants_json(request) -> bool:
    """The JSON API and the count endpoint answer JSON; everything else a page (or JSON when only that is accepted)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Http404:
            match = None
    if match is not None and ("petitions_api" in match.namespaces or match.view_name == "petitions:count"):
        return True
    accept = request.headers.get("Accept", "")
    return "json" in accept and "html" not in accept


def unavailable_response(request, exc=None):
    """The 503 a person or a program gets while a dependency is down (never cached by anyone)."""
    retry_after = get_setting("OUTAGE_RETRY_AFTER")
    if exc is not None:
        warn(logger, "Answered 503: a dependency is down", exc, detail=f"{request.method} {request.path}")
    posted = request.method == "POST"
    # The database down, nothing a POST sent can have been stored; Redis down, it may have been.
    lost = isinstance(exc, DATABASE_ERRORS)
    if wants_json(request):
        detail = ngettext(
            "The site cannot answer just now: please try again in %(seconds)d second.",
            "The site cannot answer just now: please try again in %(seconds)d seconds.",
            retry_after,
        ) % {"seconds": retry_after}
        if posted and lost:
            detail += " " + gettext(
                "What you sent was not stored; sending it again is safe: a signature never counts twice."
            )
        elif posted:
            detail += " " + gettext(
                "What you sent may not have been stored; sending it again is safe: a signature never counts twice."
            )
        response = JsonResponse({"detail": detail, "code": "unavailable"}, status=503)
    else:
        page = _page(retry_after, posted, lost)
        response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(retry_after)
    add_never_cache_headers(response)
    return response


def _page(retry_after, posted, lost):
    # Rendered without the request: its context processors would read the session and the user
    # from the database that may be what is down.
    context = {"retry_after": retry_after, "posted": posted, "lost": lost}
    try:
        return render_to_string(TEMPLATE, context)
    except Exception as exc:  # a host's base template that itself needs the database: plain words instead
        warn(logger, f"{TEMPLATE} could not be rendered", exc)
        title = gettext("Please try again shortly")
        text = ngettext(
            "The site is busy or under maintenance. Nothing is lost. Please try again in %(seconds)d second.",
            "The site is busy or under maintenance. Nothing is lost. Please try again in %(seconds)d seconds.",
            retry_after,
        ) % {"seconds": retry_after}
        return format_html("<!DOCTYPE html><title>{}</title><h1>{}</h1><p>{}</p>", title, title, text)
