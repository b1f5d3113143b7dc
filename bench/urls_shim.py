"""The site's URLs plus the baseline view, for runs where petitions_site/urls.py lacks the bench include.

bench/run.py uses this (through bench/settings_shim.py) only then, and says so
in its results; with the include in place the site's own settings are used.
"""

from django.urls import path

from petitions_site import bench
from petitions_site.urls import urlpatterns as site_urlpatterns

urlpatterns = [path("bench/bare/", bench.bare), *site_urlpatterns]
