"""The demo site's settings with bench/urls_shim.py as the URLconf (see that file)."""

from petitions_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_shim"
