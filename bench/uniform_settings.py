"""The demo site's production settings for ``bench/uniform_timing.py``.

Its own cache key prefix (every key of the run is deleted at the end), an
in-memory Celery broker (the sign request's occasional drain nudge goes
nowhere and leaves nothing behind), a rate limit that is counted on every
request but never reached, and the page lookup cached for the whole run, as it
is for a surge of signers.
"""

import os

from petitions_site.settings import *  # noqa: F403

CACHES["default"]["KEY_PREFIX"] = os.environ["BENCH_KEY_PREFIX"]  # noqa: F405
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
PETITIONS = {**PETITIONS, "RATE_LIMIT": 10**9, "RATE_LIMIT_SUSTAINED": 10**9, "PAGE_LOOKUP_SECONDS": 24 * 3600}  # noqa: F405
