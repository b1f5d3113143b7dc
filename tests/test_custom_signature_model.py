"""A host's own signature model (PETITIONS["SIGNATURE_MODEL"]) is used by every step of the journey."""

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone
from wagtail.models import APIToken

from cms import deliveries, reconcile, signing
from cms.conf import get_signature_model
from cms.models import CampaignGrant, Delivery, PetitionStats, Signature

from .conftest import confirm_url
from .testapp.models import MemberSignature

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def member_signatures(settings):
    settings.PETITIONS = {**settings.PETITIONS, "SIGNATURE_MODEL": "petitions_testapp.MemberSignature"}


def test_the_setting_names_the_model_every_query_uses():
    assert get_signature_model() is MemberSignature


def test_a_wrong_setting_is_a_clear_error(settings):
    settings.PETITIONS = {**settings.PETITIONS, "SIGNATURE_MODEL": "petitions_testapp.Nothing"}
    with pytest.raises(Exception, match="not installed"):
        get_signature_model()


def test_the_whole_journey_stores_and_counts_in_the_custom_model(
    petition, sign, client, mailoutbox, django_capture_on_commit_callbacks, official
):
    # Sign: the row goes to the host's table, and the email is sent from it.
    assert sign(petition, first_name="Stefanie", share_with_officials="on").status_code == 302
    member = MemberSignature.objects.get()
    assert not Signature.objects.exists()
    [message] = mailoutbox
    link = re.search(r"http://testserver(\S+)", message.body).group(1)

    # The link asks; the button confirms; the live count and the feed take it at once.
    assert client.get(link).status_code == 200
    assert MemberSignature.objects.get().status == MemberSignature.Status.PENDING
    token = parse_qs(urlsplit(link).query)["token"][0]
    with django_capture_on_commit_callbacks(execute=True):
        assert "counted" in client.post(confirm_url(petition), {"token": token}).content.decode()
    assert petition.get_signature_count() == 1
    assert [entry["name"] for entry in petition.get_feed()] == ["Stefanie"]

    # The reconcile counts the custom rows, and rebuilds the feed from them.
    with django_capture_on_commit_callbacks(execute=True):
        reconcile.reconcile_counts([petition.pk], now=timezone.now() + timezone.timedelta(seconds=5))
    assert PetitionStats.objects.get(petition_id=petition.pk).signature_count == 1
    assert [entry["name"] for entry in petition.get_feed_from_database()] == ["Stefanie"]
    assert reconcile.full_recount([petition.pk]) == {}

    # A delivery lists the consenting signer from the custom table.
    with django_capture_on_commit_callbacks(execute=True):
        delivery = deliveries.prepare_delivery(petition, [official], recount=False)
    delivery = Delivery.objects.get(pk=delivery.pk)
    assert delivery.total == 1
    with delivery.csv_file.open("rb") as csv_file:
        rows = list(csv.reader(io.StringIO(csv_file.read().decode())))
    assert rows[1][0] == "Stefanie Lovelace"

    # The leads' export reads it too.
    lead = User.objects.create_user("lead", password="not-used")
    lead.user_permissions.add(
        Permission.objects.get(codename="view_signature", content_type__app_label="petitions_cms")
    )
    CampaignGrant.objects.create(user=lead, campaign=petition.get_parent())  # leads see their own campaigns
    token = APIToken.create_token(user=lead, name="CRM")[1]
    export = client.get(f"/api/petitions/{petition.pk}/signatures/", headers={"Authorization": f"Bearer {token}"})
    assert [item["first_name"] for item in export.json()["items"]] == ["Stefanie"]
    assert member.pk == export.json()["items"][0]["id"]


def test_a_model_that_asks_more_stores_its_own_fields_and_only_those(petition):
    signature_id = signing.sign_petition(
        petition,
        {"first_name": "Ada", "email": "ada@example.org", "membership_number": "M-1842", "status": "verified"},
    )

    member = MemberSignature.objects.get(pk=signature_id)
    assert member.membership_number == "M-1842"
    assert member.status == MemberSignature.Status.PENDING  # a submission never sets the status


def test_the_outbox_sweeper_finds_emails_owed_by_the_custom_model(petition):
    MemberSignature.objects.create(
        petition=petition,
        first_name="Ada",
        email="ada@example.org",
        email_normalized="ada@example.org",
        email_requested_at=timezone.now() - timezone.timedelta(minutes=10),
    )
    assert len(signing.overdue_verification_email_ids()) == 1
