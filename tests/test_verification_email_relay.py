"""The verification email cannot be used to mail strangers someone else's words."""

import pytest

pytestmark = pytest.mark.django_db

SPAM = "WIN a prize at http://evil.example"


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
