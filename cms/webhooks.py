"""Outgoing webhooks: which endpoint wants which event, the payloads, the URL guard, signing and sending.

Flow: a receiver (``cms.webhook_receivers``) asks :func:`wanted` whether any active endpoint
wants the event for that petition. The answer comes from a per-process table of the active
endpoints, reloaded only when the version key in the cache changes (bumped whenever an
endpoint is saved or deleted), so a verification with no endpoint costs no database query.
When one does, :func:`emit` stores one :class:`WebhookEvent` per endpoint and, after commit,
queues ``petitions.deliver_webhook`` for each. :func:`deliver` makes one attempt, records it,
and says when to try again (exponential backoff with jitter) until ``WEBHOOKS_RETRY_WINDOW``
has passed; then the event is dead-lettered, and the admin's "redeliver" starts a new window
with the same event id.

Signature (as Stripe's): ``X-Petitions-Signature: t=<timestamp>,v1=<hex HMAC-SHA256 of
"<timestamp>.<body>" keyed by the endpoint's secret>``; docs/api.md shows how to verify it.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import socket
import ssl
import threading
import time
import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import urllib3
from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .conf import get_setting
from .models import WebhookAttempt, WebhookEndpoint, WebhookEvent, live_counts
from .store import get_cache

logger = logging.getLogger("petitions")

VERSION_KEY = "petitions:webhooks:version"
USER_AGENT = "wagtail-petitions-webhooks/1"


class UnsafeURL(ValueError):
    """A URL that must not receive webhooks (not http(s), or on a private network)."""


# --- the URL guard (SSRF) -------------------------------------------------------------


def _refused_address(address) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def check_url(url: str) -> list:
    """The addresses ``url``'s host resolves to; :class:`UnsafeURL` unless http(s) on public addresses only.

    Checked on registration and again before every attempt, which then connects to the
    addresses checked, not to a second lookup's (DNS rebinding). ``WEBHOOKS_ALLOW_PRIVATE``
    lifts the address check (development, tests), never the scheme check.
    """
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(_("Only http:// and https:// URLs can receive webhooks."))
    host = parts.hostname
    if not host:
        raise UnsafeURL(_("The URL has no host name."))
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            addresses = [info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]
        except (OSError, ValueError, UnicodeError):
            raise UnsafeURL(_("The host name %(host)s does not resolve.") % {"host": host}) from None
    if not addresses:
        raise UnsafeURL(_("The host name %(host)s does not resolve.") % {"host": host})
    if not get_setting("WEBHOOKS_ALLOW_PRIVATE") and any(_refused_address(address) for address in addresses):
        raise UnsafeURL(
            _("The URL points to a private, loopback or reserved address (%(host)s), which cannot receive webhooks.")
            % {"host": host}
        )
    return addresses


# --- who wants what (the hot path) ----------------------------------------------------

_table = {"version": None, "checked": 0.0, "rows": ()}
_table_lock = threading.Lock()


def forget_endpoints(**kwargs) -> None:
    """Every process reloads its endpoint table at its next event (on endpoint save and delete)."""
    try:
        get_cache().set(VERSION_KEY, uuid.uuid4().hex, None)
    except Exception:  # the cache is down: the table reloads once it answers again (new version)
        logger.warning("Could not bump the webhook endpoints' version", exc_info=True)
    _table["version"] = None


def _rows():
    """[(endpoint id, events, campaign path or None)] of the active endpoints, as this process last loaded them.

    The version is re-read at most every LOCAL_CACHE_SECONDS; a cache that cannot answer
    means a reload from the database, so an event is never dropped for want of the cache.
    """
    now = time.monotonic()
    if _table["version"] is not None and now - _table["checked"] < (get_setting("LOCAL_CACHE_SECONDS") or 0):
        return _table["rows"]
    try:
        cache = get_cache()
        version = cache.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, uuid.uuid4().hex, None)
            version = cache.get(VERSION_KEY)
    except Exception:
        version = None
    with _table_lock:
        if version is None or version != _table["version"]:
            rows = tuple(
                (pk, frozenset(events or ()), path)
                for pk, events, path in WebhookEndpoint.objects.filter(active=True).values_list(
                    "pk", "events", "campaign__path"
                )
            )
            _table.update(rows=rows, version=version)
        _table["checked"] = now
        return _table["rows"]


def wanted(event_type: str, page) -> list:
    """Ids of the active endpoints that want ``event_type`` for petition ``page`` (no query in the usual case)."""
    return [
        pk
        for pk, events, path in _rows()
        if event_type in events and (path is None or (page is not None and page.path.startswith(path)))
    ]


# --- payloads -------------------------------------------------------------------------


def _petition(page, counts_only):
    return {"id": page.pk} if counts_only else {"id": page.pk, "title": page.title, "url": page.full_url}


def _count(page):
    try:
        return live_counts([page.canonical_id]).get(page.canonical_id)
    except Exception:
        return None


def signature_data(signature, page, counts_only) -> dict:
    """Only what the signer consented to share with officials: first name and country, never email or IP."""
    data = {
        "petition": _petition(page, counts_only),
        "signature": {"id": signature.pk},
        "signature_count": _count(page),
    }
    if not counts_only:
        data["signature"]["verified_at"] = signature.verified_at.isoformat() if signature.verified_at else None
        if signature.share_with_officials:
            data["signature"]["signer"] = {"first_name": signature.first_name, "country": str(signature.country or "")}
    return data


def milestone_data(milestone, page, counts_only) -> dict:
    data = {
        "petition": _petition(page, counts_only),
        "milestone": {"id": milestone.pk, "threshold": milestone.threshold},
        "signature_count": milestone.total_when_recorded,
    }
    if not counts_only:
        data["milestone"].update(kind=milestone.kind, reached_at=milestone.reached_at.isoformat())
    return data


def delivery_data(delivery, page, counts_only) -> dict:
    data = {"petition": _petition(page, counts_only), "delivery": {"id": delivery.pk}}
    if not counts_only:
        data["delivery"].update(
            status=delivery.status,
            trigger=delivery.trigger,
            sent_at=delivery.sent_at.isoformat() if delivery.sent_at else None,
            officials=[official.name for official in delivery.officials.all()],
        )
    return data


def response_data(response, page, counts_only) -> dict:
    data = {"petition": _petition(page, counts_only), "response": {"id": response.pk}}
    if not counts_only:
        data["response"].update(
            official=response.official.name if response.official_id else None,
            responded_on=response.responded_on.isoformat(),
        )
    return data


def emit(event_type: str, page, build, queue, endpoint_ids=None) -> list:
    """Store an event for each endpoint that wants it; after commit, ``queue(ids)`` queues their delivery.

    ``build(counts_only)`` returns the event's ``data``: called at most twice, whatever the
    number of endpoints. Returns the new events' ids. (The caller passes ``queue``, the
    task's, so this module does not import the tasks that import it.)
    """
    endpoint_ids = wanted(event_type, page) if endpoint_ids is None else endpoint_ids
    if not endpoint_ids:
        return []
    now = timezone.now()
    data = {}
    events = []
    for endpoint in WebhookEndpoint.objects.filter(pk__in=endpoint_ids, active=True):
        if endpoint.counts_only not in data:
            data[endpoint.counts_only] = build(endpoint.counts_only)
        event_id = uuid.uuid4()
        payload = {
            "id": str(event_id),
            "type": event_type,
            "created": now.isoformat(),
            "data": data[endpoint.counts_only],
        }
        events.append(
            WebhookEvent(id=event_id, endpoint=endpoint, event_type=event_type, payload=payload, window_started_at=now)
        )
    WebhookEvent.objects.bulk_create(events)
    ids = [str(event.id) for event in events]
    transaction.on_commit(lambda: queue(ids))
    return ids


# --- sending --------------------------------------------------------------------------


def body_of(event) -> bytes:
    """The exact bytes posted (and signed): compact JSON of the stored payload."""
    return json.dumps(event.payload, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def headers_for(event, timestamp: str, body: bytes) -> dict:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Petitions-Event": event.event_type,
        "X-Petitions-Event-Id": str(event.id),
        "X-Petitions-Timestamp": timestamp,
        "X-Petitions-Signature": sign(event.endpoint.secret, timestamp, body),
    }


def backoff(attempt: int, rng=random.random) -> float:
    """Seconds before the retry after the ``attempt``-th failure (0-based): doubling, capped, with jitter.

    "Equal jitter": half the exponential delay, plus a random share of the other half, so
    retries of many events failing together spread out instead of arriving in waves.
    """
    delay = min(get_setting("WEBHOOKS_RETRY_MAX"), get_setting("WEBHOOKS_RETRY_BASE") * 2**attempt)
    return delay / 2 + rng() * delay / 2


def _pool(parts, address):
    """A connection pool to ``address`` (checked) that speaks to the URL's host name (Host, TLS SNI and certificate)."""
    connect, read = get_setting("WEBHOOKS_TIMEOUT")
    options = {"timeout": urllib3.Timeout(connect=connect, read=read), "retries": False, "maxsize": 1}
    if parts.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            parts.port or 443,
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
            ssl_context=ssl.create_default_context(),
            **options,
        )
    return urllib3.HTTPConnectionPool(address, parts.port or 80, **options)


def _post(event, now):
    """One attempt: (status code or None, error text)."""
    body = body_of(event)
    timestamp = str(int(now.timestamp()))
    url = event.endpoint.url
    try:
        addresses = check_url(url)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {**headers_for(event, timestamp, body), "Host": parts.netloc.rsplit("@", 1)[-1]}
        pool = _pool(parts, addresses[0])
        try:
            # Redirects are not followed (a 3xx fails the attempt); the answer's body is never read,
            # so a receiver that trickles one cannot hold the worker.
            response = pool.urlopen(
                "POST",
                target,
                body=body,
                headers=headers,
                redirect=False,
                preload_content=False,
                assert_same_host=False,
            )
            status = response.status
            response.release_conn()
        finally:
            pool.close()
    except UnsafeURL as exc:
        return None, str(exc)
    except urllib3.exceptions.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    except SoftTimeLimitExceeded:  # the task's backstop against a receiver trickling its answer
        return None, "SoftTimeLimitExceeded: the receiver took too long"
    if 200 <= status < 300:
        return status, ""
    return status, f"HTTP {status}"


def deliver(event_id, now=None, rng=random.random):
    """Make one attempt at a pending event; return the seconds until the next one, or None when done.

    Done: delivered (a 2xx), dead-lettered (the retry window is over, or the endpoint was
    switched off), or nothing to do (unknown id, already delivered or dead: a duplicate task).
    A task run twice may post twice; receivers drop the repeat by its event id.
    """
    event = WebhookEvent.objects.select_related("endpoint").filter(pk=event_id).first()
    if event is None or event.status != WebhookEvent.Status.PENDING:
        return None
    now = now or timezone.now()
    if not event.endpoint.active:
        WebhookEvent.objects.filter(pk=event.pk).update(status=WebhookEvent.Status.DEAD)
        return None
    started = time.monotonic()
    status_code, error = _post(event, now)
    WebhookAttempt.objects.create(
        event=event,
        attempted_at=now,
        status_code=status_code,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    attempts = event.attempts_made + 1
    if not error:
        WebhookEvent.objects.filter(pk=event.pk).update(
            status=WebhookEvent.Status.DELIVERED, delivered_at=now, attempts_made=attempts
        )
        return None
    delay = backoff(event.attempts_made, rng)
    window_ends = event.window_started_at + timedelta(seconds=get_setting("WEBHOOKS_RETRY_WINDOW"))
    if now + timedelta(seconds=delay) > window_ends:
        WebhookEvent.objects.filter(pk=event.pk).update(status=WebhookEvent.Status.DEAD, attempts_made=attempts)
        logger.warning("Webhook event %s dead-lettered after %s attempts: %s", event.pk, attempts, error)
        return None
    WebhookEvent.objects.filter(pk=event.pk).update(attempts_made=attempts)
    return delay


def redeliver(event_ids, queue, now=None) -> int:
    """Send dead-lettered events again, with the same ids, retrying for a new window."""
    now = now or timezone.now()
    ids = list(
        WebhookEvent.objects.filter(pk__in=list(event_ids), status=WebhookEvent.Status.DEAD).values_list(
            "pk", flat=True
        )
    )
    WebhookEvent.objects.filter(pk__in=ids).update(status=WebhookEvent.Status.PENDING, window_started_at=now)
    transaction.on_commit(lambda: queue(ids))
    return len(ids)


def stalled_event_ids(now=None, limit=1000) -> list:
    """Pending events with no attempt for longer than the longest backoff: their task was lost.

    A broker restarted empty loses the countdown tasks; the events stay pending in the
    database, and the beat sweeper (``petitions.requeue_stalled_webhooks``) queues them again.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=get_setting("WEBHOOKS_RETRY_MAX") + 600)
    return [
        str(pk)
        for pk in WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, created__lt=cutoff)
        .annotate(last=Max("attempts__attempted_at"))
        .filter(Q(last__lt=cutoff) | Q(last__isnull=True))
        .values_list("pk", flat=True)[:limit]
    ]
