"""Limits on sign requests per client and petition: a burst window and a sustained one.

Every sign path (the page's form, the JSON API, the OSDI helper) calls :func:`hit`
before it reads the form, so invalid and refused attempts count too. The client
is :func:`cms.clientip.client_key`: the address the trusted proxies saw, an IPv6
client by its /64. Both windows are counted in one store round trip; a refusal
says how long until the window that refused resets (``Retry-After``).

While the store cannot answer (Redis down), the windows are counted in the
process instead (:data:`LOCAL_WINDOWS`): a sign is neither refused with a 500
nor let through unlimited, but with N web processes the limit is N times
looser until the store is back.
"""

import logging
import math

from django.conf import settings
from django.utils.translation import gettext, ngettext

from .clientip import client_address, client_key
from .conf import get_setting
from .degraded import warn
from .localcache import LocalWindows
from .store import RATE_KEY, get_store

logger = logging.getLogger("petitions.ratelimit")
#: This process's windows while the store is down.
LOCAL_WINDOWS = LocalWindows()

#: The (limit, window) settings pairs, burst first; a limit of None switches its window off.
WINDOWS = (("RATE_LIMIT", "RATE_LIMIT_WINDOW"), ("RATE_LIMIT_SUSTAINED", "RATE_LIMIT_SUSTAINED_WINDOW"))


def window_key(petition_id, window, client) -> str:
    """The store key counting ``client``'s attempts on a petition in a window of ``window`` seconds."""
    return RATE_KEY.format(petition_id, window, client)


def limits():
    """The ``(limit, window)`` pairs in force, from the settings."""
    pairs = ((get_setting(limit), get_setting(window)) for limit, window in WINDOWS)
    return [(limit, window) for limit, window in pairs if limit is not None]


def allowed(request) -> bool:
    """On the allow-list, which only DEBUG honours (petitions.E020 refuses it otherwise)."""
    allow = get_setting("RATE_LIMIT_ALLOW")
    return bool(allow) and settings.DEBUG and client_address(request) in allow


def hit(request, page) -> int | None:
    """Record one sign attempt; return whole seconds to wait if over a limit, else None."""
    if allowed(request):
        return None
    in_force = limits()
    if not in_force:
        return None
    client = client_key(request)
    counts = count_attempts([(window_key(page.pk, window, client), window) for _, window in in_force])
    waits = [left for (limit, _), (attempts, left) in zip(in_force, counts, strict=True) if attempts > limit]
    return max(1, math.ceil(max(waits))) if waits else None


def count_attempts(windows) -> list:
    """One more attempt under each ``(store key, window seconds)``; for each, ``(attempts so far, seconds left)``.

    In the store, or in this process while the store cannot answer (Redis down, a full disk).
    """
    try:
        return get_store().count_attempts(windows)
    except Exception as exc:  # any store's failure: count here rather than fail
        warn(logger, "Attempts counted per process: the store is unavailable", exc)
        return LOCAL_WINDOWS.count_attempts(windows)


def count_attempt(name, window) -> int:
    """One more attempt under ``name`` (the challenge's threshold counters); the attempts so far."""
    return count_attempts([(name, window)])[0][0]


def attempts(name) -> int:
    """The attempts under ``name`` in its current window, counting none (the process's while the store is down)."""
    try:
        return get_store().attempts(name)
    except Exception as exc:
        warn(logger, "Attempts read per process: the store is unavailable", exc)
        return LOCAL_WINDOWS.attempts(name)


def refusal_message(retry_after) -> str:
    """What a refused signer reads: why, and when to try again."""
    if retry_after < 30:
        when = ngettext("%(count)d second", "%(count)d seconds", retry_after) % {"count": retry_after}
    else:
        minutes = math.ceil(retry_after / 60)
        when = ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    return gettext("Too many signatures have come from your connection. Please try again in %(when)s.") % {"when": when}
