"""The page's verification email rendered once and filled per signer is the email rendered whole."""

from urllib.parse import unquote_plus

import pytest

from cms import emails
from cms.conf import absolute_url
from cms.manage_links import manage_path, manage_url
from cms.tokens import read_manage_token, read_token

from .factories import PetitionPageFactory, SignatureFactory

pytestmark = pytest.mark.django_db

TRICKY_BODY = (
    "Dear {first_name}, <b>{petition}</b> & {unknown} {0} {{link}} {first_name.__class__}\n\n"
    "Line one\nline two <script>alert('x')</script>\n\n"
    "Press {link} now, or {link} later.\n\n{link}"
)


@pytest.fixture
def tricky_petition(index_page):
    return PetitionPageFactory(
        parent=index_page,
        title="Sauvons l'école de Łódź — «maintenant» & <vite>",
        verification_email_subject="  {first_name}, confirm {petition}\n<now> {link} {nope}  ",
        verification_email_body=TRICKY_BODY,
    )


def whole(message) -> dict:
    """Everything a message carries, its MIME form included (but the Date, Message-ID and boundary made per send)."""
    mime = message.message()
    del mime["Date"], mime["Message-ID"]
    mime.set_boundary("boundary")  # random per message
    return {
        "subject": message.subject,
        "body": message.body,
        "alternatives": [tuple(alternative) for alternative in message.alternatives],
        "from_email": message.from_email,
        "to": message.to,
        "cc": message.cc,
        "bcc": message.bcc,
        "reply_to": message.reply_to,
        "extra_headers": message.extra_headers,
        "tags": message.tags,
        "metadata": message.metadata,
        "mime": mime.as_bytes(),
    }


def links(page, signature):
    return emails.confirm_url(page, signature), manage_url(page, signature)


@pytest.mark.parametrize("wording", ["default", "tricky"])
def test_the_compiled_email_is_the_email_rendered_whole(wording, petition, tricky_petition):
    page = (petition if wording == "default" else tricky_petition).specific
    signature = SignatureFactory(petition=page, email="Ada.Lovelace+x@Example.org")
    confirm_link, manage_link = links(page, signature)

    compiled = emails.CompiledVerificationEmail(page).message_for(page, signature, confirm_link, manage_link)

    assert whole(compiled) == whole(emails.render_verification_message(page, signature, confirm_link, manage_link))


def test_the_tricky_wording_stays_escaped_in_the_html_part(tricky_petition):
    page = tricky_petition.specific
    signature = SignatureFactory(petition=page)

    [(html, _)] = emails.build_verification_message(page, signature).alternatives

    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;vite&gt;" in html and "Łódź" in html
    assert emails.CONFIRM_SLOT not in html and emails.MANAGE_SLOT not in html


def test_no_signer_data_leaks_into_the_next_signers_email(petition):
    page = petition.specific
    ada, bob = (
        SignatureFactory(petition=page, email="ada@example.org"),
        SignatureFactory(petition=page, email="bob@example.org"),
    )

    first = emails.build_verification_message(page, ada)
    second = emails.build_verification_message(page, bob)  # the same compiled email, filled again

    assert whole(second) == whole(emails.render_verification_message(page, bob, *links(page, bob)))
    ada_values = [*links(page, ada), "ada@example.org"]
    for text in (second.subject, second.body, second.alternatives[0][0], str(second.to)):
        assert not any(value in text for value in ada_values)
    assert second.metadata["signature_id"] == str(bob.pk) and first.metadata["signature_id"] == str(ada.pk)
    assert links(page, ada)[0] in first.body and links(page, bob)[0] in second.body


def test_a_batch_renders_each_pages_email_once(petition, mailoutbox, monkeypatch):
    renders = []
    render = emails.render_verification_message
    monkeypatch.setattr(emails, "render_verification_message", lambda *a: renders.append(a) or render(*a))
    ids = [signature.pk for signature in SignatureFactory.create_batch(3, petition=petition)]

    assert emails.send_verification_emails(ids) == (ids, [])
    assert len(renders) == 1
    assert sorted(message.to[0] for message in mailoutbox) == sorted(
        SignatureFactory._meta.model.objects.filter(pk__in=ids).values_list("email", flat=True)
    )


def test_the_links_are_the_ones_built_from_the_page_for_each_signer(petition):
    page = petition.specific
    ada, bob = SignatureFactory.create_batch(2, petition=page)

    for signature in (ada, bob, ada):  # the page's parts worked out once, the token each signer's own
        confirm_link, manage_link = links(page, signature)
        confirm_base, confirm_token = confirm_link.split("?token=")
        manage_base, manage_token = manage_link.split("?token=")
        assert confirm_base == page.get_full_subpage_url("confirm")
        assert read_token(unquote_plus(confirm_token), page.pk) == signature.pk
        assert manage_base + "?" == absolute_url(manage_path(page, signature), page).split("token=")[0]
        assert read_manage_token(unquote_plus(manage_token), page.pk) == (signature.pk, signature.manage_token_version)
