"""The demo site's production settings for bench/listing.py, with plain static files (no collectstatic run)."""

from petitions_site.settings import *  # noqa: F403

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
