"""The fast view of counts and feeds, kept in Redis (or, in the demo, any Django cache).

The database is the truth. For each petition the store keeps:

- ``count``: the live total, read by every page view and the count endpoint;
- ``recent``: ids of signatures verified after the watermark, scored by
  ``verified_at``, so an event delivered twice counts once;
- ``wm``: the watermark: verifications up to it are in the reconciled total;
- ``feed``: the newest feed entries, newest first.

After a verification commits, :func:`record_verification` adds it (one Lua
call). The reconcile task counts the database up to a new watermark and
:func:`apply_reconcile` sets ``count = total + verifications after the
watermark`` atomically. Losing Redis loses no signature: reads fall back to
the stored total until the next run rebuilds everything.
"""

import json
import threading

from django.core.cache import caches
from django.utils import timezone

from .conf import get_setting

COUNT_KEY = "petitions:count:{}"
GOAL_KEY = "petitions:goal:{}"
RECENT_KEY = "petitions:recent:{}"
WATERMARK_KEY = "petitions:wm:{}"
FEED_KEY = "petitions:feed:{}"
OUTBOX_KEY = "petitions:outbox"
OUTBOX_NUDGED_KEY = "petitions:outbox:nudged"
RECONCILE_LOCK_KEY = "petitions:reconcile-lock"

RECORD_SCRIPT = """
local watermark = tonumber(redis.call('GET', KEYS[3]) or '-1')
if tonumber(ARGV[2]) <= watermark then return 0 end
if redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCR', KEYS[1]) end
if ARGV[3] ~= '' then
  redis.call('LPUSH', KEYS[4], ARGV[3])
  redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[4]) - 1)
end
return 1
"""

RECONCILE_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[2])
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
local total = tonumber(ARGV[1]) + redis.call('ZCARD', KEYS[2])
redis.call('SET', KEYS[1], total, 'EX', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
if ARGV[4] == '1' then
  redis.call('DEL', KEYS[4])
  if #ARGV > 4 then redis.call('RPUSH', KEYS[4], unpack(ARGV, 5)) end
  redis.call('EXPIRE', KEYS[4], ARGV[3])
end
return total
"""


def get_cache():
    return caches[get_setting("CACHE_ALIAS")]


def _timestamp(moment) -> float:
    return moment.timestamp() if moment is not None else -1.0


def feed_entry(signature, page=None) -> dict | None:
    """A signature as the feed shows it, or None if it must not appear."""
    if not signature.show_in_feed or signature.hidden_from_feed:
        return None
    place = ""
    if signature.country and getattr(page, "feed_show_place", False):
        place = signature.country.name
    return {"id": signature.pk, "name": signature.display_name, "place": place, "at": signature.verified_at}


class RedisStore:
    """Atomic, idempotent counting on Redis (the production store)."""

    def __init__(self, client):
        self.client = client
        self.record_script = client.register_script(RECORD_SCRIPT)
        self.reconcile_script = client.register_script(RECONCILE_SCRIPT)

    def get_values(self, petition_ids):
        keys = [COUNT_KEY.format(pk) for pk in petition_ids] + [GOAL_KEY.format(pk) for pk in petition_ids]
        values = self.client.mget(keys)
        n = len(petition_ids)
        return {
            pk: (None if values[i] is None else int(values[i]), None if values[n + i] is None else int(values[n + i]))
            for i, pk in enumerate(petition_ids)
        }

    def fill_count(self, petition_id, stored_total, counted_until):
        # Verifications recorded since the stored watermark are not in stored_total yet.
        pending = self.client.zcount(RECENT_KEY.format(petition_id), f"({_timestamp(counted_until)}", "+inf")
        count = stored_total + pending
        self.client.set(COUNT_KEY.format(petition_id), count, ex=get_setting("CACHE_TIMEOUT"), nx=True)
        return count

    def set_goal(self, petition_id, goal):
        if goal:
            self.client.set(GOAL_KEY.format(petition_id), goal, ex=get_setting("CACHE_TIMEOUT"))
        else:
            self.client.delete(GOAL_KEY.format(petition_id))

    def get_feed(self, petition_id):
        key = FEED_KEY.format(petition_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.exists(key)
        pipe.lrange(key, 0, -1)
        exists, rows = pipe.execute()
        if not exists:
            return None
        return [_decode_entry(row) for row in rows]

    def record_verification(self, petition_id, signature_id, verified_at, entry):
        return bool(
            self.record_script(
                keys=_keys(petition_id),
                args=[signature_id, _timestamp(verified_at), _encode_entry(entry), get_setting("FEED_SIZE")],
            )
        )

    def apply_reconcile(self, petition_id, total, counted_until, feed=None):
        args = [total, _timestamp(counted_until), get_setting("CACHE_TIMEOUT"), "0" if feed is None else "1"]
        args += [_encode_entry(entry) for entry in feed or []]
        return int(self.reconcile_script(keys=_keys(petition_id), args=args))

    def set_feed(self, petition_id, feed):
        key = FEED_KEY.format(petition_id)
        pipe = self.client.pipeline()
        pipe.delete(key)
        if feed:
            pipe.rpush(key, *[_encode_entry(entry) for entry in feed])
        pipe.expire(key, get_setting("CACHE_TIMEOUT"))
        pipe.execute()

    def count_attempt(self, key, window) -> int:
        """One more attempt in a fixed window; one round trip."""
        pipe = self.client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
        return pipe.execute()[0]

    def push_outbox(self, signature_id) -> bool:
        """Queue an email; True if this caller should wake the drain task."""
        pipe = self.client.pipeline(transaction=False)
        pipe.rpush(OUTBOX_KEY, signature_id)
        pipe.set(OUTBOX_NUDGED_KEY, 1, nx=True, px=get_setting("OUTBOX_NUDGE_MS"))
        return bool(pipe.execute()[1])

    def pop_outbox(self, limit):
        return [int(value) for value in self.client.lpop(OUTBOX_KEY, limit) or []]

    def start_draining(self):
        """Called by the drain task before it pops: the next signer wakes a new drain."""
        self.client.delete(OUTBOX_NUDGED_KEY)

    def clear(self):
        for pattern in ("petitions:*",):
            keys = list(self.client.scan_iter(pattern, count=1000))
            if keys:
                self.client.delete(*keys)


class CacheStore:
    """The same operations on any Django cache; not atomic across processes.

    Good enough for the embedded demo (a file cache shared by web and worker
    processes); the reconcile task corrects whatever a race gets wrong.
    """

    def __init__(self, cache):
        self.cache = cache
        self.lock = threading.Lock()

    def get_values(self, petition_ids):
        keys = [COUNT_KEY.format(pk) for pk in petition_ids] + [GOAL_KEY.format(pk) for pk in petition_ids]
        values = self.cache.get_many(keys)
        return {pk: (values.get(COUNT_KEY.format(pk)), values.get(GOAL_KEY.format(pk))) for pk in petition_ids}

    def fill_count(self, petition_id, stored_total, counted_until):
        recent = self.cache.get(RECENT_KEY.format(petition_id)) or {}
        count = stored_total + sum(1 for ts in recent.values() if ts > _timestamp(counted_until))
        self.cache.add(COUNT_KEY.format(petition_id), count, get_setting("CACHE_TIMEOUT"))
        return count

    def set_goal(self, petition_id, goal):
        if goal:
            self.cache.set(GOAL_KEY.format(petition_id), goal, get_setting("CACHE_TIMEOUT"))
        else:
            self.cache.delete(GOAL_KEY.format(petition_id))

    def get_feed(self, petition_id):
        return self.cache.get(FEED_KEY.format(petition_id))

    def record_verification(self, petition_id, signature_id, verified_at, entry):
        timeout = get_setting("CACHE_TIMEOUT")
        with self.lock:
            watermark = self.cache.get(WATERMARK_KEY.format(petition_id), -1.0)
            if _timestamp(verified_at) <= watermark:
                return False
            recent = self.cache.get(RECENT_KEY.format(petition_id)) or {}
            if signature_id in recent:
                return False
            recent[signature_id] = _timestamp(verified_at)
            self.cache.set(RECENT_KEY.format(petition_id), recent, timeout)
            try:
                self.cache.incr(COUNT_KEY.format(petition_id))
            except ValueError:
                pass
            if entry is not None:
                feed = self.cache.get(FEED_KEY.format(petition_id))
                if feed is not None:
                    self.cache.set(FEED_KEY.format(petition_id), [entry, *feed][: get_setting("FEED_SIZE")], timeout)
        return True

    def apply_reconcile(self, petition_id, total, counted_until, feed=None):
        timeout = get_setting("CACHE_TIMEOUT")
        with self.lock:
            watermark = _timestamp(counted_until)
            recent = {
                pk: ts for pk, ts in (self.cache.get(RECENT_KEY.format(petition_id)) or {}).items() if ts > watermark
            }
            self.cache.set_many(
                {
                    RECENT_KEY.format(petition_id): recent,
                    WATERMARK_KEY.format(petition_id): watermark,
                    COUNT_KEY.format(petition_id): total + len(recent),
                },
                timeout,
            )
            if feed is not None:
                self.cache.set(FEED_KEY.format(petition_id), feed, timeout)
        return total + len(recent)

    def set_feed(self, petition_id, feed):
        self.cache.set(FEED_KEY.format(petition_id), feed, get_setting("CACHE_TIMEOUT"))

    def count_attempt(self, key, window) -> int:
        self.cache.add(key, 0, window)
        try:
            return self.cache.incr(key)
        except ValueError:  # expired between add and incr
            self.cache.add(key, 1, window)
            return 1

    def push_outbox(self, signature_id) -> bool:
        return True  # no shared queue: every signature wakes its own send

    def pop_outbox(self, limit):
        return []

    def start_draining(self):
        pass

    def clear(self):
        self.cache.clear()


def _keys(petition_id):
    return [
        COUNT_KEY.format(petition_id),
        RECENT_KEY.format(petition_id),
        WATERMARK_KEY.format(petition_id),
        FEED_KEY.format(petition_id),
    ]


def _encode_entry(entry):
    if entry is None:
        return ""
    return json.dumps({**entry, "at": entry["at"].isoformat()}, separators=(",", ":"))


def _decode_entry(raw):
    entry = json.loads(raw)
    entry["at"] = timezone.datetime.fromisoformat(entry["at"])
    return entry


def get_store():
    """The store for the configured cache: Redis-native where the cache is Redis.

    Kept on the cache object, which Django makes once per thread.
    """
    cache = get_cache()
    store = getattr(cache, "_petitions_store", None)
    if store is None:
        if cache.__class__.__name__ == "RedisCache":
            store = RedisStore(cache._cache.get_client(write=True))
        else:
            store = CacheStore(cache)
        cache._petitions_store = store
    return store


# --- reads for pages and endpoints -------------------------------------------------


def get_live_values(petition_ids, check_exists=False) -> dict:
    """{petition_id: (count, goal)}: one cache round trip, the database only on a miss.

    With ``check_exists``, ids that are not live petitions are left out (the
    check runs only on a cache miss: cached values exist only for petitions).
    """
    petition_ids = list(petition_ids)
    if not petition_ids:
        return {}
    store = get_store()
    values = store.get_values(petition_ids)
    missing = [pk for pk, (count, _) in values.items() if count is None]
    if missing:
        from wagtail.models import Page

        from .models import PetitionMixin, PetitionStats

        stored = {
            row["petition_id"]: row
            for row in PetitionStats.objects.filter(petition_id__in=missing).values(
                "petition_id", "signature_count", "counted_until", "raised_goal"
            )
        }
        pages = {page.pk: page for page in Page.objects.live().filter(pk__in=missing).specific()}
        for pk in missing:
            page = pages.get(pk)
            if check_exists and not isinstance(page, PetitionMixin):
                del values[pk]
                continue
            row = stored.get(pk, {"signature_count": 0, "counted_until": None, "raised_goal": None})
            count = store.fill_count(pk, row["signature_count"], row["counted_until"])
            goal = max(getattr(page, "goal", 0) or 0, row["raised_goal"] or 0)
            store.set_goal(pk, goal)
            values[pk] = (count, goal)
    return values


def get_counts(petition_ids) -> dict:
    return {pk: count for pk, (count, _) in get_live_values(petition_ids).items()}


def get_count(petition_id) -> int:
    return get_counts([petition_id])[petition_id]


def feed_from_database(petition_id, page=None) -> list:
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
        .only("pk", "first_name", "last_name", "feed_name", "country", "verified_at", "show_in_feed")[
            : get_setting("FEED_SIZE")
        ]
    )
    return [feed_entry(signature, page) for signature in rows]


def get_feed(petition_id, page=None) -> list:
    store = get_store()
    feed = store.get_feed(petition_id)
    if feed is None:
        feed = feed_from_database(petition_id, page)
        store.set_feed(petition_id, feed)
    # An entry can arrive twice (a verification racing a rebuild): show it once.
    seen = set()
    return [entry for entry in feed if not (entry["id"] in seen or seen.add(entry["id"]))]


def record_verification(page, signature) -> bool:
    """Count one new verification, once however often it is called (after commit)."""
    return get_store().record_verification(page.pk, signature.pk, signature.verified_at, feed_entry(signature, page))
