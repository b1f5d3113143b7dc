import re

import pytest

from cms.models import Signature
from cms.tokens import make_token

from .conftest import confirm_url
from .factories import PetitionPageFactory, SignatureFactory

pytestmark = pytest.mark.django_db


def confirm_path(page, token):
    return f"{page.url}confirm/?token={token}"


def post_confirm(client, page, token):
    """The confirm page's button: a POST of the token to the plugin's confirm endpoint."""
    return client.post(confirm_url(page), {"token": token})


def link_from(message):
    return re.search(r"http://testserver(\S+)", message.body).group(1)


@pytest.fixture
def pending(petition):
    return SignatureFactory(petition=petition, first_name="Ada")


def test_the_emailed_link_opens_a_confirm_page_and_get_changes_nothing(petition, sign, mailoutbox, client):
    sign(petition)
    response = client.get(link_from(mailoutbox[0]))

    assert response.status_code == 200
    assert "Confirm my signature" in response.content.decode()
    assert Signature.objects.get().status == Signature.Status.PENDING


def test_post_confirms_once_however_often_it_is_sent(pending, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as first_callbacks:
        first = post_confirm(client, pending.petition, make_token(pending))
    with django_capture_on_commit_callbacks(execute=True) as second_callbacks:
        second = post_confirm(client, pending.petition, make_token(pending))

    pending.refresh_from_db()
    assert pending.status == Signature.Status.VERIFIED
    assert "Thank you, you're counted!" in first.content.decode()
    assert "already confirmed" in second.content.decode()
    assert (len(first_callbacks), len(second_callbacks)) == (1, 0)  # counted once


def test_a_tampered_token_changes_nothing(pending, client):
    token = make_token(pending)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    response = post_confirm(client, pending.petition, tampered)

    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Signature.Status.PENDING


def test_an_expired_token_changes_nothing(pending, client, settings):
    settings.PETITIONS = {**settings.PETITIONS, "VERIFY_TOKEN_MAX_AGE": -1}
    token = make_token(pending)

    response = post_confirm(client, pending.petition, token)

    assert response.status_code == 410
    assert "expired" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Signature.Status.PENDING


def test_a_token_for_another_petition_changes_nothing(pending, index_page, client):
    other = PetitionPageFactory(parent=index_page)
    token = make_token(pending)

    response = post_confirm(client, other, token)

    assert response.status_code == 400
    pending.refresh_from_db()
    assert pending.status == Signature.Status.PENDING


def test_a_token_for_a_deleted_signature_is_not_valid(pending, client):
    token = make_token(pending)
    petition = pending.petition
    pending.delete()

    response = post_confirm(client, petition, token)

    assert response.status_code == 400


def test_a_missing_token_is_not_valid(petition, client):
    assert client.get(petition.url + "confirm/").status_code == 400
    assert client.post(confirm_url(petition), {}).status_code == 400


def test_a_fraudulent_signature_cannot_be_verified(pending, client):
    pending.mark_fraudulent()
    token = make_token(pending)

    response = post_confirm(client, pending.petition, token)

    assert response.status_code == 400
    pending.refresh_from_db()
    assert pending.status == Signature.Status.FRAUDULENT
    assert pending.mark_fraudulent() is False  # guarded: only pending signatures change


def test_the_thank_you_screens_offer_the_share_links(pending, client):
    token = make_token(pending)
    confirmed = post_confirm(client, pending.petition, token).content.decode()
    signed = client.get(pending.petition.url + "signed/").content.decode()

    for page in (confirmed, signed):
        assert 'class="share__link share__link--email"' in page
