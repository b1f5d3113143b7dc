"""Erasure (issue 10, items 2 and 3): what a withdrawal or a lead's erasure does to data, counts and feeds.

``cms.erasure.erase_signatures`` deletes the rows, logs each erasure with a salted hash of the
canonical address (never the address), and asks for a recount: the count, the country tallies
and the feed drop at the next reconcile. A delivery already sent keeps its total. Leads find,
export and erase an address's signatures in their own campaigns only.
"""

import json
import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from wagtail.models import Page

from cms import erasure, signing
from cms.models import Delivery, ErasureLog, PetitionCountryCount, PetitionStats, Signature, live_counts
from cms.tokens import make_manage_token, make_token

from .factories import CampaignIndexPageFactory, LeadFactory, PetitionPageFactory, SignatureFactory, petition_body
from .test_counting import counter_store  # noqa: F401 (every test here runs on each store)

pytestmark = pytest.mark.django_db

SIGNERS = reverse("petitions_signers:index")


def live_count(petition):
    return live_counts([petition.pk])[petition.pk]


def confirm(petition, signature, commit):
    return commit(signing.verify_signature, petition, make_token(signature))


# --- the primitive --------------------------------------------------------------------------


def test_erase_signatures_deletes_the_rows_and_logs_a_hash_of_the_address_not_the_address(petition):
    one = SignatureFactory(petition=petition, email="A.D.A+x@googlemail.com", verified=True)
    other = SignatureFactory(petition=petition, verified=True)

    erased = erasure.erase_signatures([one.pk], reason=ErasureLog.Reason.LEAD)

    assert erased == 1
    assert list(Signature.objects.values_list("pk", flat=True)) == [other.pk]
    [log] = ErasureLog.objects.all()
    assert log.address_hash == erasure.keyed_address_hash("ada@gmail.com")
    assert log.address_hash != erasure.keyed_address_hash(other.email_normalized)
    assert "ada" not in json.dumps([str(getattr(log, f.attname)) for f in ErasureLog._meta.concrete_fields])
    assert PetitionStats.objects.get(petition_id=petition.pk).recount_requested_at is not None


def test_erasing_twice_changes_nothing_more(petition):
    signature = SignatureFactory(petition=petition, verified=True)
    erasure.erase_signatures([signature.pk], reason=ErasureLog.Reason.LEAD)

    assert erasure.erase_signatures([signature.pk], reason=ErasureLog.Reason.LEAD) == 0
    assert ErasureLog.objects.count() == 1


def test_the_count_tallies_and_feed_drop_within_one_reconcile_after_a_withdrawal(petition, client, commit, reconcile):
    stays = SignatureFactory(petition=petition, country="FR")
    leaves = SignatureFactory(petition=petition, country="GB", first_name="Vera")
    confirm(petition, stays, commit)
    confirm(petition, leaves, commit)
    later = timezone.now() + timezone.timedelta(seconds=60)
    reconcile(now=later)
    assert live_count(petition) == 2
    assert {entry["name"] for entry in petition.get_feed()} >= {"Vera"}

    leaves.refresh_from_db()
    url = reverse("petitions:manage", args=[petition.pk]) + "?token=" + make_manage_token(leaves)
    assert commit(client.post, url, {"action": "withdraw"}).status_code == 200

    assert "Vera" not in [entry["name"] for entry in petition.get_feed()]  # the feed at once
    reconcile(now=later + timezone.timedelta(seconds=15))
    assert live_count(petition) == 1
    assert PetitionStats.objects.get(petition_id=petition.pk).signature_count == 1
    assert dict(
        PetitionCountryCount.objects.filter(petition_id=petition.pk).values_list("country", "signature_count")
    ) in (
        {"FR": 1},
        {"FR": 1, "GB": 0},
    )


def test_a_signature_withdrawn_before_any_reconcile_counted_it_is_not_counted(petition, commit, reconcile):
    signature = SignatureFactory(petition=petition)
    confirm(petition, signature, commit)
    assert live_count(petition) == 1  # the live count, from the store

    commit(erasure.erase_signatures, [signature.pk], reason=ErasureLog.Reason.WITHDRAWN)
    reconcile(now=timezone.now() + timezone.timedelta(seconds=60))

    assert live_count(petition) == 0


def test_a_delivery_already_sent_keeps_its_historic_total(petition, commit, reconcile):
    signatures = SignatureFactory.create_batch(3, petition=petition, verified=True)
    delivery = Delivery.objects.create(
        petition=petition,
        status=Delivery.Status.SENT,
        sent_at=timezone.now(),
        subject="Our letter",
        letter_html="<p>Act.</p>",
        letter_text="Act.",
        counted_until=timezone.now(),
        total=3,
        breakdown={"GB": 3},
    )

    commit(erasure.erase_signatures, [signatures[0].pk], reason=ErasureLog.Reason.WITHDRAWN)
    reconcile(now=timezone.now() + timezone.timedelta(seconds=60))

    delivery.refresh_from_db()
    assert (delivery.total, delivery.breakdown) == (3, {"GB": 3})
    assert live_count(petition) == 2


# --- leads: access and erasure ----------------------------------------------------------------


@pytest.fixture
def campaigns(index_page, official):
    root = Page.get_first_root_node()
    a = CampaignIndexPageFactory(parent=root, slug="campaign-a", title="Campaign A")
    b = CampaignIndexPageFactory(parent=root, slug="campaign-b", title="Campaign B")
    petitions = {
        "a1": PetitionPageFactory(parent=a, title="Petition A1", body=petition_body([official.pk])),
        "a2": PetitionPageFactory(parent=a, title="Petition A2", body=petition_body([official.pk])),
        "b": PetitionPageFactory(parent=b, title="Petition B", body=petition_body([official.pk])),
    }
    return a, b, petitions


@pytest.fixture
def ada(campaigns):
    _, _, petitions = campaigns
    return {
        "a1": SignatureFactory(
            petition=petitions["a1"],
            email="ada@gmail.com",
            first_name="Ada",
            verified=True,
            email_status="sent",
            email_sent_at=timezone.now(),
            email_message_id="msg-a1",
        ),
        "a2": SignatureFactory(petition=petitions["a2"], email="A.da+news@googlemail.com", first_name="Ada"),
        "b": SignatureFactory(petition=petitions["b"], email="ada@gmail.com", first_name="Ada", verified=True),
    }


@pytest.fixture
def lead_a(campaigns):
    return LeadFactory(campaigns=[campaigns[0]])


def ask(client, action, email="ADA@gmail.com", **extra):
    return client.post(SIGNERS, {"action": action, "email": email, **extra})


def test_a_lead_finds_every_signature_of_an_address_across_their_own_campaigns_only(client, lead_a, ada):
    client.force_login(lead_a)
    assert client.get(SIGNERS).status_code == 200

    response = ask(client, "find")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Petition A1" in html and "Petition A2" in html
    assert "Petition B" not in html and "Campaign B" not in html


def test_a_lead_exports_what_we_hold_as_json(client, lead_a, ada):
    client.force_login(lead_a)

    response = ask(client, "export")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    rows = {row["id"]: row for row in data["signatures"]}
    assert set(rows) == {ada["a1"].pk, ada["a2"].pk}
    row = rows[ada["a1"].pk]
    assert row["petition_title"] == "Petition A1"
    assert row["first_name"] == "Ada" and row["email"] == "ada@gmail.com"
    assert row["status"] == "verified" and row["verified_at"]
    assert row["email_status"] == "sent" and row["email_sent_at"] and row["email_message_id"] == "msg-a1"
    assert row["consent_wording"] == ada["a1"].petition.specific.consent_wording
    for field in Signature._meta.concrete_fields:
        assert field.attname in row or field.name in row


def test_a_lead_erases_after_a_confirmation_stating_the_count(client, lead_a, ada):
    client.force_login(lead_a)

    review = ask(client, "review")
    assert review.status_code == 200
    assert "2 signatures" in review.content.decode()
    assert Signature.objects.count() == 3  # nothing erased yet

    done = ask(client, "erase")

    assert done.status_code == 200
    assert "Erased 2 signatures" in done.content.decode()
    assert list(Signature.objects.values_list("pk", flat=True)) == [ada["b"].pk]
    logs = ErasureLog.objects.all()
    assert {log.signature_id for log in logs} == {ada["a1"].pk, ada["a2"].pk}
    assert {(log.actor_id, log.reason) for log in logs} == {(lead_a.pk, ErasureLog.Reason.LEAD)}
    assert ask(client, "erase").content.decode().count("No signatures of that address in your campaigns") == 1


def test_a_lead_revokes_the_manage_links_of_an_address_whose_link_leaked(client, lead_a, ada):
    links = {key: make_manage_token(signature) for key, signature in ada.items()}
    client.force_login(lead_a)

    response = ask(client, "revoke")

    assert "Revoked the manage links of 2 signatures" in response.content.decode()
    for key, token in links.items():
        petition = ada[key].petition
        opened = client.get(reverse("petitions:manage", args=[petition.pk]) + "?token=" + token)
        assert opened.status_code == (200 if key == "b" else 410)  # campaign B's link untouched


def test_erasing_an_unknown_address_says_so_without_revealing_anything(client, lead_a, ada):
    client.force_login(lead_a)
    Signature.objects.filter(pk__in=[ada["a1"].pk, ada["a2"].pk]).delete()  # now signed in campaign B only

    answers = {}
    for email in ("ada@gmail.com", "nobody@example.org"):
        for action in ("find", "export", "review", "erase", "revoke"):
            response = ask(client, action, email=email)
            assert response.status_code == 200
            html = response.content.decode()
            assert "No signatures of that address in your campaigns" in html
            html = re.sub(r'csrfmiddlewaretoken" value="\w+"|"CSRF_TOKEN": "\w+"', "", html)  # masked afresh per answer
            answers.setdefault(action, set()).add(html.replace(email, "EMAIL"))
    assert all(len(variants) == 1 for variants in answers.values())
    assert Signature.objects.filter(pk=ada["b"].pk).exists()
    assert not ErasureLog.objects.exists()


def test_an_address_that_is_no_address_is_a_400(client, lead_a):
    client.force_login(lead_a)

    response = ask(client, "find", email="not an address")

    assert response.status_code == 400
    assert "email address" in response.content.decode()


def test_erasure_needs_the_erase_permission_and_a_grant(client, campaigns, ada):
    editor = LeadFactory(groups=["Editors"])
    client.force_login(editor)
    assert client.get(SIGNERS).status_code == 403
    assert ask(client, "erase").status_code == 403

    ungranted = LeadFactory()  # a campaign lead without a grant sees nothing
    client.force_login(ungranted)
    assert "No signatures of that address in your campaigns" in ask(client, "erase").content.decode()
    assert Signature.objects.count() == 3


def test_the_campaign_leads_group_holds_the_erase_permission(db):
    group = Group.objects.get(name="Campaign leads")
    assert group.permissions.filter(codename="erase_signature", content_type__app_label="petitions_cms").exists()


# --- deleting in the Signatures snippet is an erasure too -----------------------------------------


@pytest.fixture
def superuser(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", "root@example.org", "not-used")


def test_deleting_a_signature_in_the_admin_is_a_logged_erasure_with_a_recount(client, superuser, petition, commit):
    signature = SignatureFactory(petition=petition, verified=True, first_name="Vera")
    client.force_login(superuser)

    response = commit(client.post, reverse("petitions_signatures:delete", args=[signature.pk]))

    assert response.status_code == 302
    assert not Signature.objects.filter(pk=signature.pk).exists()
    [log] = ErasureLog.objects.all()
    assert (log.signature_id, log.actor_id, log.reason) == (signature.pk, superuser.pk, ErasureLog.Reason.LEAD)
    assert PetitionStats.objects.get(petition_id=petition.pk).recount_requested_at is not None


def test_bulk_deleting_signatures_in_the_admin_is_a_logged_erasure(client, superuser, petition, commit):
    signatures = SignatureFactory.create_batch(2, petition=petition, verified=True)
    client.force_login(superuser)
    url = reverse("wagtail_bulk_action", args=["petitions_cms", "signature", "delete"])
    query = "?" + "&".join(f"id={signature.pk}" for signature in signatures) + "&next=/admin/"

    response = commit(client.post, url + query)

    assert response.status_code == 302
    assert not Signature.objects.exists()
    assert {log.signature_id for log in ErasureLog.objects.all()} == {s.pk for s in signatures}
