"""A Redis cache whose reads miss and writes skip while Redis is down, for ``CACHES["default"]``.

Wagtail keeps its own values in the default cache (``Site.get_site_root_paths``,
read by every page URL: a page's render, the sign POST's redirect), and Django's
``RedisCache`` raises when Redis cannot be reached, so with Redis down every
petition page and every sign would fail in Wagtail before the plugin's own
fallbacks are reached. This backend is Django's ``RedisCache`` except that a
connection error or a timeout makes a read a miss and a write a no-op, logged
as a warning (once every few seconds per process, ``cms.degraded.warn``); Wagtail
then reads the database, as on any miss. ``incr``, ``decr`` and ``clear`` still
raise: their callers must know. django-redis's cache does the same with its
``IGNORE_EXCEPTIONS`` option.

The plugin's own store talks to Redis directly (``cms.store.RedisStore``, which
takes this cache as a Redis cache) and has fallbacks of its own.
"""

import logging

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

from .degraded import warn

logger = logging.getLogger("petitions.cache")
#: Redis cannot be reached, or did not answer in time (a server loading its data is a ConnectionError too).
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class ResilientRedisCache(RedisCache):
    def _down(self, exc, default):
        warn(logger, "Cache not used: Redis is unavailable", exc)
        return default

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except REDIS_DOWN as exc:
            return self._down(exc, default)

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except REDIS_DOWN as exc:
            return self._down(exc, {})

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except REDIS_DOWN as exc:
            return self._down(exc, False)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().add(key, value, timeout, version)
        except REDIS_DOWN as exc:
            return self._down(exc, False)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            super().set(key, value, timeout, version)
        except REDIS_DOWN as exc:
            self._down(exc, None)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().set_many(data, timeout, version)
        except REDIS_DOWN as exc:
            return self._down(exc, list(data))  # the keys not stored

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().touch(key, timeout, version)
        except REDIS_DOWN as exc:
            return self._down(exc, False)

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except REDIS_DOWN as exc:
            return self._down(exc, False)

    def delete_many(self, keys, version=None):
        try:
            super().delete_many(keys, version)
        except REDIS_DOWN as exc:
            self._down(exc, None)
