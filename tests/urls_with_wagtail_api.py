"""The demo site's URLs plus Wagtail's own page API (v3) at /api/v3/, for the tests of block representations."""

from django.urls import path
from wagtail.api.v3.urls import api as wagtail_api

from petitions_site.urls import urlpatterns as site_urlpatterns

urlpatterns = [path("api/v3/", wagtail_api.urls), *site_urlpatterns]
