"""The fast view of counts and feeds, kept in a cache (Redis in production).

The database is the truth: a verification bumps the cached count after it
commits, and the reconcile task (``services.reconcile_counts``) overwrites
count and feed from the database on a schedule. Losing the cache loses no
signature; reads fall back to the last reconciled total until the next run.
"""

from django.core.cache import caches

from .conf import get_setting

COUNT_KEY = "petitions:count:{}"
FEED_KEY = "petitions:feed:{}"
COUNTED_KEY = "petitions:counted:{}"
RECONCILE_LOCK_KEY = "petitions:reconcile-lock"


def get_cache():
    return caches[get_setting("CACHE_ALIAS")]


def _stored_totals(petition_ids):
    from .models import PetitionStats

    return dict(
        PetitionStats.objects.filter(petition_id__in=petition_ids).values_list("petition_id", "signature_count")
    )


def get_counts(petition_ids) -> dict:
    """Cached counts for many petitions: one cache round trip, DB only for misses."""
    petition_ids = list(petition_ids)
    if not petition_ids:
        return {}
    cache = get_cache()
    cached = cache.get_many([COUNT_KEY.format(pk) for pk in petition_ids])
    counts = {pk: cached.get(COUNT_KEY.format(pk)) for pk in petition_ids}
    missing = [pk for pk, value in counts.items() if value is None]
    if missing:
        stored = _stored_totals(missing)
        for pk in missing:
            counts[pk] = stored.get(pk, 0)
            cache.add(COUNT_KEY.format(pk), counts[pk], get_setting("CACHE_TIMEOUT"))
    return counts


def get_count(petition_id) -> int:
    return get_counts([petition_id])[petition_id]


def feed_from_database(petition_id) -> list:
    """The newest verified signers who allowed it, as feed entries."""
    from .models import Signature

    rows = (
        Signature.objects.filter(
            petition_id=petition_id,
            status=Signature.Status.VERIFIED,
            show_in_feed=True,
            hidden_from_feed=False,
        )
        .order_by("-verified_at", "-pk")
        .values_list("first_name", "verified_at")[: get_setting("FEED_SIZE")]
    )
    return [{"name": name, "at": at} for name, at in rows]


def refresh_feed(petition_id) -> list:
    feed = feed_from_database(petition_id)
    get_cache().set(FEED_KEY.format(petition_id), feed, get_setting("CACHE_TIMEOUT"))
    return feed


def get_feed(petition_id) -> list:
    feed = get_cache().get(FEED_KEY.format(petition_id))
    return refresh_feed(petition_id) if feed is None else feed


def record_verification(petition_id, signature_id) -> None:
    """Count one new verification in the cache, once however often it is called.

    Called after the verification commits. If the count is not cached the
    increment is skipped: readers fall back to the stored total and the next
    reconcile sets the exact value.
    """
    cache = get_cache()
    if cache.add(COUNTED_KEY.format(signature_id), 1, get_setting("CACHE_TIMEOUT")):
        try:
            cache.incr(COUNT_KEY.format(petition_id))
        except ValueError:
            pass
    refresh_feed(petition_id)


def store_reconciled(petition_id, count) -> None:
    get_cache().set(COUNT_KEY.format(petition_id), count, get_setting("CACHE_TIMEOUT"))
    refresh_feed(petition_id)
