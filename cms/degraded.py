"""What a degraded path logs: one line per kind of failure per process every few seconds.

While Redis or the ESP is down every request or batch meets the same failure; an operator needs
to know it happens, and how often, not a line (or a traceback) each time. A plain helper with no
imports of the plugin, so every layer may use it, the models included.
"""

import threading
import time

#: One log line per kind of degraded path per process at most this often: an outage is one
#: event for an operator, not a line per request.
WARN_EVERY_SECONDS = 10

_warned = {}
_warned_lock = threading.Lock()


def warn(log, what, exc, detail=""):
    """Log that ``what`` happened because of ``exc``, at warning, at most once per WARN_EVERY_SECONDS per process.

    ``what`` names the degraded path (a fixed text: one entry each); ``detail`` adds to the line.
    """
    now = time.monotonic()
    with _warned_lock:
        last, skipped = _warned.get(what, (0.0, 0))
        if now - last < WARN_EVERY_SECONDS:
            _warned[what] = (last, skipped + 1)
            return
        _warned[what] = (now, 0)
    more = f" ({skipped} more since the last report)" if skipped else ""
    log.warning("%s%s: %s: %s%s", what, f" ({detail})" if detail else "", type(exc).__name__, exc, more)
