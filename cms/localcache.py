"""A per-process memo of hot values for about a second.

The count endpoint and cached petition pages are read thousands of times a
second during a surge; keeping the last answer in the web process for
LOCAL_CACHE_SECONDS saves a Redis round trip per request, at the price of
that much extra staleness (on top of the seconds a CDN may keep them).
"""

import threading
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

    def clear(self):
        self.items.clear()


class LocalWindows:
    """Fixed-window attempt counters in this process: the rate limit's stand-in while the store is down.

    The same windows as the store's ``count_attempts`` (a window starts at its first attempt and
    lasts ``window`` seconds), but each process counts alone, so with N web processes the limit
    is N times looser until the store is back. Bounded: when full, expired windows go first,
    then everything (a moment of no limit rather than unbounded memory).
    """

    def __init__(self, max_items=10_000):
        self.max_items = max_items
        self.windows = {}  # name -> (ends at, attempts)
        self.lock = threading.Lock()  # gthread workers share the process

    def count_attempts(self, windows):
        """One more attempt under each ``(name, window)``; for each, ``(attempts so far, seconds left)``."""
        now = time.monotonic()
        counts = []
        with self.lock:
            for name, window in windows:
                ends, attempts = self.windows.get(name, (0.0, 0))
                if ends <= now:
                    ends, attempts = now + window, 0
                self.windows[name] = (ends, attempts + 1)
                counts.append((attempts + 1, ends - now))
            if len(self.windows) > self.max_items:
                self.windows = {name: item for name, item in self.windows.items() if item[0] > now}
                if len(self.windows) > self.max_items:
                    self.windows.clear()
        return counts

    def attempts(self, name) -> int:
        """The attempts in ``name``'s current window, counting none."""
        ends, attempts = self.windows.get(name, (0.0, 0))
        return attempts if ends > time.monotonic() else 0

    def clear(self):
        with self.lock:
            self.windows.clear()
