"""Include before Wagtail's catch-all: ``path("", include("cms.urls"))``."""

from django.urls import path

from . import views

app_name = "petitions"
urlpatterns = [
    path("petitions/<int:page_id>/sign/", views.sign, name="sign"),
    path("petitions/<int:page_id>/confirm/", views.confirm, name="confirm"),
    path("api/petitions/<int:page_id>/count.json", views.count, name="count"),
]
