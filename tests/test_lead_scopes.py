"""Leads are scoped to their campaigns, and API tokens to their scopes (issue 9, item 8).

A lead of campaign A sees nothing of campaign B: every leads endpoint, OSDI's signatures, the
admin's deliveries and their files, and the signatures listing and export answer 404 for B's
petitions, as if they did not exist. A token acts within its user's grants and its scopes, and
stops working the moment it is revoked or its user is deactivated.
"""

import importlib
import io
import json

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import reverse
from wagtail.models import APIToken, Locale
from wagtail.test.utils.form_data import rich_text

from cms import deliveries
from cms.models import CampaignGrant, Delivery, OfficialResponse, PetitionPage, Signature, TokenScopes
from cms.permissions import can_deliver, petitions_for
from petitions_site import demo_content

from .factories import (
    LeadFactory,
    PetitionPageFactory,
    SignatureFactory,
    lead_token,
    petition_body,
)


@pytest.fixture
def petition_a(campaign_a, official):
    petition = PetitionPageFactory(parent=campaign_a, title="Petition A", body=petition_body([official.pk]))
    SignatureFactory(petition=petition, first_name="Alice", verified=True, share_with_officials=True)
    return petition


@pytest.fixture
def petition_b(campaign_b, official):
    petition = PetitionPageFactory(parent=campaign_b, title="Petition B", body=petition_body([official.pk]))
    SignatureFactory(petition=petition, first_name="Bartholomew", verified=True, share_with_officials=True)
    return petition


@pytest.fixture
def lead_a(campaign_a):
    return LeadFactory(campaigns=[campaign_a])


@pytest.fixture
def lead_b(campaign_b):
    return LeadFactory(campaigns=[campaign_b])


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def leads_urls(petition):
    return {
        "signatures": f"/api/petitions/{petition.pk}/signatures/",
        "csv": f"/api/petitions/{petition.pk}/signatures.csv",
        "deliveries": f"/api/petitions/{petition.pk}/deliveries/",
        "osdi": f"/api/osdi/v1/petitions/{petition.pk}/signatures/",
    }


def statuses(client, petition, token):
    return {name: client.get(url, headers=bearer(token)).status_code for name, url in leads_urls(petition).items()}


# --- the API -------------------------------------------------------------------------------------


def test_a_lead_of_campaign_a_gets_a_404_for_campaign_b_on_every_leads_endpoint(client, petition_a, petition_b, lead_a):
    token = lead_token(lead_a)

    assert statuses(client, petition_a, token) == {"signatures": 200, "csv": 200, "deliveries": 200, "osdi": 200}
    assert statuses(client, petition_b, token) == {"signatures": 404, "csv": 404, "deliveries": 404, "osdi": 404}


def test_a_campaign_b_answer_holds_no_campaign_b_signer_and_looks_like_a_missing_petition(client, petition_b, lead_a):
    token = lead_token(lead_a)
    other = client.get(leads_urls(petition_b)["signatures"], headers=bearer(token))
    missing = client.get("/api/petitions/999999/signatures/", headers=bearer(token))

    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()
    assert "Bartholomew" not in other.content.decode()


def test_a_grant_to_a_group_covers_every_member_of_the_group(client, petition_a, petition_b, campaign_b):
    group = Group.objects.create(name="Campaign B team")
    CampaignGrant.objects.create(group=group, campaign=campaign_b)
    member = LeadFactory(groups=["Campaign leads", "Campaign B team"])

    token = lead_token(member)

    assert statuses(client, petition_b, token)["signatures"] == 200
    assert statuses(client, petition_a, token)["signatures"] == 404


def test_the_lead_permission_without_a_grant_reveals_no_campaign(client, petition_a, petition_b):
    ungranted = LeadFactory()  # in "Campaign leads", granted nothing
    token = lead_token(ungranted)

    assert set(statuses(client, petition_a, token).values()) == {404}
    assert set(statuses(client, petition_b, token).values()) == {404}
    assert not petitions_for(ungranted).exists()


def test_unpublished_petitions_signers_are_visible_only_to_their_own_leads(client, campaign_b, lead_a, lead_b):
    draft = PetitionPageFactory(parent=campaign_b, live=False)
    SignatureFactory(petition=draft, first_name="Drafted", verified=True)

    own = client.get(leads_urls(draft)["signatures"], headers=bearer(lead_token(lead_b)))
    other = client.get(leads_urls(draft)["signatures"], headers=bearer(lead_token(lead_a)))
    other_osdi = client.get(leads_urls(draft)["osdi"], headers=bearer(lead_token(lead_a)))

    assert own.status_code == 200 and [row["first_name"] for row in own.json()["items"]] == ["Drafted"]
    assert other.status_code == other_osdi.status_code == 404
    assert "Drafted" not in other.content.decode() + other_osdi.content.decode()


def test_a_superuser_sees_every_campaign(client, petition_a, petition_b, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "pw")
    token = lead_token(admin)

    assert set(statuses(client, petition_a, token).values()) == {200}
    assert set(statuses(client, petition_b, token).values()) == {200}


# --- scopes --------------------------------------------------------------------------------------------


def test_a_read_only_token_reads_signatures_but_cannot_export_the_csv_or_see_deliveries(client, petition_a, lead_a):
    token = lead_token(lead_a, "read_signatures")

    assert statuses(client, petition_a, token) == {"signatures": 200, "csv": 403, "deliveries": 403, "osdi": 200}
    refusal = client.get(leads_urls(petition_a)["csv"], headers=bearer(token)).json()
    assert "export" in json.dumps(refusal)


def test_an_export_only_token_downloads_the_csv_and_reads_nothing_else(client, petition_a, lead_a):
    token = lead_token(lead_a, "export")

    assert statuses(client, petition_a, token) == {"signatures": 403, "csv": 200, "deliveries": 403, "osdi": 403}


def test_the_deliver_scope_opens_delivery_status(client, petition_a, lead_a):
    token = lead_token(lead_a, "deliver")

    assert statuses(client, petition_a, token) == {"signatures": 403, "csv": 403, "deliveries": 200, "osdi": 403}


def test_a_token_made_without_our_scopes_may_only_read_signatures(client, petition_a, lead_a):
    token = APIToken.create_token(user=lead_a, name="made in Wagtail's own token admin")[1]

    assert statuses(client, petition_a, token) == {"signatures": 200, "csv": 403, "deliveries": 403, "osdi": 200}


# --- a token stops working at once ---------------------------------------------------------------------------


def test_a_token_revoked_in_the_admin_is_refused_on_the_next_request(client, petition_a, lead_a):
    token = lead_token(lead_a)
    url = leads_urls(petition_a)["signatures"]
    assert client.get(url, headers=bearer(token)).status_code == 200
    client.force_login(lead_a)

    revoked = client.post(reverse("petitions_tokens:revoke", args=[APIToken.objects.get(user=lead_a).pk]))

    assert revoked.status_code == 302
    assert client.get(url, headers=bearer(token)).status_code == 401
    assert client.get(url, headers={"OSDI-API-Token": token}).status_code == 401


def test_a_deactivated_leads_token_is_refused(client, petition_a, lead_a):
    token = lead_token(lead_a)
    lead_a.is_active = False
    lead_a.save()

    assert set(statuses(client, petition_a, token).values()) == {401}


def test_a_lead_who_loses_the_grant_or_the_group_loses_the_token(client, petition_a, lead_a):
    token = lead_token(lead_a)
    url = leads_urls(petition_a)["signatures"]

    CampaignGrant.objects.filter(user=lead_a).delete()
    assert client.get(url, headers=bearer(token)).status_code == 404

    CampaignGrant.objects.create(user=lead_a, campaign=petition_a.get_parent())
    lead_a.groups.clear()
    assert client.get(url, headers=bearer(token)).status_code == 403


# --- the OSDI helper's rate limit ------------------------------------------------------------------------


@pytest.fixture
def record(client, settings):
    settings.PETITIONS = {**settings.PETITIONS, "RATE_LIMIT": 1}

    def _record(petition, n, token=None):
        person = {"given_name": "A", "email_addresses": [{"address": f"crm{n}@example.org"}]}
        headers = {"OSDI-API-Token": token} if token else {}
        return client.post(
            f"/api/osdi/v1/petitions/{petition.pk}/signatures/",
            json.dumps({"person": person}),
            content_type="application/json",
            headers=headers,
        ).status_code

    return _record


def test_a_token_of_another_campaign_does_not_lift_the_osdi_helpers_rate_limit(record, petition_a, lead_b):
    token = lead_token(lead_b)  # every scope, record included, but for campaign B

    assert [record(petition_a, n, token) for n in range(3)] == [202, 429, 429]


def test_a_token_without_the_record_scope_does_not_lift_the_rate_limit(record, petition_a, lead_a):
    token = lead_token(lead_a, "read_signatures", "export", "deliver")

    assert [record(petition_a, n, token) for n in range(3)] == [202, 429, 429]


def test_a_record_scoped_token_of_the_petitions_campaign_lifts_the_rate_limit(record, petition_a, lead_a):
    token = lead_token(lead_a, "record")

    assert [record(petition_a, n) for n in range(2)] == [202, 429]
    assert [record(petition_a, n, token) for n in range(2, 5)] == [202, 202, 202]


# --- the admin: deliveries -----------------------------------------------------------------------------


@pytest.fixture
def delivery_b(petition_b, official, commit):
    return commit(deliveries.prepare_delivery, petition_b, [official])


@pytest.fixture
def delivery_a(petition_a, official, commit):
    return commit(deliveries.prepare_delivery, petition_a, [official])


def test_a_lead_of_campaign_a_gets_a_404_for_campaign_b_in_the_admins_deliveries(
    client, lead_a, petition_b, delivery_a, delivery_b
):
    client.force_login(lead_a)

    index = client.get(reverse("petitions_deliveries:index")).content.decode()
    answers = [
        client.get(reverse("petitions_deliveries:detail", args=[delivery_b.pk])),
        client.post(reverse("petitions_deliveries:send", args=[delivery_b.pk])),
        client.post(reverse("petitions_deliveries:retry", args=[delivery_b.pk])),
        client.get(reverse("petitions_deliveries:download", args=[delivery_b.pk, "csv"])),
        client.get(reverse("petitions_deliveries:download", args=[delivery_b.pk, "pdf"])),
        client.get(reverse("petitions_deliveries:create") + f"?petition={petition_b.pk}"),
    ]

    assert [answer.status_code for answer in answers] == [404] * 6
    assert "Petition A" in index and "Petition B" not in index
    assert client.get(reverse("petitions_deliveries:detail", args=[delivery_a.pk])).status_code == 200
    assert client.get(reverse("petitions_deliveries:download", args=[delivery_a.pk, "csv"])).status_code == 200
    delivery_b.refresh_from_db()
    assert delivery_b.status == Delivery.Status.READY  # not sent


def test_a_lead_cannot_prepare_a_delivery_of_another_campaigns_petition(
    client, lead_a, petition_a, petition_b, official
):
    client.force_login(lead_a)

    form = client.get(reverse("petitions_deliveries:create")).content.decode()
    response = client.post(
        reverse("petitions_deliveries:create"), {"petition": petition_b.pk, "officials": [official.pk]}
    )

    assert "Petition A" in form and "Petition B" not in form
    assert response.status_code in (400, 404)
    assert not Delivery.objects.exists()


def test_a_leads_decision_sends_only_the_deliveries_of_their_own_campaigns(lead_a, petition_a, petition_b):
    assert can_deliver(lead_a)  # the permission alone: the admin's menu and pages open
    assert can_deliver(lead_a, petition_a)
    assert not can_deliver(lead_a, petition_b)
    automatic = Delivery(petition=petition_b, trigger=Delivery.Trigger.GOAL, created_by=lead_a)
    assert not deliveries.sends_itself(automatic)


# --- the admin: signatures listing and export ---------------------------------------------------------------


def test_the_signatures_listing_and_its_export_show_only_the_leads_campaigns(client, lead_a, petition_a, petition_b):
    client.force_login(lead_a)
    listing_url = reverse("petitions_signatures:index")

    listing = client.get(listing_url).content.decode()
    export = b"".join(client.get(listing_url + "?export=csv").streaming_content).decode()

    assert "Alice" in listing and "Bartholomew" not in listing
    assert "Alice" in export and "Bartholomew" not in export


def test_another_campaigns_signature_is_a_404_in_the_admin(client, lead_a, petition_a, petition_b):
    client.force_login(lead_a)
    theirs = Signature.objects.get(petition=petition_b)
    ours = Signature.objects.get(petition=petition_a)

    edit = client.get(reverse("petitions_signatures:edit", args=[theirs.pk]))
    post = client.post(reverse("petitions_signatures:edit", args=[theirs.pk]), {"hidden_from_feed": "on"})
    history = client.get(reverse("petitions_signatures:history", args=[theirs.pk]))

    assert (edit.status_code, post.status_code, history.status_code) == (404, 404, 404)
    theirs.refresh_from_db()
    assert not theirs.hidden_from_feed
    assert client.get(reverse("petitions_signatures:edit", args=[ours.pk])).status_code == 200


# --- the admin: tokens ----------------------------------------------------------------------------------


def test_a_lead_creates_a_scoped_token_in_the_admin_and_sees_it_once(client, lead_a, petition_a):
    client.force_login(lead_a)

    created = client.post(
        reverse("petitions_tokens:create"), {"name": "CRM sync", "user": lead_a.pk, "scopes": ["export"]}
    )
    plaintext = created.content.decode().split('<code class="token-plaintext">')[1].split("<")[0]
    listing = client.get(reverse("petitions_tokens:index")).content.decode()

    api_token = APIToken.objects.get(user=lead_a)
    assert api_token.petition_scopes.granted() == ["export"]
    assert plaintext.startswith("wagtail_") and plaintext not in listing
    assert api_token.key_hash != plaintext  # only a digest is stored
    assert "CRM sync" in listing and "export" in listing
    assert statuses(client, petition_a, plaintext) == {"signatures": 403, "csv": 200, "deliveries": 403, "osdi": 403}


def test_creating_a_token_without_a_scope_is_a_form_error(client, lead_a):
    client.force_login(lead_a)

    response = client.post(reverse("petitions_tokens:create"), {"name": "nothing", "user": lead_a.pk})

    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not APIToken.objects.exists()


def test_a_lead_cannot_revoke_or_list_another_leads_token(client, lead_a, lead_b):
    lead_token(lead_b, name="B's CRM")
    client.force_login(lead_a)
    theirs = APIToken.objects.get(user=lead_b)

    assert "B&#x27;s CRM" not in client.get(reverse("petitions_tokens:index")).content.decode()
    assert client.post(reverse("petitions_tokens:revoke", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_token_scopes_name_what_they_grant():
    assert TokenScopes(read_signatures=True, export=True).granted() == ["read_signatures", "export"]


# --- the admin: officials' responses (they can email a petition's signers) ---------------------------------


def test_a_lead_files_and_sees_responses_only_on_their_own_campaigns(client, lead_a, petition_a, petition_b, official):
    theirs = OfficialResponse.objects.create(
        petition=petition_b, official=official, responded_on="2026-11-30", text="<p>Campaign B reply</p>"
    )
    client.force_login(lead_a)
    add_url = reverse("wagtailsnippets_petitions_cms_officialresponse:add")

    listing = client.get(reverse("wagtailsnippets_petitions_cms_officialresponse:list")).content.decode()
    edit = client.get(reverse("wagtailsnippets_petitions_cms_officialresponse:edit", args=[theirs.pk]))
    filed = client.post(
        add_url,
        {
            "petition": petition_b.pk,
            "official": official.pk,
            "responded_on": "2026-11-30",
            "text": rich_text("<p>x</p>"),
        },
    )

    assert "Petition B" not in listing
    assert edit.status_code == 404
    assert filed.status_code == 200 and "Select a valid choice" in filed.content.decode()
    assert OfficialResponse.objects.count() == 1
    own = client.post(
        add_url,
        {
            "petition": petition_a.pk,
            "official": official.pk,
            "responded_on": "2026-11-30",
            "text": rich_text("<p>y</p>"),
        },
    )
    assert own.status_code == 302
    assert OfficialResponse.objects.filter(petition=petition_a).count() == 1


# --- the demo ---------------------------------------------------------------------------------------------


def test_the_demo_has_two_campaigns_whose_leads_see_only_their_own(client, db, django_user_model):
    demo_content.load()
    reference = PetitionPage.objects.get(slug=demo_content.REFERENCE_SLUG, locale=Locale.get_default())
    lanes = PetitionPage.objects.get(slug="riverside-cycle-lanes")
    site_lead = django_user_model.objects.get(username="lead")
    local_lead = django_user_model.objects.get(username="riverside-lead")

    local = lead_token(local_lead)
    site = lead_token(site_lead)

    assert client.get(leads_urls(lanes)["signatures"], headers=bearer(local)).status_code == 200
    assert client.get(leads_urls(reference)["signatures"], headers=bearer(local)).status_code == 404
    assert client.get(leads_urls(reference)["signatures"], headers=bearer(site)).status_code == 200
    assert client.get(leads_urls(lanes)["signatures"], headers=bearer(site)).status_code == 200


# --- the migration: an existing install keeps working -----------------------------------------------------

migration = importlib.import_module("cms.migrations.0010_campaign_grants_and_token_scopes")


def test_the_migration_grants_existing_lead_groups_every_existing_campaign_and_keeps_tokens_scopes(
    client, petition_a, petition_b, campaign_a, campaign_b
):
    editors = Group.objects.get(name="Editors")  # holds no lead permission: granted nothing
    old_user = LeadFactory()
    old_token_row, old_token = APIToken.create_token(user=old_user, name="made before the upgrade")

    migration.grant_existing_campaigns(apps, None)
    migration.keep_existing_tokens_scopes(apps, None)

    leads = Group.objects.get(name="Campaign leads")
    granted = set(CampaignGrant.objects.filter(group=leads).values_list("campaign_id", flat=True))
    assert granted == {campaign_a.pk, campaign_b.pk}
    assert not CampaignGrant.objects.filter(group=editors).exists()
    assert TokenScopes.objects.get(token=old_token_row).granted() == list(TokenScopes.NAMES)
    assert statuses(client, petition_b, old_token) == {"signatures": 200, "csv": 200, "deliveries": 200, "osdi": 200}


def test_no_signature_chooser_lists_signatures(client, lead_a, petition_a, petition_b):
    # Signatures left the snippets (issue 14): no page picks one, so no chooser lists them at all.
    client.force_login(lead_a)
    theirs = Signature.objects.get(petition=petition_b)

    listed = client.get("/admin/snippets/choose/petitions_cms/signature/")
    chosen = client.get(f"/admin/snippets/choose/petitions_cms/signature/chosen/{theirs.pk}/")

    assert (listed.status_code, chosen.status_code) == (404, 404)


def test_a_grant_to_nobody_is_a_form_error_not_a_500(admin_client, campaign_a):
    response = admin_client.post(
        reverse("wagtailsnippets_petitions_cms_campaigngrant:add"), {"campaign": campaign_a.pk, "group": "", "user": ""}
    )

    assert response.status_code == 200  # Wagtail's form, shown again with the error
    assert "Grant the campaign to a group or to a user" in response.content.decode()
    assert not CampaignGrant.objects.exists()


def test_a_superuser_grants_a_group_a_campaign_in_the_admin(admin_client, campaign_b, petition_b):
    team = Group.objects.create(name="Campaign B team")
    member = LeadFactory(groups=["Campaign leads", "Campaign B team"])
    assert not petitions_for(member).filter(pk=petition_b.pk).exists()

    response = admin_client.post(
        reverse("wagtailsnippets_petitions_cms_campaigngrant:add"), {"campaign": campaign_b.pk, "group": team.pk}
    )

    assert response.status_code == 302
    assert petitions_for(member).filter(pk=petition_b.pk).exists()


def test_a_command_line_token_gets_its_scopes_from_the_token_scopes_command(client, petition_a, lead_a):
    api_token, token = APIToken.create_token(user=lead_a, name="made by manage.py api_tokens")
    assert statuses(client, petition_a, token)["csv"] == 403

    call_command("token_scopes", "--id", str(api_token.pk), "--scope", "export", stdout=io.StringIO())

    assert statuses(client, petition_a, token) == {"signatures": 403, "csv": 200, "deliveries": 403, "osdi": 403}


def test_the_token_scopes_command_refuses_a_revoked_token(lead_a):
    api_token, _ = APIToken.create_token(user=lead_a, name="old")
    api_token.revoke()

    with pytest.raises(CommandError, match="No active token"):
        call_command("token_scopes", "--id", str(api_token.pk), "--scope", "export")
    assert not TokenScopes.objects.exists()
