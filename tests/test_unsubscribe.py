"""Update emails carry an unsubscribe link and the RFC 8058 headers; the link works in one click.

Issue 10, item 5: an unsubscribed signer never gets another update for that petition, or for
any petition if they chose "all"; a tampered link gets a clear 4xx and changes nothing.
"""

import email
import email.policy
import re

import pytest
from django.test import Client

from cms import deliveries, emails, suppression
from cms.models import OfficialResponse, Signature, Suppression, address_hash
from cms.tokens import make_unsubscribe_token

from .factories import PetitionPageFactory, SignatureFactory, petition_body

ONE_CLICK = "List-Unsubscribe=One-Click"


def updates(mailoutbox):
    return [m for m in mailoutbox if m.anymail_test_params["tags"][0].endswith("-update")]


def send_response_update(petition, official):
    """An official's response, emailed to the petition's opted-in signers (every batch)."""
    response = OfficialResponse.objects.create(
        petition=petition, official=official, responded_on="2026-11-21", text="<p>Thank you.</p>",
        signer_updates_requested=True,
    )  # fmt: skip
    while deliveries.send_signer_updates("response", response.pk) is not None:
        pass


def link_in(message) -> str:
    [url] = re.findall(r"https?://\S+/petitions/unsubscribe/\S+/", message.body)
    return url


def path_of(url: str) -> str:
    return url.removeprefix("http://testserver")


@pytest.fixture
def subscriber(petition):
    return SignatureFactory(petition=petition, verified=True, opt_in_updates=True, email="Vera.Real@example.org")


@pytest.fixture
def one_click_client():
    """A mailbox provider's POST: no session, no cookie, and CSRF checks on as for any client."""
    return Client(enforce_csrf_checks=True)


def test_update_emails_carry_an_unsubscribe_link_and_the_one_click_headers(petition, official, subscriber, mailoutbox):
    send_response_update(petition, official)

    [update] = updates(mailoutbox)
    url = link_in(update)
    assert url.startswith("http://testserver/petitions/unsubscribe/")
    assert update.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert update.extra_headers["List-Unsubscribe-Post"] == ONE_CLICK
    assert update.anymail_test_params["metadata"]["signature_id"] == str(subscriber.pk)
    # The same headers in the MIME message the ESP (or the demo's .eml file) gets.
    mime = update.message()
    assert mime["List-Unsubscribe"] == f"<{url}>" and mime["List-Unsubscribe-Post"] == ONE_CLICK


def test_the_verification_email_has_no_unsubscribe_link(petition, mailoutbox):
    pending = SignatureFactory(petition=petition)

    emails.send_verification_emails([pending.pk])

    [message] = mailoutbox
    assert "List-Unsubscribe" not in message.extra_headers
    assert "/unsubscribe/" not in message.body


def test_one_click_post_unsubscribes_from_this_petition_without_login_or_csrf_token(
    petition, official, subscriber, mailoutbox, one_click_client
):
    send_response_update(petition, official)
    url = link_in(updates(mailoutbox)[0])

    response = one_click_client.post(path_of(url), ONE_CLICK, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.opt_in_updates is False
    mailoutbox.clear()
    send_response_update(petition, official)
    assert updates(mailoutbox) == []


def test_opening_the_link_only_shows_the_choices_and_changes_nothing(petition, subscriber, client):
    url = suppression.unsubscribe_url(subscriber)

    response = client.get(path_of(url))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="scope" value="petition"' in page and 'name="scope" value="all"' in page
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]
    subscriber.refresh_from_db()
    assert subscriber.opt_in_updates is True
    assert not Suppression.objects.exists()


def test_unsubscribing_from_all_petitions_stops_updates_about_every_petition_even_later_ones(
    petition, index_page, official, subscriber, mailoutbox, client
):
    other = PetitionPageFactory(parent=index_page, body=petition_body([official.pk]))
    # The same inbox, typed differently, on another petition.
    elsewhere = SignatureFactory(petition=other, verified=True, opt_in_updates=True, email="vera.real@EXAMPLE.org")

    response = client.post(path_of(suppression.unsubscribe_url(subscriber)), {"scope": "all"})

    assert response.status_code == 200
    assert "any petition" in response.content.decode()
    elsewhere.refresh_from_db()
    assert elsewhere.opt_in_updates is False
    assert Suppression.objects.filter(
        address_hash=address_hash("vera.real@example.org"), reason=Suppression.Reason.UNSUBSCRIBED
    ).exists()
    # A petition signed afterwards, with updates asked for again: still none.
    later = PetitionPageFactory(parent=index_page, body=petition_body([official.pk]))
    SignatureFactory(petition=later, verified=True, opt_in_updates=True, email="Vera.Real@example.org")
    for page in (petition, other, later):
        send_response_update(page, official)
    assert updates(mailoutbox) == []


def test_an_address_unsubscribed_from_all_still_gets_the_verification_email_it_asks_for(petition, subscriber, commit):
    suppression.unsubscribe(subscriber.pk, suppression.Scope.ALL)
    other = PetitionPageFactory(parent=petition.get_parent(), body=petition_body())
    pending = SignatureFactory(petition=other, email=subscriber.email)

    assert emails.send_verification_emails([pending.pk]) == ([pending.pk], [])


def test_unsubscribing_twice_changes_nothing_more(petition, subscriber, client):
    url = path_of(suppression.unsubscribe_url(subscriber))
    client.post(url, {"scope": "all"})
    before = list(Suppression.objects.values_list("pk", "address_hash", "reason", "created_at"))

    again = client.post(url, {"scope": "all"})
    client.post(url, ONE_CLICK, content_type="application/x-www-form-urlencoded")

    assert again.status_code == 200
    assert list(Suppression.objects.values_list("pk", "address_hash", "reason", "created_at")) == before
    subscriber.refresh_from_db()
    assert subscriber.opt_in_updates is False


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"), id="tampered"),
        pytest.param(lambda token: token[: len(token) // 2], id="truncated"),
        pytest.param(lambda token: "not-a-token", id="garbage"),
    ],
)
def test_a_bad_unsubscribe_link_gets_a_clear_400_and_changes_nothing(petition, subscriber, client, mangle):
    token = make_unsubscribe_token(subscriber)
    url = path_of(suppression.unsubscribe_url(subscriber)).replace(token, mangle(token))

    for response in (client.get(url), client.post(url, {"scope": "all"})):
        assert response.status_code == 400
        assert "not valid" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.opt_in_updates is True
    assert not Suppression.objects.exists()


def test_a_verification_token_is_no_unsubscribe_token(petition, subscriber, client):
    from cms.tokens import make_token

    response = client.post(f"/petitions/unsubscribe/{make_token(subscriber)}/", {"scope": "all"})

    assert response.status_code == 400
    assert not Suppression.objects.exists()


def test_an_unknown_scope_is_refused_and_changes_nothing(petition, subscriber, client):
    response = client.post(path_of(suppression.unsubscribe_url(subscriber)), {"scope": "everything"})

    assert response.status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.opt_in_updates is True


def test_the_link_of_an_erased_signature_says_there_is_nothing_to_unsubscribe(petition, subscriber, client):
    url = path_of(suppression.unsubscribe_url(subscriber))
    Signature.objects.filter(pk=subscriber.pk).delete()

    response = client.post(url, {"scope": "all"})

    assert response.status_code == 404
    assert "nothing to unsubscribe" in response.content.decode()
    assert not Suppression.objects.exists()


def test_other_methods_are_refused(petition, subscriber, client):
    assert client.put(path_of(suppression.unsubscribe_url(subscriber))).status_code == 405


def test_the_demo_mail_files_show_the_unsubscribe_headers(petition, official, subscriber, settings, tmp_path):
    settings.EMAIL_BACKEND = "petitions_site.mail.EmlFileEmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)

    send_response_update(petition, official)

    [eml] = tmp_path.glob("*.eml")
    mime = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert re.fullmatch(r"<http://testserver/petitions/unsubscribe/\S+/>", str(mime["List-Unsubscribe"]).strip())
    assert mime["List-Unsubscribe-Post"] == ONE_CLICK
