"""The petition page's phone-first call to sign: the count and a link to the form under the headline.

Its placement on a phone's first screen, and that following it moves the focus, are proved in a
browser by ``test_accessibility_browser``; these prove what the page renders, without one.
"""

import json

import pytest

from cms.forms import SignatureForm

from .conftest import sign_url
from .factories import PetitionPageFactory, petition_body


def sign_call(response):
    html = response.content.decode()
    start = html.index('<div class="sign-call">')
    return html[start : html.index("</div>", start)]


def test_the_first_field_to_fill_is_the_first_shown_then_the_first_with_an_error():
    assert SignatureForm().first_field_to_fill_id() == "id_first_name"

    bad_address = SignatureForm({"first_name": "Ada", "email": "ada-at-example.org", "feed_display": "first"})
    bad_address.is_valid()
    assert bad_address.first_field_to_fill_id() == "id_email"


def test_a_radio_group_with_an_error_is_reached_through_its_first_button():
    no_choice = SignatureForm({"first_name": "Ada", "email": "ada@example.org"})
    no_choice.is_valid()

    assert no_choice.first_field_to_fill_id() == "id_feed_display_0"


@pytest.mark.django_db
def test_the_call_shows_the_count_and_links_to_the_first_field(client, petition):
    call = sign_call(client.get(petition.url))

    assert '<strong class="sign-call__count">0</strong> people have signed' in call
    assert 'href="#id_first_name"' in call
    assert "Sign the petition" in call


@pytest.mark.django_db
def test_after_a_failed_submission_the_call_links_to_the_first_field_in_error(client, petition):
    response = client.post(
        sign_url(petition), {"first_name": "Ada", "email": "ada-at-example.org", "feed_display": "first"}
    )

    assert response.status_code == 400
    assert 'href="#id_email"' in sign_call(response)


@pytest.mark.django_db
def test_a_closed_petition_shows_its_count_but_no_way_to_sign(client, index_page):
    petition = PetitionPageFactory(parent=index_page, closed=True)
    call = sign_call(client.get(petition.url))

    assert "sign-call__count" in call
    assert "Sign the petition" not in call


@pytest.mark.django_db
def test_a_page_without_a_sign_form_links_nowhere(client, index_page):
    blocks = [block for block in json.loads(petition_body()) if block["type"] != "sign_form"]
    petition = PetitionPageFactory(parent=index_page, body=json.dumps(blocks))
    call = sign_call(client.get(petition.url))

    assert "sign-call__count" in call
    assert "href=" not in call
