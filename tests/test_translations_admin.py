"""The admin reads a translated petition's signatures where they are stored: under its canonical page."""

import pytest
from django.urls import reverse

from cms.signature_listing import petition_choices

from .test_insights import reported  # noqa: F401 (a fixture: signatures over five hours, reconciled)
from .test_translations import translate

pytestmark = pytest.mark.django_db


def test_a_translations_insights_report_shows_the_figures_of_its_petition(reported, admin_client):  # noqa: F811
    french = translate(reported, "fr", title="Pétition en français")

    english = admin_client.get(reverse("petitions_insights:petition", args=[reported.pk]))
    translated = admin_client.get(reverse("petitions_insights:petition", args=[french.pk]))

    assert english.status_code == translated.status_code == 200
    assert english.context["verified"] > 0
    assert (translated.context["signed"], translated.context["verified"]) == (
        english.context["signed"],
        english.context["verified"],
    )
    sources = admin_client.get(reverse("petitions_insights:csv", args=[french.pk]) + "?kind=sources")
    assert "newsletter" in sources.content.decode()


def test_the_listings_petition_filter_offers_a_translated_petition_once(petition, admin_user):
    french = translate(petition, "fr", title="Pétition en français")

    choices = list(petition_choices(admin_user))

    assert petition.pk in [page.pk for page in choices]
    assert french.pk not in [page.pk for page in choices]
