import io
import re

import pytest
from anymail.message import AnymailRecipientStatus
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from pypdf import PdfReader

from cms import deliveries, reconcile, signing
from cms.models import Delivery, DeliveryRecipient, Milestone, OfficialResponse, Signature
from cms.tokens import make_token
from workers import tasks

from .concurrency import run_together
from .factories import LeadFactory, OfficialFactory, PetitionPageFactory, SignatureFactory, petition_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_petition(petition, commit):
    SignatureFactory(petition=petition, first_name="Consenting", last_name="Person", share_with_officials=True,
                     verified=True, country="GB", opt_in_updates=True)  # fmt: skip
    SignatureFactory(petition=petition, first_name="Private", last_name="Person", share_with_officials=False,
                     verified=True, country="FR")  # fmt: skip
    SignatureFactory(petition=petition, first_name="Pending", share_with_officials=True)  # not verified
    commit(reconcile.reconcile_counts)
    return petition


@pytest.fixture
def two_officials(official):
    return [official, OfficialFactory(name="Jo Marsh", title="Councillor", email="jo@council.example.org")]


def pdf_text(data: bytes) -> str:
    """The text of every page of a PDF, as a reader copying it would get it (pypdf, through ToUnicode)."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def sent_to_officials(mailoutbox):
    return [m for m in mailoutbox if m.anymail_test_params["tags"] == ["petition-delivery"]]


def refused(response):
    """Wagtail answers a PermissionDenied in the admin with a redirect to the dashboard."""
    return response.status_code == 403 or (response.status_code == 302 and response["Location"] == "/admin/")


def prepared(petition, officials, commit, **kwargs):
    delivery = commit(deliveries.prepare_delivery, petition, officials, **kwargs)
    delivery.refresh_from_db()
    return delivery


def test_preparing_snapshots_the_letter_totals_and_builds_both_files(signed_petition, two_officials, commit):
    delivery = prepared(signed_petition, two_officials, commit)

    assert delivery.status == Delivery.Status.READY
    assert delivery.total == 2
    assert delivery.breakdown == {"GB": 1, "FR": 1}
    assert delivery.salutation == "Dear Secretary Blinken,"
    assert "We, the undersigned" in delivery.letter_text
    assert delivery.rows_total == delivery.rows_done == 1
    assert [r.email for r in delivery.recipients.order_by("email")] == sorted(o.email for o in two_officials)


def test_a_non_consenting_signer_never_appears_in_a_file(signed_petition, official, commit):
    delivery = prepared(signed_petition, [official], commit)

    csv_text = delivery.csv_file.open("rb").read().decode()
    pdf = pdf_text(delivery.pdf_file.open("rb").read())
    assert "Consenting Person" in csv_text and "Consenting Person" in pdf
    for text in (csv_text, pdf):
        assert "Private" not in text
        assert "Pending" not in text
        assert "@" not in text  # never an email address


def test_one_message_per_official_with_both_attachments_tags_and_metadata(
    signed_petition, two_officials, commit, mailoutbox
):
    delivery = prepared(signed_petition, two_officials, commit)
    commit(deliveries.start_sending, delivery)

    assert sorted(m.to[0] for m in sent_to_officials(mailoutbox)) == sorted(o.email for o in two_officials)
    for message in sent_to_officials(mailoutbox):
        names = [name for name, _, _ in message.attachments]
        assert any(name.endswith(".csv") for name in names) and any(name.endswith(".pdf") for name in names)
        assert message.anymail_test_params["tags"] == ["petition-delivery"]
        assert message.anymail_test_params["metadata"]["delivery_id"] == str(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert set(delivery.recipients.values_list("status", flat=True)) == {"sent"}


def test_the_preview_matches_what_is_sent(signed_petition, official, commit, mailoutbox, admin_client):
    delivery = prepared(signed_petition, [official], commit)
    preview = admin_client.get(reverse("petitions_deliveries:detail", args=[delivery.pk])).content.decode()
    subject, text, html = deliveries.render(delivery, delivery.recipients.get())

    commit(deliveries.start_sending, delivery)

    [message] = sent_to_officials(mailoutbox)
    assert (message.subject, message.body, message.alternatives[0][0]) == (subject, text, html)
    assert subject in preview
    assert "2 people signed this letter" in message.body
    from django.utils.html import escape

    assert escape(html) in preview  # the admin shows the very HTML that is sent


def test_per_recipient_outcomes_are_stored_and_a_retry_sends_only_to_the_failed(
    signed_petition, two_officials, commit, mailoutbox, monkeypatch
):
    rejected_address = two_officials[1].email
    build = deliveries.build_message

    def build_with_a_rejection(delivery, recipient):
        message = build(delivery, recipient)
        if recipient.email == rejected_address:
            status = AnymailRecipientStatus(message_id=None, status="rejected")
            message.anymail_test_response = {"recipient_status": {recipient.email: status}}
        return message

    monkeypatch.setattr(deliveries, "build_message", build_with_a_rejection)
    delivery = prepared(signed_petition, two_officials, commit)
    commit(deliveries.start_sending, delivery)

    delivery.refresh_from_db()
    outcomes = dict(delivery.recipients.values_list("email", "status"))
    assert outcomes == {two_officials[0].email: "sent", rejected_address: "rejected"}
    assert delivery.status == Delivery.Status.PARTIAL
    assert delivery.recipients.get(email=rejected_address).error

    monkeypatch.setattr(deliveries, "build_message", build)  # the address is fixed
    mailoutbox.clear()
    commit(deliveries.retry_failed, delivery)

    assert [m.to for m in sent_to_officials(mailoutbox)] == [[rejected_address]]
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.recipients.get(email=rejected_address).attempts == 2


def test_a_sent_delivery_cannot_be_sent_again(signed_petition, official, commit, mailoutbox):
    delivery = prepared(signed_petition, [official], commit)
    commit(deliveries.start_sending, delivery)

    with pytest.raises(deliveries.DeliveryError, match="already been sent"):
        deliveries.start_sending(delivery)
    tasks.send_delivery.delay(delivery.pk)  # a duplicated task

    assert len(sent_to_officials(mailoutbox)) == 1


def test_a_sent_delivery_keeps_its_total_and_files(signed_petition, official, commit):
    delivery = prepared(signed_petition, [official], commit)
    commit(deliveries.start_sending, delivery)
    csv_before = delivery.csv_file.open("rb").read()
    SignatureFactory(petition=signed_petition, verified=True, share_with_officials=True, first_name="Later")
    commit(reconcile.reconcile_counts)

    delivery.refresh_from_db()
    assert delivery.total == 2
    assert delivery.csv_file.open("rb").read() == csv_before


def test_opted_in_signers_are_told_of_the_delivery_once(signed_petition, official, commit, mailoutbox):
    delivery = prepared(signed_petition, [official], commit)
    commit(deliveries.start_sending, delivery)  # then the update batches run

    updates = [m for m in mailoutbox if m.anymail_test_params["tags"] == ["petition-delivery-update"]]
    assert [m.to for m in updates] == [[Signature.objects.get(first_name="Consenting").email]]
    assert "was delivered" in updates[0].subject
    assert deliveries.send_signer_updates("delivery", delivery.pk) is None  # a rerun sends nothing


def test_the_page_shows_the_public_trace_of_deliveries_and_responses(index_page, official, commit, client):
    import json

    body = json.loads(petition_body([official.pk]))
    body.append({"type": "updates", "value": {"heading": "Updates", "show_deliveries": True, "show_responses": True}})
    petition = PetitionPageFactory(parent=index_page, body=json.dumps(body))
    SignatureFactory(petition=petition, verified=True)
    commit(reconcile.reconcile_counts)
    delivery = prepared(petition, [official], commit, include_list=False)
    commit(deliveries.start_sending, delivery)
    OfficialResponse.objects.create(
        petition=petition, official=official, responded_on="2026-11-20", text="<p>We will review.</p>"
    )

    page = client.get(petition.url).content.decode()

    assert re.search(r"Delivered to Secretary Antony Blinken on \d+ \w+ \d{4} with 1 signature<", page)
    assert "responded on 20 November 2026" in page and "We will review." in page


def test_a_response_can_be_emailed_to_opted_in_signers(
    signed_petition, official, admin_client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("wagtailsnippets_petitions_cms_officialresponse:add"),
            {
                "petition": signed_petition.pk,
                "official": official.pk,
                "responded_on": "2026-11-21",
                "text": '{"blocks":[{"key":"a","text":"Thank you.","type":"unstyled","depth":0,'
                '"inlineStyleRanges":[],"entityRanges":[]}],"entityMap":{}}',
                "show_on_page": "on",
                "signer_updates_requested": "on",
            },
        )

    assert response.status_code == 302, response.content.decode()[:2000]
    [update] = [m for m in mailoutbox if m.anymail_test_params["tags"] == ["petition-response-update"]]
    assert "Thank you." in update.body


# --- permissions ------------------------------------------------------------------------


@pytest.fixture
def lead(index_page):
    """A lead of the test campaign (tests/test_lead_scopes.py: of no other)."""
    return LeadFactory(campaigns=[index_page])


@pytest.fixture
def editor(django_user_model):
    user = django_user_model.objects.create_user("editor", password="pw")
    user.groups.add(Group.objects.get(name="Editors"))
    return user


def test_a_user_without_the_lead_permission_cannot_deliver(signed_petition, official, editor, client, commit):
    client.force_login(editor)
    delivery = prepared(signed_petition, [official], commit)

    assert refused(client.get(reverse("petitions_deliveries:index")))
    assert refused(client.post(reverse("petitions_deliveries:create"), {"petition": signed_petition.pk}))
    assert refused(client.post(reverse("petitions_deliveries:send", args=[delivery.pk])))
    assert refused(client.get(reverse("petitions_deliveries:download", args=[delivery.pk, "csv"])))
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.READY  # not sent
    assert "Deliveries" not in client.get(reverse("wagtailadmin_home")).content.decode()
    assert not Delivery.objects.exclude(pk=delivery.pk).exists()


def test_a_campaign_lead_delivers_from_the_admin_without_page_editing_rights(
    signed_petition, official, lead, client, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(lead)
    assert "Deliveries" in client.get(reverse("wagtailadmin_home")).content.decode()
    form = client.get(reverse("petitions_deliveries:create") + f"?petition={signed_petition.pk}").content.decode()
    assert f'value="{official.pk}"' in form and "checked" in form  # the letter's official is ticked

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("petitions_deliveries:create"),
            {"petition": signed_petition.pk, "officials": [official.pk], "include_list": "on"},
        )
    delivery = Delivery.objects.get()
    assert response["Location"] == reverse("petitions_deliveries:detail", args=[delivery.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("petitions_deliveries:send", args=[delivery.pk]))

    assert [m.to for m in sent_to_officials(mailoutbox)] == [[official.email]]
    assert client.get(reverse("petitions_deliveries:download", args=[delivery.pk, "pdf"])).status_code == 200
    assert not lead.has_perm("wagtailcore.change_page")
    assert refused(client.get(reverse("wagtailadmin_pages:edit", args=[signed_petition.pk])))


def test_campaign_leads_have_exactly_the_delivery_permissions():
    codenames = set(Group.objects.get(name="Campaign leads").permissions.values_list("codename", flat=True))
    assert "deliver_petition" in codenames
    assert not codenames & {"change_page", "add_page", "publish_page"}
    assert Permission.objects.filter(codename="deliver_petition").exists()


def test_a_lead_preparing_without_officials_gets_a_form_error_not_a_500(signed_petition, lead, client):
    client.force_login(lead)

    response = client.post(reverse("petitions_deliveries:create"), {"petition": signed_petition.pk})

    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


# --- milestones ---------------------------------------------------------------------------


def test_reaching_the_goal_delivers_automatically_once(index_page, official, lead, commit, mailoutbox):
    petition = PetitionPageFactory(
        parent=index_page, goal=2, deliver_at_goal=True, delivery_settings_by=lead, body=petition_body([official.pk])
    )  # a lead decided it (tests/test_delivery_decisions.py: otherwise it waits for one)
    SignatureFactory.create_batch(2, petition=petition, verified=True, share_with_officials=True)

    commit(reconcile.reconcile_counts)
    commit(reconcile.reconcile_counts)

    delivery = Delivery.objects.get()
    assert delivery.trigger == Delivery.Trigger.GOAL
    assert delivery.milestone == Milestone.objects.get(kind="goal")
    assert delivery.status == Delivery.Status.SENT
    assert [m.to for m in sent_to_officials(mailoutbox)] == [[official.email]]


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_milestone_crossed_by_concurrent_verifications_yields_exactly_one_delivery(index_page, official, lead):
    petition = PetitionPageFactory(
        parent=index_page, goal=6, deliver_at_goal=True, milestone_step=3, deliver_at_milestones=True,
        delivery_settings_by=lead, body=petition_body([official.pk]),
    )  # fmt: skip
    pending = SignatureFactory.create_batch(8, petition=petition, share_with_officials=True)

    def reconcile_repeatedly():
        for _ in range(4):
            reconcile.reconcile_counts()

    confirms = [lambda s=s: signing.verify_signature(petition, make_token(s)) for s in pending]
    run_together(*confirms, reconcile_repeatedly, reconcile_repeatedly)
    reconcile.reconcile_counts()

    thresholds = sorted(Delivery.objects.values_list("milestone__threshold", flat=True))
    assert thresholds == [3, 6]  # one per milestone: step 3, goal 6 (the step at 6 is the goal)
    assert Delivery.objects.filter(milestone__kind="goal").count() == 1
    assert DeliveryRecipient.objects.count() == 2


def test_a_send_that_hits_a_transient_database_error_is_retried(signed_petition, official, commit, monkeypatch):
    from django.db import OperationalError

    delivery = prepared(signed_petition, [official], commit)
    send, calls = deliveries.send, []

    def locked_once(delivery_id):
        calls.append(delivery_id)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return send(delivery_id)

    monkeypatch.setattr(deliveries, "send", locked_once)
    # Eagerly run, Celery retries at once instead of raising the first error.
    monkeypatch.setitem(tasks.send_delivery.app.conf, "task_eager_propagates", False)
    commit(deliveries.start_sending, delivery)

    assert calls == [delivery.pk, delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
