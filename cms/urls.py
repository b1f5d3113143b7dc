"""Include before Wagtail's catch-all: ``path("", include("cms.urls"))``."""

from django.urls import path

from . import views
from .api.urls import api_urls

app_name = "petitions"
urlpatterns = [
    path("petitions/<int:page_id>/sign/", views.sign, name="sign"),
    path("petitions/<int:page_id>/confirm/", views.confirm, name="confirm"),
    # The JSON API (cms/api): list, detail, sign, confirm, leads' export, OSDI, and the OpenAPI
    # schema at api/openapi.json. It serves count.json too (the same view, plus CORS for partners'
    # pages), so the line below only keeps reverse("petitions:count") working.
    path("api/", api_urls),
    path("api/petitions/<int:page_id>/count.json", views.count, name="count"),
]
