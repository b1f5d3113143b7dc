"""The fast view of counts and feeds, kept in Redis (or, in the demo, any Django cache).

The database is the truth. For each petition the store keeps:

- ``count``: the live total, read by every page view and the count endpoint;
- ``recent``: ids of signatures verified after the watermark, scored by
  ``verified_at``, so an event delivered twice counts once;
- ``wm``: the watermark: verifications up to it are in the reconciled total;
- ``feed``: the newest feed entries, newest first.

After a verification commits, ``record_verification`` adds it (one Lua
call). The reconcile task counts the database up to a new watermark and
``apply_reconcile`` sets ``count = total + verifications after the
watermark`` atomically. Losing Redis loses no signature: reads fall back to
the stored total until the next run rebuilds everything.

Which store is used is configuration: ``PETITIONS["STORE"]`` is a dotted path
to a :class:`BaseStore` subclass, built with the cache named by
``PETITIONS["CACHE_ALIAS"]``. Left unset, a Redis cache (Django's own
``RedisCache`` or django-redis) gets :class:`RedisStore` and any other cache
:class:`CacheStore`. Every key goes through the cache's ``make_key``, so a
cache's ``KEY_PREFIX`` and ``VERSION`` keep two sites (or two test runs) on
one Redis apart.

This module imports only Django and the plugin's settings: models, services
and tasks build on it, never the other way round.
"""

import json
import threading
from datetime import datetime

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .conf import get_setting

try:  # optional: django-redis, the Redis cache many Wagtail sites use
    from django_redis import get_redis_connection
    from django_redis.cache import RedisCache as DjangoRedisCache
except ImportError:  # pragma: no cover - depends on the host
    get_redis_connection = DjangoRedisCache = None

REDIS_CACHE_CLASSES = tuple(cls for cls in (RedisCache, DjangoRedisCache) if cls is not None)

COUNT_KEY = "petitions:count:{}"
GOAL_KEY = "petitions:goal:{}"
RECENT_KEY = "petitions:recent:{}"
WATERMARK_KEY = "petitions:wm:{}"
FEED_KEY = "petitions:feed:{}"
# Sign attempts of one client in one window: petition id, window seconds, client (an IPv4 address or
# an IPv6 /64, e.g. "2001:db8:1:2::/64": no spaces, at most 43 characters, so a valid memcached key).
RATE_KEY = "petitions:rate:{}:{}:{}"
# Verification emails sent to one canonical address today; {} is its sha256 hex (no addresses in keys).
EMAIL_CAP_KEY = "petitions:mailcap:{}"
# The challenge's threshold mode (cms.challenge): sign attempts on petition {} this minute, and a key
# that, while it lives, keeps the challenge required there; failed calls to the provider.
CHALLENGE_RATE_KEY = "petitions:challenge:rate:{}"
CHALLENGE_HOLD_KEY = "petitions:challenge:hold:{}"
CHALLENGE_FAILURES_KEY = "petitions:challenge:failures"
OUTBOX_KEY = "petitions:outbox"
# Set, for ESP_PAUSE_SECONDS, by a worker whose send the ESP failed: every sender holds off (cms.emails).
ESP_PAUSED_KEY = "petitions:esp-paused"
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

# A run's values are published after its commit, so two runs in a row may publish in either
# order: one older than the watermark already set is not applied (it would move the watermark
# back, and drop from the count the verifications between the two).
RECONCILE_SCRIPT = """
local watermark = tonumber(redis.call('GET', KEYS[3]) or '-1')
if tonumber(ARGV[2]) < watermark then
  local count = redis.call('GET', KEYS[1])
  if count then return tonumber(count) end
end
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

# One more attempt in each window KEYS[i] of ARGV[i] seconds (a window starts at its first attempt):
# {attempts, ms left} per window, flat. One EVALSHA instead of a pipeline of three commands a window.
COUNT_ATTEMPTS_SCRIPT = """
local replies = {}
for i, key in ipairs(KEYS) do
  replies[#replies + 1] = redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[i], 'NX')
  replies[#replies + 1] = redis.call('PTTL', key)
end
return replies
"""

# Queue ARGV[1] on the outbox KEYS[1]; 1 if this caller set the nudge flag KEYS[2] (for ARGV[2] ms) and
# so wakes the drain task, else 0.
PUSH_OUTBOX_SCRIPT = """
redis.call('RPUSH', KEYS[1], ARGV[1])
if redis.call('SET', KEYS[2], 1, 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""


def get_cache():
    """The Django cache the plugin keeps its values in (``PETITIONS["CACHE_ALIAS"]``)."""
    return caches[get_setting("CACHE_ALIAS")]


def timestamp(moment) -> float:
    return moment.timestamp() if moment is not None else -1.0


def encode_entry(entry) -> str:
    if entry is None:
        return ""
    return json.dumps({**entry, "at": entry["at"].isoformat()}, separators=(",", ":"))


def decode_entry(raw) -> dict:
    entry = json.loads(raw)
    entry["at"] = datetime.fromisoformat(entry["at"])
    return entry


class BaseStore:
    """What the plugin asks of a store. Subclass it and name it in ``PETITIONS["STORE"]``.

    ``cache`` is the Django cache named by ``PETITIONS["CACHE_ALIAS"]``.
    Every method must be safe to call twice with the same arguments.
    """

    #: True when the store keeps a shared outbox list that a drain task empties;
    #: otherwise each signature's email is queued as its own task.
    has_outbox = False

    def __init__(self, cache):
        self.cache = cache

    def get_values(self, petition_ids) -> dict:
        """{petition_id: (count or None, raised goal or None)} in one round trip."""
        raise NotImplementedError

    def fill_count(self, petition_id, stored_total, counted_until) -> int:
        """Set a missing count from the stored total plus what was recorded after its watermark."""
        raise NotImplementedError

    def set_goal(self, petition_id, goal):
        raise NotImplementedError

    def get_feed(self, petition_id) -> list | None:
        """The cached feed entries, newest first, or None when there are none cached."""
        raise NotImplementedError

    def set_feed(self, petition_id, feed):
        raise NotImplementedError

    def record_verification(self, petition_id, signature_id, verified_at, entry) -> bool:
        """Count one verification once however often it is called; True for the call that counted it."""
        raise NotImplementedError

    def apply_reconcile(self, petition_id, total, counted_until, feed=None) -> int:
        """Move the watermark to ``counted_until`` and set count = total + later verifications.

        A ``counted_until`` older than the watermark already set changes nothing (a run that
        published after a newer one); return the count as it stands.
        """
        raise NotImplementedError

    def count_attempt(self, name, window) -> int:
        """One more attempt in a fixed window of ``window`` seconds; the attempts so far."""
        raise NotImplementedError

    def count_attempts(self, windows) -> list:
        """One more attempt under each ``(name, window)``; for each, ``(attempts so far, seconds left)``.

        Seconds left are until that window resets. Override it where the store knows them (and
        to count every window in one round trip); this default counts one by one and says the
        whole window, which is never too short.
        """
        return [(self.count_attempt(name, window), window) for name, window in windows]

    def attempts(self, name) -> int:
        """The attempts ``count_attempt`` has counted under ``name`` in its current window, counting none."""
        raise NotImplementedError

    def attempts_many(self, names) -> list:
        """``attempts`` of each name, in order. Override it to read them all in one round trip."""
        return [self.attempts(name) for name in names]

    def push_outbox(self, signature_id) -> bool:
        """Queue an email; True if this caller should wake the drain task."""
        return True

    def pop_outbox(self, limit) -> list:
        return []

    def start_draining(self):
        """Called by the drain task before it pops: the next signer wakes a new drain."""

    def clear(self):
        """Forget every value of this store (tests; a site's "flush" is the same as losing Redis)."""
        raise NotImplementedError


class RedisStore(BaseStore):
    """Atomic, idempotent counting on Redis (the production store).

    Talks to the cache's Redis server with its own client: django-redis's
    public ``get_redis_connection()`` where that is the cache, otherwise a
    client built from the cache's ``LOCATION`` (the first server). Keys are
    the cache's own (``make_key``), so ``KEY_PREFIX`` applies.
    """

    has_outbox = True

    def __init__(self, cache, client=None):
        super().__init__(cache)
        self.client = client or redis_client_for(cache)
        self.record_script = self.client.register_script(RECORD_SCRIPT)
        self.reconcile_script = self.client.register_script(RECONCILE_SCRIPT)
        self.count_attempts_script = self.client.register_script(COUNT_ATTEMPTS_SCRIPT)
        self.push_outbox_script = self.client.register_script(PUSH_OUTBOX_SCRIPT)
        self.key = cache.make_key

    def _petition_keys(self, petition_id):
        return [
            self.key(COUNT_KEY.format(petition_id)),
            self.key(RECENT_KEY.format(petition_id)),
            self.key(WATERMARK_KEY.format(petition_id)),
            self.key(FEED_KEY.format(petition_id)),
        ]

    def get_values(self, petition_ids):
        keys = [self.key(COUNT_KEY.format(pk)) for pk in petition_ids]
        keys += [self.key(GOAL_KEY.format(pk)) for pk in petition_ids]
        values = self.client.mget(keys)
        n = len(petition_ids)
        return {
            pk: (None if values[i] is None else int(values[i]), None if values[n + i] is None else int(values[n + i]))
            for i, pk in enumerate(petition_ids)
        }

    def fill_count(self, petition_id, stored_total, counted_until):
        # Verifications recorded since the stored watermark are not in stored_total yet.
        recent = self.key(RECENT_KEY.format(petition_id))
        pending = self.client.zcount(recent, f"({timestamp(counted_until)}", "+inf")
        count = stored_total + pending
        self.client.set(self.key(COUNT_KEY.format(petition_id)), count, ex=get_setting("CACHE_TIMEOUT"), nx=True)
        return count

    def set_goal(self, petition_id, goal):
        key = self.key(GOAL_KEY.format(petition_id))
        if goal:
            self.client.set(key, goal, ex=get_setting("CACHE_TIMEOUT"))
        else:
            self.client.delete(key)

    def get_feed(self, petition_id):
        key = self.key(FEED_KEY.format(petition_id))
        pipe = self.client.pipeline(transaction=False)
        pipe.exists(key)
        pipe.lrange(key, 0, -1)
        exists, rows = pipe.execute()
        if not exists:
            return None
        return [decode_entry(row) for row in rows]

    def set_feed(self, petition_id, feed):
        key = self.key(FEED_KEY.format(petition_id))
        pipe = self.client.pipeline()
        pipe.delete(key)
        if feed:
            pipe.rpush(key, *[encode_entry(entry) for entry in feed])
        pipe.expire(key, get_setting("CACHE_TIMEOUT"))
        pipe.execute()

    def record_verification(self, petition_id, signature_id, verified_at, entry):
        args = [signature_id, timestamp(verified_at), encode_entry(entry), get_setting("FEED_SIZE")]
        return bool(self.record_script(keys=self._petition_keys(petition_id), args=args))

    def apply_reconcile(self, petition_id, total, counted_until, feed=None):
        args = [total, timestamp(counted_until), get_setting("CACHE_TIMEOUT"), "0" if feed is None else "1"]
        args += [encode_entry(entry) for entry in feed or []]
        return int(self.reconcile_script(keys=self._petition_keys(petition_id), args=args))

    def count_attempt(self, name, window):
        # The windows' script with one window: one EVALSHA instead of a pipeline of two commands.
        return int(self.count_attempts_script(keys=[self.key(name)], args=[window])[0])

    def count_attempts(self, windows):
        replies = self.count_attempts_script(
            keys=[self.key(name) for name, _ in windows], args=[window for _, window in windows]
        )
        return [
            (count, window if ttl_ms < 0 else ttl_ms / 1000)
            for (_, window), count, ttl_ms in zip(windows, replies[0::2], replies[1::2], strict=True)
        ]

    def attempts(self, name):
        return int(self.client.get(self.key(name)) or 0)

    def attempts_many(self, names):
        return [int(value or 0) for value in self.client.mget([self.key(name) for name in names])] if names else []

    def push_outbox(self, signature_id):
        keys = [self.key(OUTBOX_KEY), self.key(OUTBOX_NUDGED_KEY)]
        return bool(self.push_outbox_script(keys=keys, args=[signature_id, get_setting("OUTBOX_NUDGE_MS")]))

    def pop_outbox(self, limit):
        return [int(value) for value in self.client.lpop(self.key(OUTBOX_KEY), limit) or []]

    def start_draining(self):
        self.client.delete(self.key(OUTBOX_NUDGED_KEY))

    def clear(self):
        pattern = _glob_escape(self.key("petitions:")) + "*"
        for keys in _chunks(self.client.scan_iter(pattern, count=1000), 1000):
            self.client.delete(*keys)


class CacheStore(BaseStore):
    """The same operations on any Django cache; not atomic across processes.

    Good enough for the embedded demo (a file cache shared by web and worker
    processes); the reconcile task corrects whatever a race gets wrong.
    """

    def __init__(self, cache):
        super().__init__(cache)
        self.lock = threading.Lock()

    def get_values(self, petition_ids):
        keys = [COUNT_KEY.format(pk) for pk in petition_ids] + [GOAL_KEY.format(pk) for pk in petition_ids]
        values = self.cache.get_many(keys)
        return {pk: (values.get(COUNT_KEY.format(pk)), values.get(GOAL_KEY.format(pk))) for pk in petition_ids}

    def fill_count(self, petition_id, stored_total, counted_until):
        recent = self.cache.get(RECENT_KEY.format(petition_id)) or {}
        count = stored_total + sum(1 for ts in recent.values() if ts > timestamp(counted_until))
        self.cache.add(COUNT_KEY.format(petition_id), count, get_setting("CACHE_TIMEOUT"))
        return count

    def set_goal(self, petition_id, goal):
        if goal:
            self.cache.set(GOAL_KEY.format(petition_id), goal, get_setting("CACHE_TIMEOUT"))
        else:
            self.cache.delete(GOAL_KEY.format(petition_id))

    def get_feed(self, petition_id):
        return self.cache.get(FEED_KEY.format(petition_id))

    def set_feed(self, petition_id, feed):
        self.cache.set(FEED_KEY.format(petition_id), feed, get_setting("CACHE_TIMEOUT"))

    def record_verification(self, petition_id, signature_id, verified_at, entry):
        timeout = get_setting("CACHE_TIMEOUT")
        with self.lock:
            watermark = self.cache.get(WATERMARK_KEY.format(petition_id), -1.0)
            if timestamp(verified_at) <= watermark:
                return False
            recent = self.cache.get(RECENT_KEY.format(petition_id)) or {}
            if signature_id in recent:
                return False
            recent[signature_id] = timestamp(verified_at)
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
            watermark = timestamp(counted_until)
            count = self.cache.get(COUNT_KEY.format(petition_id))
            if watermark < self.cache.get(WATERMARK_KEY.format(petition_id), -1.0) and count is not None:
                return count  # an older run publishing after a newer one
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

    def count_attempt(self, name, window):
        self.cache.add(name, 0, window)
        try:
            return self.cache.incr(name)
        except ValueError:  # expired between add and incr
            self.cache.add(name, 1, window)
            return 1

    def attempts(self, name):
        return self.cache.get(name) or 0

    def clear(self):
        self.cache.clear()


# --- choosing and building the store ---------------------------------------------------

_clients = {}
#: Options of Django's RedisCache that are not connection pool arguments.
NOT_POOL_OPTIONS = ("pool_class", "parser_class", "serializer")
_local = threading.local()
_generation = [0]  # bumped when PETITIONS or CACHES change (tests), so every thread rebuilds


def redis_client_for(cache):
    """A Redis client for a Redis cache, through public interfaces only."""
    alias = get_setting("CACHE_ALIAS")
    if DjangoRedisCache is not None and isinstance(cache, DjangoRedisCache):
        return get_redis_connection(alias, write=True)
    if isinstance(cache, RedisCache):
        # Django's RedisCache has no public client: one of our own per process, for its first (write)
        # server, with the connection options the cache gives its own pool.
        config = settings.CACHES[alias]
        location = config["LOCATION"]
        url = (location.split(",") if isinstance(location, str) else location)[0].strip()
        if url not in _clients:
            options = {k: v for k, v in config.get("OPTIONS", {}).items() if k not in NOT_POOL_OPTIONS}
            _clients[url] = redis.Redis.from_url(url, **options)
        return _clients[url]
    raise TypeError(f"{type(cache).__name__} is not a Redis cache; set PETITIONS['STORE'] to a store that fits it.")


def default_store_class(cache) -> str:
    """The store a cache gets when ``PETITIONS["STORE"]`` is unset."""
    return "cms.store.RedisStore" if isinstance(cache, REDIS_CACHE_CLASSES) else "cms.store.CacheStore"


def get_store() -> BaseStore:
    """The configured store, built once per thread (Django's cache objects are per thread)."""
    store = getattr(_local, "store", None)
    if store is None or _local.generation != _generation[0]:
        cache = get_cache()
        path = get_setting("STORE") or default_store_class(cache)
        store = _local.store = import_string(path)(cache)
        _local.generation = _generation[0]
    return store


def _forget_store(setting, **kwargs):
    if setting in ("PETITIONS", "CACHES"):
        _generation[0] += 1
        _clients.clear()


setting_changed.connect(_forget_store, dispatch_uid="petitions-store-setting-changed")


def _glob_escape(text):
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def _chunks(iterable, size):
    chunk = []
    for item in iterable:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
