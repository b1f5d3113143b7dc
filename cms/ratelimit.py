"""A fixed-window limit on sign requests per client address and petition."""

from .conf import get_setting
from .store import RATE_KEY, get_store


def client_address(request) -> str:
    # REMOTE_ADDR only: a client can forge X-Forwarded-For. Behind a proxy,
    # have the proxy set REMOTE_ADDR (e.g. gunicorn's --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR", "")


def hit(request, page) -> int | None:
    """Record one sign attempt; return seconds to wait if over the limit, else None."""
    address = client_address(request)
    if address in get_setting("RATE_LIMIT_ALLOW"):
        return None
    limit, window = get_setting("RATE_LIMIT"), get_setting("RATE_LIMIT_WINDOW")
    attempts = get_store().count_attempt(RATE_KEY.format(page.pk, address), window)
    return window if attempts > limit else None
