"""The verification email cannot be used to mail strangers someone else's words, or to flood an inbox."""

import json

import pytest
from django.utils import timezone

from cms import emails, signing
from cms.models import Signature

from .factories import PetitionPageFactory, petition_body

pytestmark = pytest.mark.django_db

SPAM = "WIN a prize at http://evil.example"


@pytest.fixture
def petitions(index_page, official):
    return [PetitionPageFactory(parent=index_page, body=petition_body([official.pk])) for _ in range(6)]


def test_the_verification_email_carries_nothing_the_signer_typed(petition, sign, mailoutbox):
    response = sign(petition, first_name=SPAM, last_name=SPAM, email="victim@example.org")

    assert response.status_code == 302
    [message] = mailoutbox
    [(html, _)] = message.alternatives
    for text in (message.subject, message.body, html):
        for word in ("WIN", "prize", "evil.example"):
            assert word not in text
    assert message.to == ["victim@example.org"]  # the address alone: no display name
    assert petition.title in message.subject
    assert petition.title in message.body
    assert f"http://testserver{petition.url}confirm/?token=" in message.body
    assert f"http://testserver{petition.url}confirm/?token=" in html


def test_an_old_page_text_with_first_name_greets_generically(petition, sign, mailoutbox):
    petition.verification_email_subject = "{first_name}, confirm {petition}"
    petition.verification_email_body = "Hi {first_name},\n\n{link}"
    petition.save()

    sign(petition, first_name=SPAM)

    [message] = mailoutbox
    assert message.subject == f"there, confirm {petition.title}"
    assert message.body.startswith("Hi there,\n\n")


def test_one_address_gets_at_most_five_verification_emails_a_day_across_petitions(petitions, sign, mailoutbox):
    responses = [sign(page, email="ada@example.org") for page in petitions]

    assert len(mailoutbox) == 5
    # The sixth signer sees what the others saw, and the signature is stored, pending.
    assert [response.status_code for response in responses] == [302] * 6
    assert (
        len({response["Location"].replace(page.url, "") for response, page in zip(responses, petitions, strict=True)})
        == 1
    )
    sixth = Signature.objects.get(petition=petitions[5])
    assert sixth.status == Signature.Status.PENDING
    assert sixth.email_status == Signature.EmailStatus.CAPPED

    # The sweeper does not pick the capped email up again.
    Signature.objects.update(email_requested_at=timezone.now() - timezone.timedelta(minutes=10))
    later = timezone.now() + timezone.timedelta(minutes=10)
    assert signing.overdue_verification_email_ids(now=later) == []


def test_the_capped_sign_api_answer_is_the_same_202(petitions, client, django_capture_on_commit_callbacks, mailoutbox):
    responses = []
    for page in petitions:
        with django_capture_on_commit_callbacks(execute=True):
            responses.append(
                client.post(
                    f"/api/petitions/{page.pk}/signatures/",
                    json.dumps({"first_name": "Ada", "email": "ada@example.org", "feed_display": "first"}),
                    content_type="application/json",
                    REMOTE_ADDR="10.0.0.1",
                )
            )

    assert len(mailoutbox) == 5
    assert [response.status_code for response in responses] == [202] * 6
    assert len({response.content for response in responses}) == 1


def test_another_address_is_not_capped_by_a_capped_one(petitions, sign, mailoutbox):
    for page in petitions:
        sign(page, email="ada@example.org")
    sign(petitions[0], email="grace@example.org")

    assert len(mailoutbox) == 6
    assert mailoutbox[-1].to == ["grace@example.org"]


def test_the_cap_counts_the_canonical_address(petitions, sign, mailoutbox, settings):
    settings.PETITIONS = {**settings.PETITIONS, "EMAILS_PER_ADDRESS_PER_DAY": 1}

    sign(petitions[0], email="Ada@example.org")
    sign(petitions[1], email="ada@example.org")

    assert [message.to for message in mailoutbox] == [["Ada@example.org"]]


def test_the_email_still_goes_when_the_store_holding_the_cap_is_down(petition, sign, mailoutbox, monkeypatch):
    def store_down(*args, **kwargs):
        raise ConnectionError("Redis is restarting")

    monkeypatch.setattr(emails, "get_store", store_down)

    assert sign(petition, email="ada@example.org").status_code == 302

    assert [message.to for message in mailoutbox] == [["ada@example.org"]]
    assert Signature.objects.get().email_status == Signature.EmailStatus.SENT
