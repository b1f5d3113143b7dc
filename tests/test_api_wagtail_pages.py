"""Petition pages through Wagtail's own API (v3): every block has a JSON form, with live values."""

import pytest
from django.test import RequestFactory
from django.urls import ResolverMatch

from cms import reconcile

from .factories import SignatureFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_with_wagtail_api")]


@pytest.fixture
def signed_petition(petition, django_capture_on_commit_callbacks):
    SignatureFactory(petition=petition, verified=True, first_name="Grace", country="GB")
    SignatureFactory(petition=petition, verified=True, first_name="Hidden", show_in_feed=False)
    with django_capture_on_commit_callbacks(execute=True):
        reconcile.reconcile_counts([petition.pk])
    return petition


def blocks_by_type(representation):
    return {block["type"]: block["value"] for block in representation}


def test_blocks_find_their_page_from_the_url_wagtails_api_resolved(signed_petition):
    """Wagtail's APIs pass blocks only the request: the page comes from its URL's page id."""
    request = RequestFactory().get(f"/api/v3/pages/{signed_petition.pk}/")
    request.resolver_match = ResolverMatch(lambda r: None, (), {"page_id": str(signed_petition.pk)})
    body = signed_petition.body

    blocks = blocks_by_type(body.stream_block.get_api_representation(body, {"request": request}))

    assert (blocks["counter"]["count"], blocks["counter"]["goal"]) == (2, signed_petition.goal)
    assert [entry["name"] for entry in blocks["signer_feed"]["entries"]] == ["Grace"]
    assert blocks["sign_form"]["accepting"] is True
    assert "email" not in str(blocks["letter"]["officials"])


def test_without_a_page_blocks_give_their_settings_only(signed_petition):
    body = signed_petition.body

    blocks = blocks_by_type(body.stream_block.get_api_representation(body, {}))

    assert blocks["counter"] == {"label": "people already signed", "goal": None, "show_progress": True}
    assert "entries" not in blocks["signer_feed"]


def test_wagtails_page_api_serves_petition_pages(signed_petition, client):
    response = client.get(f"/api/v3/pages/{signed_petition.pk}/")

    assert response.status_code == 200
    assert response.json()["meta"]["type"] == "petitions_cms.PetitionPage"


def test_wagtails_page_api_gives_the_body_with_live_counter_and_feed(signed_petition, client):
    response = client.get(f"/api/v3/pages/{signed_petition.pk}/", {"rich_text_format": "html"})

    data = response.json()
    blocks = blocks_by_type(data["body"])
    assert blocks["counter"]["count"] == 2
    assert [entry["name"] for entry in blocks["signer_feed"]["entries"]] == ["Grace"]
    assert blocks["text"] == "<p>Campaign text.</p>"
    assert data["goal"] == signed_petition.goal
    assert "verification_email_body" not in data and "milestone_notify_emails" not in data
