"""The plugin's settings, read through one accessor.

A host project overrides any key in one dict::

    PETITIONS = {"VERIFY_TOKEN_MAX_AGE": 3 * 24 * 3600}

A page attribute of the same name in lower case (e.g. ``feed_size``) wins
over the global value where :func:`get_setting` is given the page.
"""

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS = {
    # Cache alias holding live counts and feeds (Redis in production).
    "CACHE_ALIAS": "default",
    # Dotted path of the counter store (a cms.store.BaseStore); None: RedisStore for a Redis
    # cache (Django's or django-redis), CacheStore for any other cache.
    "STORE": None,
    # The model signatures are stored in, "app_label.ModelName": a subclass of AbstractSignature.
    "SIGNATURE_MODEL": "petitions_cms.Signature",
    # Absolute base URL for links in emails, e.g. "https://petitions.example.org".
    "SITE_URL": None,
    # How long a verification link stays valid, in seconds.
    "VERIFY_TOKEN_MAX_AGE": 14 * 24 * 3600,
    # A pending signer who signs again gets a new email at most this often.
    "RESEND_MIN_INTERVAL": 5 * 60,
    # Emails not handed to the ESP after this long are re-enqueued by the sweeper.
    "EMAIL_OVERDUE_AFTER": 2 * 60,
    # Sign POSTs allowed per client address and petition in RATE_LIMIT_WINDOW seconds.
    "RATE_LIMIT": 20,
    "RATE_LIMIT_WINDOW": 60,
    # Addresses never rate-limited (load tests on 127.0.0.1 only; empty by default).
    "RATE_LIMIT_ALLOW": (),
    # How many signers the feed keeps in cache.
    "FEED_SIZE": 30,
    # The reconcile task counts up to this many seconds before now, so a
    # verification still committing is counted by the next run, not lost.
    "RECONCILE_LAG": 2,
    # Signers wake the outbox drain task once per drain; this expiry only
    # guards against a wake-up that was lost (the beat drain is the backstop).
    "OUTBOX_NUDGE_MS": 1000,
    # Verification emails one send task handles.
    "OUTBOX_BATCH": 25,
    # How long a web process reuses a count or a cached page it just read (0: always ask Redis).
    "LOCAL_CACHE_SECONDS": 1,
    # How long a web process reuses a petition page it looked up for a sign or confirm POST.
    "PAGE_LOOKUP_SECONDS": 2,
    # Anonymous visitors get petition pages from a shared cache this long (0: never).
    "PAGE_CACHE_SECONDS": 5,
    # Origins (besides the site's own host) whose pages may POST signatures.
    "ALLOWED_ORIGINS": (),
    # Seconds the cached count and feed live before a reconcile must refresh them.
    "CACHE_TIMEOUT": 24 * 3600,
    # ESP tags set on every verification email.
    "VERIFICATION_EMAIL_TAGS": ("petition-verification",),
    # Sender of petition emails; falls back to DEFAULT_FROM_EMAIL.
    "FROM_EMAIL": None,
    # How long CDNs and browsers may keep the JSON API's public answers (petition lists and details), in seconds.
    "API_CACHE_SECONDS": 5,
}


def get_setting(name, page=None):
    """Return the PETITIONS[name] setting, or its default.

    A page attribute named ``name.lower()`` that is not None wins.
    """
    if name not in DEFAULTS:
        raise ImproperlyConfigured(f"Unknown petitions setting {name!r}")
    if page is not None:
        value = getattr(page, name.lower(), None)
        if value is not None:
            return value
    return getattr(settings, "PETITIONS", {}).get(name, DEFAULTS[name])


def get_signature_model_string() -> str:
    """``PETITIONS["SIGNATURE_MODEL"]`` as "app_label.ModelName", for relations and migrations."""
    return get_setting("SIGNATURE_MODEL")


def get_signature_model():
    """The model every signature query uses, in the manner of Wagtail's ``get_image_model()``.

    Point ``PETITIONS["SIGNATURE_MODEL"]`` at a concrete subclass of
    ``cms.models.AbstractSignature`` to store extra fields.
    """
    name = get_signature_model_string()
    try:
        return apps.get_model(name, require_ready=False)
    except ValueError:
        raise ImproperlyConfigured(f"PETITIONS['SIGNATURE_MODEL'] must be 'app_label.ModelName', not {name!r}")
    except LookupError:
        raise ImproperlyConfigured(f"PETITIONS['SIGNATURE_MODEL'] refers to {name!r}, which is not installed")
