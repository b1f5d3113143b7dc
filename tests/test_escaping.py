import pytest

from cms import reconcile, signing
from cms.models import Signature

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script>'


def test_html_in_a_name_is_escaped_in_the_feed_the_page_and_the_email(
    petition, sign, mailoutbox, client, django_capture_on_commit_callbacks
):
    sign(petition, first_name=HOSTILE)
    signature = Signature.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        signature.verify()
    reconcile.reconcile_counts([petition.pk])

    page = client.get(petition.url).content.decode()
    html_email = mailoutbox[0].alternatives[0][0]

    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    assert escaped in page
    assert HOSTILE not in page
    assert escaped in html_email
    assert HOSTILE not in html_email
    assert mailoutbox[0].body.startswith(f"Hi {HOSTILE},")  # the text part is plain text


def test_a_name_cannot_inject_an_email_header(petition, mailoutbox, django_capture_on_commit_callbacks):
    petition.verification_email_subject = "Thanks {first_name}"
    petition.save()
    with django_capture_on_commit_callbacks(execute=True):
        signing.sign_petition(petition, {"first_name": "Ada\r\nBcc: evil@example.org", "email": "a@example.org"})

    assert mailoutbox[0].subject == "Thanks Ada Bcc: evil@example.org"
    assert mailoutbox[0].bcc == []
