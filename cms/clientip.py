"""The client's address: from the proxy hops the site trusts, never from what a client says of itself.

Behind nginx or a load balancer every request's ``REMOTE_ADDR`` is the
proxy's, so a limit keyed on it puts every visitor in one bucket. Each proxy
appends the address it saw to ``X-Forwarded-For`` (nginx:
``proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;``), after
whatever the client sent, so only the right-most entries were written by
proxies we run; anything to their left may be forged. ``PETITIONS
["TRUSTED_PROXIES"]`` says which hops those are:

- a number: that many proxies stand in front of every request. The client is
  that many entries from the right of ``X-Forwarded-For`` + ``REMOTE_ADDR``
  (or the left-most, when fewer came). This trusts that every request passes
  all of them: where a client can reach the site around one, name networks.
- networks (``["10.0.0.0/8", "2001:db8::/32"]``): walking from
  ``REMOTE_ADDR`` leftwards, the first address outside them is the client.
  A peer outside them is the client itself, whatever it forwards.
- ``0`` or ``()`` (the default): no proxy; the client is ``REMOTE_ADDR``.

An entry that is not an address (``unknown``, garbage, an empty item) is
never the client: the hop to its right, which we trust, stands in for it.
Such a client shares that hop's limit; it never gets a new one of its own.

Rate limits key an IPv6 client by its /64 (one host or home holds a whole
/64, and picks addresses in it at will) and an IPv4-mapped IPv6 address
(``::ffff:203.0.113.7``) as the IPv4 address it is.
"""

import ipaddress
from functools import lru_cache

from django.core.exceptions import ImproperlyConfigured

from .conf import get_setting

#: IPv6 clients are keyed by this prefix: the network a single host or home is given (RFC 6177).
IPV6_PREFIX = 64
#: The key of a peer that is no address at all (a unix socket with no proxy trusted).
UNKNOWN = "unknown"


def parse_address(text):
    """An ``ipaddress`` address from one hop, or None. Reads ``a.b.c.d:port``, ``[v6]`` and ``[v6]:port``."""
    text = text.strip()
    if text.startswith("["):
        text, bracket, _ = text[1:].partition("]")
        if not bracket:
            return None
    elif text.count(":") == 1:  # IPv4 with a port (a bare IPv6 address has two colons or more)
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=8)
def _parse_proxies(value):
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, tuple) and all(isinstance(item, str) for item in value):
        try:
            return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in value)
        except ValueError as exc:
            raise ImproperlyConfigured(f"PETITIONS['TRUSTED_PROXIES'] holds a network that is not one: {exc}")
    raise ImproperlyConfigured(
        "PETITIONS['TRUSTED_PROXIES'] must be the number of proxies in front of the site (0: none) "
        f"or a list of their networks, e.g. ['10.0.0.0/8'], not {value!r}."
    )


def trusted_proxies():
    """``PETITIONS["TRUSTED_PROXIES"]`` read: a count, or a tuple of networks; ImproperlyConfigured if neither."""
    value = get_setting("TRUSTED_PROXIES")
    if isinstance(value, list):
        value = tuple(value)
    try:
        return _parse_proxies(value)
    except TypeError:  # unhashable: neither a count nor a list of strings
        return _parse_proxies(None)


def _hops(request):
    """The addresses a request passed through, client side first: ``X-Forwarded-For`` entries, then the peer."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return [*(forwarded.split(",") if forwarded else ()), request.META.get("REMOTE_ADDR", "")]


def _nearest_address(hops, start):
    """The first hop that parses from ``start`` rightwards (towards the trusted side), or None."""
    for text in hops[start:]:
        address = parse_address(text)
        if address is not None:
            return address
    return None


def client_ip(request):
    """The client's ``ipaddress`` address, or None when even the peer is no address.

    Kept on the request: a sign asks for it twice (the rate limit, the stored address), and the
    hops cannot change within a request.
    """
    try:
        return request._petitions_client_ip
    except AttributeError:
        pass
    address = request._petitions_client_ip = _client_ip(request)
    return address


def _client_ip(request):
    proxies = trusted_proxies()
    hops = _hops(request)
    if isinstance(proxies, int):
        return _nearest_address(hops, max(0, len(hops) - 1 - proxies))
    client = None
    for text in reversed(hops):
        address = parse_address(text)
        if address is None:  # no proxy we run wrote this: the hop to its right stands in
            break
        client = address
        if not any(address in network for network in proxies):
            break
    return client


def client_address(request) -> str:
    """The client's address as text ("" when unknown): what fraud tools record and compare."""
    address = client_ip(request)
    return "" if address is None else str(address)


def address_key(address) -> str:
    """The bucket an address is counted in: itself for IPv4, its /64 for IPv6."""
    if address is None:
        return UNKNOWN
    if address.version == 6:
        host_bits = 128 - IPV6_PREFIX
        return str(ipaddress.IPv6Network((int(address) >> host_bits << host_bits, IPV6_PREFIX)))
    return str(address)


def client_key(request) -> str:
    """The request's rate-limit bucket: its client's IPv4 address or IPv6 /64 (no spaces, at most 43 characters)."""
    return address_key(client_ip(request))
