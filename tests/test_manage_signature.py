"""A signer's own link to their signature (issue 10, item 2): change, withdraw consent, withdraw altogether.

The link is signed with a salt of its own (a verification token is no manage token, and the
reverse), lives long (``MANAGE_TOKEN_MAX_AGE``) and is revocable (``manage_token_version``).
A tampered, expired, foreign, revoked or withdrawn link is a 4xx page that changes nothing.
"""

import re
from urllib.parse import unquote

import pytest
from django.test import Client
from django.urls import reverse

from cms import manage
from cms.models import ErasureLog, Signature
from cms.tokens import make_manage_token, make_token

from .conftest import confirm_url
from .factories import PetitionPageFactory, SignatureFactory, petition_body

pytestmark = pytest.mark.django_db


def manage_url(page, token):
    return reverse("petitions:manage", args=[page.pk]) + "?token=" + token


def choices(signature):
    signature.refresh_from_db()
    return (signature.show_in_feed, signature.feed_name, signature.share_with_officials, signature.opt_in_updates)


@pytest.fixture
def signature(petition):
    return SignatureFactory(
        petition=petition,
        first_name="Vera",
        last_name="Real",
        email="vera@example.org",
        verified=True,
        show_in_feed=True,
        feed_name="first",
        share_with_officials=True,
        opt_in_updates=True,
    )


@pytest.fixture
def link(signature):
    return manage_url(signature.petition, make_manage_token(signature))


def post(client, url, commit, **data):
    return commit(client.post, url, data)


# --- where the link is given ----------------------------------------------------------------


def test_the_verification_email_carries_the_manage_link(petition, sign, mailoutbox):
    sign(petition, email="ada@example.org")

    [message] = mailoutbox
    [(html, _)] = message.alternatives
    path = reverse("petitions:manage", args=[petition.pk])
    assert f"http://testserver{path}?token=" in message.body
    assert f"http://testserver{path}?token=" in html
    signature = Signature.objects.get()
    token = re.search(re.escape(path) + r"\?token=(\S+)", message.body).group(1)
    assert manage.open_link(petition, unquote(token)).signature.pk == signature.pk


def test_the_thank_you_page_after_confirming_carries_the_manage_link(petition, client, commit):
    signature = SignatureFactory(petition=petition)

    response = commit(client.post, confirm_url(petition), {"token": make_token(signature)})

    assert response.status_code == 200
    path = reverse("petitions:manage", args=[petition.pk])
    token = re.search(re.escape(path) + r"\?token=([^\"&]+)", response.content.decode()).group(1)
    assert manage.open_link(petition, unquote(token)).signature.pk == signature.pk


def test_the_api_confirm_answer_carries_the_manage_url_to_the_token_holder(petition, client, commit):
    signature = SignatureFactory(petition=petition)

    response = commit(
        client.post,
        "/api/signatures/confirm/",
        {"token": make_token(signature)},
        content_type="application/json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "verified"
    assert body["manage_url"].startswith(f"http://testserver{reverse('petitions:manage', args=[petition.pk])}?token=")


def test_an_invalid_api_confirm_carries_no_manage_url(petition, client):
    response = client.post("/api/signatures/confirm/", {"token": "nonsense"}, content_type="application/json")

    assert response.status_code == 400
    assert "manage_url" not in response.json()


# --- the page -------------------------------------------------------------------------------


def test_the_manage_page_shows_the_current_choices_and_is_never_cached_nor_its_token_referred_elsewhere(client, link):
    response = client.get(link)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Vera" in html
    assert re.search(r'value="first"[^>]*checked', html)
    assert re.search(r'name="share_with_officials"[^>]*checked', html)
    assert "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "same-origin"  # no token in a Referer to another site
    assert "csrfmiddlewaretoken" in html


def test_a_signer_changes_how_they_appear_in_the_feed(client, commit, signature, link):
    petition = signature.petition

    response = post(client, link, commit, action="save", feed_display="first_initial", share_with_officials="on")

    assert response.status_code == 200
    assert choices(signature)[:2] == (True, "first_initial")
    assert [entry["name"] for entry in petition.get_feed()] == ["Vera R."]

    post(client, link, commit, action="save", feed_display="hidden")

    assert choices(signature)[0] is False
    assert petition.get_feed() == []


def test_a_signer_withdraws_consent_to_officials_and_to_updates(client, commit, signature, link):
    response = post(client, link, commit, action="save", feed_display="first")

    assert response.status_code == 200
    assert choices(signature) == (True, "first", False, False)
    assert "saved" in response.content.decode().lower()


def test_the_manage_link_cannot_give_consent_the_signer_never_gave(client, commit, petition):
    signature = SignatureFactory(petition=petition, verified=True, share_with_officials=False, opt_in_updates=False)
    link = manage_url(petition, make_manage_token(signature))

    post(client, link, commit, action="save", feed_display="first", share_with_officials="on", opt_in_updates="on")

    assert choices(signature)[2:] == (False, False)


def test_a_bad_feed_choice_is_a_400_that_changes_nothing(client, commit, signature, link):
    before = choices(signature)

    response = post(client, link, commit, action="save", feed_display="everything")

    assert response.status_code == 400
    assert choices(signature) == before


def test_withdrawing_erases_the_signature_and_logs_it_without_the_address(client, commit, signature, link):
    response = post(client, link, commit, action="withdraw")

    assert response.status_code == 200
    assert "withdrawn" in response.content.decode().lower()
    assert not Signature.objects.filter(pk=signature.pk).exists()
    [log] = ErasureLog.objects.all()
    assert (log.petition_id, log.signature_id, log.reason) == (
        signature.petition_id,
        signature.pk,
        ErasureLog.Reason.WITHDRAWN,
    )
    stored = " ".join(str(getattr(log, field.attname)) for field in ErasureLog._meta.concrete_fields)
    assert "vera" not in stored.lower()
    assert log.address_hash and len(log.address_hash) == 64


def test_after_withdrawal_the_old_link_says_so_and_changes_nothing(client, commit, signature, link):
    post(client, link, commit, action="withdraw")

    for response in (client.get(link), post(client, link, commit, action="save", feed_display="first")):
        assert response.status_code == 410
        assert "withdrawn" in response.content.decode().lower()
    assert post(client, link, commit, action="withdraw").status_code == 410
    assert ErasureLog.objects.count() == 1


def test_after_withdrawal_the_address_may_sign_again(client, commit, sign, signature, link):
    post(client, link, commit, action="withdraw")

    sign(signature.petition, email="vera@example.org", first_name="Vera")

    assert Signature.objects.get(email_normalized="vera@example.org").status == Signature.Status.PENDING


def test_the_inbox_owner_withdraws_a_signature_a_stranger_made_with_the_emails_link(
    petition, client, commit, sign, mailoutbox
):
    sign(petition, email="victim@example.org", first_name="Stranger")
    [message] = mailoutbox
    path = re.search(r"(/petitions/\d+/manage/\?token=\S+)", message.body).group(1)

    response = post(client, path, commit, action="withdraw")

    assert response.status_code == 200
    assert not Signature.objects.exists()


# --- links that change nothing ----------------------------------------------------------------


def _refused(client, commit, url, signature, status):
    before = choices(signature)
    assert client.get(url).status_code == status
    for action in ("save", "withdraw"):
        response = post(client, url, commit, action=action, feed_display="hidden")
        assert response.status_code == status
    assert choices(signature) == before
    assert not ErasureLog.objects.exists()
    return response


def test_a_tampered_manage_link_is_a_400_that_changes_nothing(client, commit, signature):
    token = make_manage_token(signature)
    response = _refused(client, commit, manage_url(signature.petition, token[:-2] + "xx"), signature, 400)
    assert "not valid" in response.content.decode()


def test_an_expired_manage_link_is_a_410_that_changes_nothing(client, commit, signature, settings):
    token = make_manage_token(signature)
    settings.PETITIONS = {"MANAGE_TOKEN_MAX_AGE": -1}
    response = _refused(client, commit, manage_url(signature.petition, token), signature, 410)
    assert "expired" in response.content.decode()


def test_another_petitions_manage_link_is_a_400_that_changes_nothing(client, commit, signature, index_page, official):
    other = PetitionPageFactory(parent=index_page, body=petition_body([official.pk]))
    _refused(client, commit, manage_url(other, make_manage_token(signature)), signature, 400)


def test_a_verification_token_is_no_manage_token_and_the_reverse(client, commit, petition, signature):
    _refused(client, commit, manage_url(petition, make_token(signature)), signature, 400)

    pending = SignatureFactory(petition=petition)
    response = commit(client.post, confirm_url(petition), {"token": make_manage_token(pending)})
    assert response.status_code == 400
    pending.refresh_from_db()
    assert pending.status == Signature.Status.PENDING


def test_a_revoked_manage_link_is_a_410_that_changes_nothing(client, commit, signature, link):
    manage.revoke_links([signature.pk])

    response = _refused(client, commit, link, signature, 410)
    assert "no longer valid" in response.content.decode()
    fresh = manage_url(signature.petition, make_manage_token(Signature.objects.get(pk=signature.pk)))
    assert client.get(fresh).status_code == 200


def test_a_cross_site_post_is_refused_and_changes_nothing(client, commit, signature, link):
    before = choices(signature)

    response = commit(
        client.post, link, {"action": "withdraw"}, HTTP_SEC_FETCH_SITE="cross-site", HTTP_ORIGIN="https://evil.example"
    )

    assert response.status_code == 403
    assert choices(signature) == before


def test_the_manage_form_needs_its_csrf_token(commit, signature, link):
    browser = Client(enforce_csrf_checks=True)

    response = commit(browser.post, link, {"action": "withdraw"})

    assert response.status_code == 403
    assert Signature.objects.filter(pk=signature.pk).exists()
