"""Include before Wagtail's catch-all: ``path("", include("cms.urls"))``."""

from django.urls import path, re_path

from . import identity_views, mail_views, views
from .api.urls import api_urls

app_name = "petitions"
urlpatterns = [
    path("petitions/<int:page_id>/sign/", views.sign, name="sign"),
    path("petitions/<int:page_id>/confirm/", views.confirm, name="confirm"),
    # A signer's own page for their signature: the link in the email and on the thank-you page.
    path("petitions/<int:page_id>/manage/", views.manage_signature, name="manage"),
    # The link in update emails and their List-Unsubscribe header (RFC 8058 one-click POST).
    path("petitions/unsubscribe/<str:token>/", mail_views.unsubscribe, name="unsubscribe"),
    # The most polled URL, so it skips the API framework: a plain view with CORS (views.count).
    # The API below documents it in its schema with the same behaviour.
    # A campaign's accent colour as a stylesheet (cms.identity_views): the CSP allows no inline style.
    re_path(r"^petitions/accent/(?P<colour>[0-9a-f]{6})\.css$", identity_views.accent_stylesheet, name="accent"),
    path("api/petitions/<int:page_id>/count.json", views.count, name="count"),
    # The JSON API (cms/api): list, detail, sign, confirm, leads' export, OSDI, and the OpenAPI
    # schema at api/openapi.json.
    path("api/", api_urls),
]
