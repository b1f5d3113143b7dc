"""Bounces and complaints reported by the ESP's tracking webhook (issue 10, item 6).

Recorded payloads of two ESPs (tests/payloads/: Postmark, authenticated by basic auth with
``ANYMAIL["WEBHOOK_SECRET"]``; Mailgun, by its HMAC signing key) are posted to the real webhook
URLs with Django's test client. Good auth: the address's signatures are marked, the address is
suppressed and the next send skips it. Bad auth: 4xx, nothing changes.
"""

import base64
import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from cms import deliveries, emails
from cms.models import OfficialResponse, Signature, Suppression, address_hash

from .factories import CampaignIndexPageFactory, LeadFactory, PetitionPageFactory, SignatureFactory, petition_body

PAYLOADS = Path(__file__).parent / "payloads"
SECRET = "esp:s3cret-for-webhooks"
SIGNING_KEY = "mailgun-test-signing-key"
POSTMARK_URL = "/anymail/postmark/tracking/"
MAILGUN_URL = "/anymail/mailgun/tracking/"


@pytest.fixture(autouse=True)
def webhook_auth(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


def basic_auth(credentials=SECRET):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


def payload(name, recipient, **changes):
    data = json.loads((PAYLOADS / name).read_text())
    if "event-data" in data:
        data["event-data"]["recipient"] = recipient
        data["event-data"]["message"]["headers"]["to"] = recipient
    else:
        data["Email"] = recipient
    data.update(changes)
    return data


def mailgun_signed(data, key=SIGNING_KEY):
    block = data["signature"]
    block["signature"] = hmac.new(
        key.encode(), f"{block['timestamp']}{block['token']}".encode(), hashlib.sha256
    ).hexdigest()
    return data


def post_postmark(client, data, **auth):
    return client.post(POSTMARK_URL, json.dumps(data), content_type="application/json", **(auth or basic_auth()))


def post_mailgun(client, data):
    # With WEBHOOK_SECRET set, anymail wants basic auth from every ESP, as well as Mailgun's signature.
    return client.post(MAILGUN_URL, json.dumps(data), content_type="application/json", **basic_auth())


def send_response_update(petition, official):
    response = OfficialResponse.objects.create(
        petition=petition, official=official, responded_on="2026-11-21", text="<p>Thank you.</p>",
        signer_updates_requested=True,
    )  # fmt: skip
    while deliveries.send_signer_updates("response", response.pk) is not None:
        pass


def updates(mailoutbox):
    return [m for m in mailoutbox if m.anymail_test_params["tags"][0].endswith("-update")]


def state(*signatures):
    """What a webhook may change: the signatures' marks and consent, and the suppression list."""
    rows = Signature.objects.filter(pk__in=[s.pk for s in signatures]).order_by("pk")
    return (
        list(rows.values_list("pk", "email_status", "opt_in_updates")),
        list(Suppression.objects.order_by("pk").values_list("address_hash", "reason", "source", "created_at")),
    )


@pytest.fixture
def emailed(petition):
    """A signer whose verification email went out (the ESP's message id is recorded)."""
    signature = SignatureFactory(petition=petition, email="Bounce@Example.com")
    emails.send_verification_emails([signature.pk])
    signature.refresh_from_db()
    assert signature.email_status == Signature.EmailStatus.SENT
    return signature


# --- Postmark (basic auth) ---------------------------------------------------------------


def test_a_postmark_hard_bounce_marks_the_signature_suppresses_the_address_and_the_next_send_skips_it(
    petition, index_page, emailed, client, mailoutbox
):
    response = post_postmark(client, payload("postmark_hard_bounce.json", "bounce@example.com"))

    assert response.status_code == 200
    emailed.refresh_from_db()
    assert emailed.email_status == Signature.EmailStatus.BOUNCED
    [suppressed] = Suppression.objects.all()
    assert (suppressed.address_hash, suppressed.reason, suppressed.source) == (
        address_hash("bounce@example.com"), Suppression.Reason.BOUNCED, "Postmark",
    )  # fmt: skip
    # The same inbox signs another petition: its verification email is not sent, and recorded as such.
    mailoutbox.clear()
    other = PetitionPageFactory(parent=index_page, body=petition_body())
    again = SignatureFactory(petition=other, email="bounce@example.com")
    assert emails.send_verification_emails([again.pk]) == ([], [])
    assert mailoutbox == []
    again.refresh_from_db()
    assert again.email_status == Signature.EmailStatus.SUPPRESSED and again.email_sent_at is not None


def test_a_postmark_spam_complaint_withdraws_consent_to_updates_and_stops_them(petition, official, client, mailoutbox):
    signer = SignatureFactory(petition=petition, verified=True, opt_in_updates=True, email="spam@example.com")

    response = post_postmark(client, payload("postmark_spam_complaint.json", "spam@example.com"))

    assert response.status_code == 200
    signer.refresh_from_db()
    assert signer.email_status == Signature.EmailStatus.COMPLAINED
    assert signer.opt_in_updates is False
    assert Suppression.objects.filter(reason=Suppression.Reason.COMPLAINED).count() == 1
    send_response_update(petition, official)
    assert updates(mailoutbox) == []


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param({}, id="no-auth"),
        pytest.param(basic_auth("esp:wrong"), id="wrong-secret"),
        pytest.param({"HTTP_AUTHORIZATION": "Basic !!not-base64"}, id="garbage"),
    ],
)
def test_a_postmark_webhook_without_the_secret_is_refused_and_changes_nothing(emailed, client, auth):
    before = state(emailed)

    response = client.post(
        POSTMARK_URL,
        json.dumps(payload("postmark_hard_bounce.json", "bounce@example.com")),
        content_type="application/json",
        **auth,
    )

    assert 400 <= response.status_code < 500
    assert state(emailed) == before


def test_without_a_webhook_secret_configured_postmark_events_change_nothing(emailed, client, settings):
    # anymail then accepts any POST (with a warning): anyone could suppress any address.
    settings.ANYMAIL = {}
    before = state(emailed)

    with pytest.warns(Warning, match="WEBHOOK_SECRET"):
        response = client.post(
            POSTMARK_URL,
            json.dumps(payload("postmark_hard_bounce.json", "bounce@example.com")),
            content_type="application/json",
        )

    assert response.status_code == 200  # anymail's answer; the ESP need not retry
    assert state(emailed) == before


def test_a_postmark_soft_bounce_neither_marks_nor_suppresses(petition, client):
    signer = SignatureFactory(petition=petition, verified=True, email="full@example.com", email_status="sent")
    before = state(signer)

    assert post_postmark(client, payload("postmark_soft_bounce.json", "full@example.com")).status_code == 200

    assert state(signer) == before


def test_the_same_event_twice_changes_nothing_more(emailed, client):
    data = payload("postmark_hard_bounce.json", "bounce@example.com")
    post_postmark(client, data)
    after_first = state(emailed)

    assert post_postmark(client, data).status_code == 200

    assert state(emailed) == after_first


def test_an_event_found_by_message_id_when_it_names_no_recipient(emailed, client):
    # A Postmark bounce with no "Email": the signature is found by the message id the send recorded.
    message_id = "2706ee8a-737c-4285-b032-ccd317af53ed"
    Signature.objects.filter(pk=emailed.pk).update(email_message_id=message_id)  # as Postmark's send answered
    data = payload("postmark_hard_bounce.json", "", MessageID=message_id)

    assert post_postmark(client, data).status_code == 200

    emailed.refresh_from_db()
    assert emailed.email_status == Signature.EmailStatus.BOUNCED
    assert Suppression.objects.filter(address_hash=address_hash("bounce@example.com")).exists()


def test_an_event_about_an_address_nobody_signed_with_suppresses_it_all_the_same(petition, client):
    assert post_postmark(client, payload("postmark_hard_bounce.json", "stranger@example.net")).status_code == 200

    assert Suppression.objects.filter(address_hash=address_hash("stranger@example.net")).exists()


# --- Mailgun (HMAC-signed) ---------------------------------------------------------------


def test_a_mailgun_permanent_failure_marks_and_suppresses_every_signature_of_the_inbox(
    petition, index_page, client, mailoutbox
):
    first = SignatureFactory(petition=petition, verified=True, email="invalid@example.com", email_status="sent")
    other = PetitionPageFactory(parent=index_page, body=petition_body())
    second = SignatureFactory(petition=other, email="INVALID@example.com")

    response = post_mailgun(client, mailgun_signed(payload("mailgun_failed_permanent.json", "invalid@example.com")))

    assert response.status_code == 200
    for signature in (first, second):
        signature.refresh_from_db()
        assert signature.email_status == Signature.EmailStatus.BOUNCED
    assert Suppression.objects.get().source == "Mailgun"
    assert emails.send_verification_emails([second.pk]) == ([], [])
    assert mailoutbox == []


def test_a_mailgun_complaint_withdraws_consent_to_updates(petition, official, client, mailoutbox):
    signer = SignatureFactory(petition=petition, verified=True, opt_in_updates=True, email="recipient@example.com")

    response = post_mailgun(client, mailgun_signed(payload("mailgun_complained.json", "recipient@example.com")))

    assert response.status_code == 200
    signer.refresh_from_db()
    assert (signer.email_status, signer.opt_in_updates) == (Signature.EmailStatus.COMPLAINED, False)
    send_response_update(petition, official)
    assert updates(mailoutbox) == []


@pytest.mark.parametrize(
    "sign",
    [
        pytest.param(lambda data: mailgun_signed(data, key="not-the-key"), id="wrong-key"),
        pytest.param(lambda data: data, id="unsigned"),
        pytest.param(lambda data: {"event-data": data["event-data"]}, id="no-signature-block"),
    ],
)
def test_a_mailgun_webhook_with_a_bad_signature_is_refused_and_changes_nothing(petition, client, sign):
    signer = SignatureFactory(petition=petition, verified=True, opt_in_updates=True, email="recipient@example.com")
    before = state(signer)

    response = post_mailgun(client, sign(payload("mailgun_complained.json", "recipient@example.com")))

    assert response.status_code == 400
    assert state(signer) == before


# --- the admin's rates -------------------------------------------------------------------


def test_the_admin_shows_bounce_and_complaint_rates_of_the_leads_own_campaigns_only(petition, index_page, client):
    statuses = ["sent"] * 6 + ["bounced", "bounced", "complained", ""]  # the last was never emailed
    for status in statuses:
        SignatureFactory(petition=petition, verified=True, email_status=status)
    elsewhere = CampaignIndexPageFactory(parent=index_page.get_parent(), slug="elsewhere")
    hidden = PetitionPageFactory(parent=elsewhere, title="Another campaign's petition", body=petition_body())
    SignatureFactory(petition=hidden, verified=True, email_status="bounced")
    lead = LeadFactory(campaigns=[index_page])
    client.force_login(lead)

    response = client.get(reverse("petitions_email_report:index"))

    assert response.status_code == 200
    page = response.content.decode()
    cells = re.findall(r"<td>(.*?)</td>", page[page.index(petition.title) :])
    # 9 emailed: 2 bounced (22.22%), 1 complaint (11.11%).
    assert cells[:5] == ["9", "2", "22.22%", "1", "11.11%"]
    assert "Another campaign" not in page


def test_the_rates_are_not_for_users_who_may_not_view_signatures(petition, client, django_user_model):
    editor = django_user_model.objects.create_user("editor", password="pw")
    editor.groups.add(Group.objects.get(name="Editors"))
    client.force_login(editor)

    assert client.get(reverse("petitions_email_report:index")).status_code == 403


# --- every send checks the list ----------------------------------------------------------


def test_an_official_whose_address_bounced_is_not_sent_the_delivery_and_the_lead_sees_why(
    petition, official, commit, mailoutbox
):
    SignatureFactory(petition=petition, verified=True, share_with_officials=True)
    Suppression.add(official.email.upper(), Suppression.Reason.BOUNCED, source="Postmark")
    delivery = commit(deliveries.prepare_delivery, petition, [official])
    delivery.refresh_from_db()  # its files are built

    commit(deliveries.start_sending, delivery)

    assert [m for m in mailoutbox if m.anymail_test_params["tags"] == ["petition-delivery"]] == []
    recipient = delivery.recipients.get()
    assert recipient.status == "rejected" and "suppression list" in recipient.error
    delivery.refresh_from_db()
    assert delivery.status == "partial"  # the lead can correct the address and retry


def test_milestone_emails_skip_suppressed_addresses(index_page, mailoutbox):
    from django.utils import timezone

    from cms import milestones
    from cms.models import Milestone

    page = PetitionPageFactory(parent=index_page, milestone_notify_emails="gone@example.org\nlead@example.org")
    Suppression.add("gone@example.org", Suppression.Reason.COMPLAINED)
    milestone = Milestone.objects.create(
        petition=page, threshold=10, kind="step", reached_at=timezone.now(), total_when_recorded=10
    )

    assert milestones.notify(milestone.pk) is True

    [message] = mailoutbox
    assert message.to == ["lead@example.org"]


def test_a_suppression_can_be_shown_and_lifted_by_address(petition):
    from io import StringIO

    from django.core.management import call_command

    Suppression.add("bounce@example.com", Suppression.Reason.BOUNCED, source="Postmark")

    def run(*args):
        out = StringIO()
        call_command("petitions_suppression", *args, stdout=out)
        return out.getvalue()

    assert run("show", "Bounce@example.com").startswith("bounced\tPostmark\t")
    assert run("lift", "bounce@example.com") == "Lifted 1 suppression(s).\n"
    assert run("lift", "bounce@example.com") == "Not suppressed: nothing to lift.\n"
    assert run("show", "bounce@example.com") == "Not suppressed.\n"
