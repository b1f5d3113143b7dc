"""Conditional GETs of a petition's detail: ETag, Last-Modified, 304, and which header wins."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.http import http_date, parse_http_date
from wagtail.models import Page

from .factories import SignatureFactory

pytestmark = pytest.mark.django_db

PUBLISHED = timezone.now().replace(microsecond=0) - timedelta(days=2)


@pytest.fixture
def petition(petition):
    """The petition as published two days ago (the factory's page has no publication time)."""
    Page.objects.filter(pk=petition.pk).update(last_published_at=PUBLISHED, first_published_at=PUBLISHED)
    petition.refresh_from_db()
    return petition


def detail(client, petition, **headers):
    return client.get(f"/api/petitions/{petition.pk}/", headers=headers)


def test_the_detail_carries_an_etag_and_the_pages_last_publication(petition, client):
    response = detail(client, petition)
    assert response.status_code == 200
    assert response["ETag"].startswith('W/"')
    assert parse_http_date(response["Last-Modified"]) == int(petition.last_published_at.timestamp())


def test_the_same_etag_gets_a_304_with_the_validators_and_caching_headers(petition, client):
    first = detail(client, petition)
    again = detail(client, petition, If_None_Match=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert again["Last-Modified"] == first["Last-Modified"]
    assert again["Cache-Control"] == first["Cache-Control"]


def test_a_strong_form_of_the_etag_or_a_star_matches_too(petition, client):
    etag = detail(client, petition)["ETag"]
    assert detail(client, petition, If_None_Match=etag.removeprefix("W/")).status_code == 304
    assert detail(client, petition, If_None_Match=f'"other", {etag}').status_code == 304
    assert detail(client, petition, If_None_Match="*").status_code == 304


def test_a_new_verified_signer_changes_the_etag_and_the_last_modified(petition, client, reconcile):
    first = detail(client, petition)
    SignatureFactory(petition=petition, verified=True, verified_at=timezone.now() + timedelta(seconds=5))
    reconcile(petition_ids=[petition.pk])
    after = detail(client, petition, If_None_Match=first["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != first["ETag"]
    assert parse_http_date(after["Last-Modified"]) > parse_http_date(first["Last-Modified"])


def test_if_modified_since_gives_a_304_when_nothing_changed_since(petition, client):
    last_modified = detail(client, petition)["Last-Modified"]
    assert detail(client, petition, If_Modified_Since=last_modified).status_code == 304
    earlier = http_date(petition.last_published_at.timestamp() - 60)
    assert detail(client, petition, If_Modified_Since=earlier).status_code == 200


def test_if_none_match_takes_precedence_over_if_modified_since(petition, client):
    current = detail(client, petition)
    stale_tag = detail(client, petition, If_None_Match='W/"stale"', If_Modified_Since=current["Last-Modified"])
    assert stale_tag.status_code == 200
    earlier = http_date(petition.last_published_at.timestamp() - 60)
    same_tag = detail(client, petition, If_None_Match=current["ETag"], If_Modified_Since=earlier)
    assert same_tag.status_code == 304


def test_a_malformed_if_modified_since_is_ignored_not_an_error(petition, client):
    assert detail(client, petition, If_Modified_Since="yesterday-ish").status_code == 200


def test_count_json_answers_no_last_modified_it_could_not_know_cheaply(petition, client):
    response = client.get(f"/api/petitions/{petition.pk}/count.json")
    assert response.status_code == 200 and response["ETag"]
    assert "Last-Modified" not in response
