"""This process's rendered copies of the "confirmed" thank-you page, for the confirm surge.

Every confirmation answers with the same thank-you page but for one thing: the signer's own
manage link. Rendering the whole page cost several times more than verifying, so the page is
rendered once per (page as published, already confirmed or not, host, path, language, template) with a
placeholder where the link goes, kept for PAGE_CACHE_SECONDS (the staleness the public page
cache already allows), and each answer joins the copy's parts around that signer's link,
HTML-escaped as the template would escape it. The answer is then the same bytes a fresh render
gives, and stays private (``cms.page_views._private``): it carries the signer's link, and the
copy holds only the placeholder, never a link.

A render that is not the same for everyone is never kept, and such a visitor never gets a copy:
a request with a session or messages cookie (as for the page cache) or a logged-in user
(Wagtail's user bar), a render that sets a cookie or a CSRF token, or one that does not carry the
placeholder where the link goes. A host whose landing template shows anything per request sets
``PetitionMixin.cache_confirmed_landing = False``. Publishing, unpublishing or deleting the page
forgets its copies (``forget``, connected in ``cms.receivers``); other processes' copies expire.
"""

import secrets
import threading
import time

from django.conf import settings
from django.http import HttpResponse
from django.utils.html import escape
from django.utils.translation import get_language

from .conf import get_setting

#: Where the manage link goes in a copy: random per process, so no page content can hold it.
PLACEHOLDER = f"petitions-manage-url-{secrets.token_hex(16)}"
MAX_COPIES = 200

_copies = {}  # key -> (expires at, parts of the content, content type), or (expires at, None, None)
_lock = threading.Lock()  # gthread workers share the process


def render_confirmed(page, request, *, already: bool, manage_url: str = ""):
    """The "confirmed" landing with ``manage_url``, from this process's copy where one may be kept."""
    seconds = get_setting("PAGE_CACHE_SECONDS")
    if not (seconds and getattr(page, "cache_confirmed_landing", False) and _anonymous(request)):
        return page.render_landing(request, "confirmed", already=already, manage_url=manage_url)
    key = _key(page, request, already, bool(manage_url))
    copy = _copies.get(key)
    if copy is None or copy[0] <= time.monotonic():
        # (None, None) marks a render that may not be shared, so it is not tried again for a while.
        copy = (time.monotonic() + seconds, *(_render_copy(page, request, already, bool(manage_url)) or (None, None)))
        with _lock:
            if len(_copies) >= MAX_COPIES:
                _copies.clear()
            _copies[key] = copy
    _, parts, content_type = copy
    if parts is None:  # not the same for everyone: this answer is rendered as it stands
        return page.render_landing(request, "confirmed", already=already, manage_url=manage_url)
    return HttpResponse(escape(manage_url).encode().join(parts), content_type=content_type)


def _anonymous(request) -> bool:
    """No session or messages cookie and no user: the page cache's rule (``cms.middleware``) for one shared copy."""
    cookies = request.COOKIES
    if settings.SESSION_COOKIE_NAME in cookies or "messages" in cookies:
        return False
    user = getattr(request, "user", None)
    return user is None or not user.is_authenticated


def _key(page, request, already, with_link):
    # A publish changes last_published_at, so a page object fetched after it never meets an older copy.
    template = page.get_landing_page_template(request)
    return (page.pk, page.last_published_at, template, already, with_link, request.scheme, request.get_host(),
            request.path, get_language())  # fmt: skip


def _render_copy(page, request, already, with_link):
    """(content split at the placeholder, content type), or None when the render may not be shared."""
    # Cleared for the render, so a CSRF token it asks for shows, whatever the middleware set before.
    csrf_before = request.META.pop("CSRF_COOKIE_NEEDS_UPDATE", None)
    response = page.render_landing(request, "confirmed", already=already, manage_url=PLACEHOLDER if with_link else "")
    response.render()
    csrf_used = request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
    if csrf_before is not None and not csrf_used:
        request.META["CSRF_COOKIE_NEEDS_UPDATE"] = csrf_before
    if response.status_code != 200 or response.cookies or csrf_used:
        return None
    if getattr(getattr(request, "_messages", None), "used", False):  # it showed this request's messages
        return None
    parts = response.content.split(PLACEHOLDER.encode())
    if with_link and len(parts) < 2:  # the template changed the link (a filter): keep no copy
        return None
    return tuple(parts), response["Content-Type"]


def forget(sender=None, instance=None, **kwargs):
    """Drop this process's copies of a page (published, unpublished or deleted); all without an instance."""
    pk = getattr(instance, "pk", None)
    with _lock:
        for key in [key for key in _copies if pk is None or key[0] == pk]:
            _copies.pop(key, None)
