import pytest
from anymail.exceptions import AnymailAPIError
from anymail.message import AnymailRecipientStatus
from django.utils import timezone

from cms import emails, signing
from cms.models import Signature
from workers import tasks

from .factories import SignatureFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(petition):
    return SignatureFactory(petition=petition, first_name="Ada", email="ada@example.org")


@pytest.fixture
def esp_response(monkeypatch):
    """Make the anymail test backend answer with the given response or error."""

    def _respond(response):
        build = emails.build_verification_message

        def build_with_response(page, signature):
            message = build(page, signature)
            message.anymail_test_response = response
            return message

        monkeypatch.setattr(emails, "build_verification_message", build_with_response)

    return _respond


def test_the_verification_email_goes_through_anymail_with_tags_metadata_and_link(pending, mailoutbox):
    assert emails.send_verification_emails([pending.pk]) == ([pending.pk], [])

    [message] = mailoutbox
    params = message.anymail_test_params
    assert params["tags"] == ["petition-verification"]
    assert params["metadata"] == {"petition_id": str(pending.petition_id), "signature_id": str(pending.pk)}
    assert message.to == ["ada@example.org"]
    assert f"http://testserver{pending.petition.url}confirm/?token=" in message.body
    assert message.body.startswith("Hello,\n\n")
    assert "Ada" not in message.subject + message.body  # nothing the signer typed
    pending.refresh_from_db()
    assert pending.email_status == Signature.EmailStatus.SENT
    assert pending.email_sent_at is not None


def test_the_editor_wording_fills_only_known_placeholders(pending, mailoutbox):
    petition = pending.petition
    petition.verification_email_subject = "{first_name}, confirm {petition}"
    petition.verification_email_body = "Dear {first_name} {unknown} {0} {first_name.__class__}\n\n{link}"
    petition.save()

    emails.send_verification_emails([pending.pk])

    message = mailoutbox[0]
    assert message.subject == f"there, confirm {petition.title}"
    assert message.body.startswith("Dear there {unknown} {0} {first_name.__class__}")


def test_a_duplicated_task_sends_nothing_twice(pending, mailoutbox):
    tasks.send_verification_emails.delay([pending.pk])
    tasks.send_verification_emails.delay([pending.pk])

    assert len(mailoutbox) == 1


def test_no_email_is_sent_for_a_signature_verified_meanwhile(pending, mailoutbox):
    pending.verify()

    assert emails.send_verification_emails([pending.pk]) == ([], [])
    assert mailoutbox == []


def refused(status):
    return {"recipient_status": {"ada@example.org": AnymailRecipientStatus(message_id="m1", status=status)}}


def test_a_refused_address_is_recorded_and_not_retried(pending, mailoutbox, esp_response):
    esp_response(refused("invalid"))

    result = tasks.send_verification_emails.apply(args=[[pending.pk]])

    assert result.state == "SUCCESS"
    assert len(mailoutbox) == 1  # one attempt, no retry
    pending.refresh_from_db()
    assert pending.email_status == Signature.EmailStatus.REFUSED
    assert signing.overdue_verification_email_ids(now=timezone.now() + timezone.timedelta(hours=1)) == []


def test_a_rejected_recipient_is_recorded(pending, esp_response):
    esp_response(refused("rejected"))

    assert emails.send_verification_emails([pending.pk]) == ([], [])
    pending.refresh_from_db()
    assert pending.email_status == Signature.EmailStatus.REFUSED


def test_a_temporary_esp_error_is_retried_and_leaves_the_email_owed(pending, esp_response, mailoutbox, monkeypatch):
    esp_response(AnymailAPIError("ESP is down"))
    monkeypatch.setitem(tasks.send_verification_emails.app.conf, "task_eager_propagates", False)

    # Eagerly applied, Celery runs the retries at once, then gives up.
    result = tasks.send_verification_emails.apply(args=[[pending.pk]])

    assert result.state == "FAILURE"
    assert len(mailoutbox) == 1 + tasks.send_verification_emails.max_retries  # the test ESP saw every attempt
    pending.refresh_from_db()
    assert pending.email_sent_at is None  # still owed: the sweeper will try again


def test_the_sweeper_reenqueues_emails_that_never_left(pending, mailoutbox):
    later = timezone.now() + timezone.timedelta(minutes=10)
    assert signing.overdue_verification_email_ids(now=later) == [pending.pk]

    assert tasks.resend_overdue_verification_emails.delay().get() == 0  # not overdue yet
    Signature.objects.filter(pk=pending.pk).update(email_requested_at=timezone.now() - timezone.timedelta(minutes=10))
    assert tasks.resend_overdue_verification_emails.delay().get() == 1

    assert len(mailoutbox) == 1
    assert signing.overdue_verification_email_ids(now=later) == []


def test_the_sweeper_pages_through_a_backlog_larger_than_one_page(petition, mailoutbox):
    long_ago = timezone.now() - timezone.timedelta(minutes=10)
    owed = SignatureFactory.create_batch(7, petition=petition, email_requested_at=long_ago)

    assert tasks.resend_overdue_verification_emails.delay(page_size=3).get() == 7

    assert sorted(message.to[0] for message in mailoutbox) == sorted(signature.email for signature in owed)
    assert signing.overdue_verification_email_ids() == []
