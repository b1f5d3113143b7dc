import os

from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.api.v3.urls import api as wagtail_api
from wagtail.documents import urls as wagtaildocs_urls

urlpatterns = [
    path("", include("cms.urls")),
    # The ESPs' tracking webhooks (bounces, complaints: cms.suppression), e.g. anymail/postmark/tracking/.
    path("anymail/", include("anymail.urls")),
    path("api/v3/", wagtail_api.urls),  # Wagtail's own page API (django-ninja)
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

if os.environ.get("PETITIONS_BENCH") == "1":  # `make bench` only: its baseline view
    from petitions_site import bench

    urlpatterns += [path("bench/bare/", bench.bare)]

# Pages under their language's prefix (/fr/…, /ar/…); English pages keep their unprefixed URLs.
# The API, admin and static URLs above stay unprefixed.
urlpatterns += i18n_patterns(path("", include(wagtail_urls)), prefix_default_language=False)
