"""A per-process memo of hot values for about a second.

The count endpoint and cached petition pages are read thousands of times a
second during a surge; keeping the last answer in the web process for
LOCAL_CACHE_SECONDS saves a Redis round trip per request, at the price of
that much extra staleness (on top of the seconds a CDN may keep them).
"""

import time

from .conf import get_setting

MAX_ITEMS = 1000


class LocalMemo:
    def __init__(self):
        self.items = {}

    def get(self, key):
        item = self.items.get(key)
        if item is not None and item[0] > time.monotonic():
            return item[1]
        return None

    def set(self, key, value):
        seconds = get_setting("LOCAL_CACHE_SECONDS")
        if not seconds:
            return
        if len(self.items) >= MAX_ITEMS:
            self.items.clear()
        self.items[key] = (time.monotonic() + seconds, value)
