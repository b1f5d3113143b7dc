"""The fraud tools within a lead's campaigns: a lead of campaign A neither sees nor acts on campaign B.

Rules and invalidations belong to a campaign (or, made by a superuser, to every campaign); the
quarantine list, releases and invalidations stay inside the lead's grants, and another campaign's
invalidation is a 404, as every other lead view answers.
"""

import pytest
from django.urls import reverse

from cms import signing
from cms.models import FraudRule, Invalidation, Signature
from cms.tokens import make_token

from .factories import LeadFactory, PetitionPageFactory, SignatureFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def petition_a(campaign_a):
    return PetitionPageFactory(parent=campaign_a, title="Petition A")


@pytest.fixture
def petition_b(campaign_b):
    return PetitionPageFactory(parent=campaign_b, title="Petition B")


@pytest.fixture
def lead_a(campaign_a):
    return LeadFactory(campaigns=[campaign_a])


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.org", "not-used")


def quarantined(petition, commit, email):
    """A signature confirmed under a rule (made before, so the cached rules hold it) that flags ``email``."""
    signature = SignatureFactory(petition=petition, email=email)
    commit(signing.verify_signature, petition, make_token(signature))
    signature.refresh_from_db()
    assert signature.status == Signature.Status.QUARANTINED
    return signature


def test_a_rule_of_campaign_a_quarantines_nothing_on_campaign_b(petition_a, petition_b, campaign_a, commit):
    FraudRule.objects.create(kind="domain", value="spam.example", campaign=campaign_a)
    on_a = SignatureFactory(petition=petition_a, email="x@spam.example")
    on_b = SignatureFactory(petition=petition_b, email="x@spam.example")

    commit(signing.verify_signature, petition_a, make_token(on_a))
    commit(signing.verify_signature, petition_b, make_token(on_b))

    assert Signature.objects.get(pk=on_a.pk).status == Signature.Status.QUARANTINED
    assert Signature.objects.get(pk=on_b.pk).status == Signature.Status.VERIFIED


def test_a_rule_for_every_campaign_quarantines_everywhere(petition_a, petition_b, commit):
    FraudRule.objects.create(kind="domain", value="spam.example")
    signatures = [SignatureFactory(petition=page, email="x@spam.example") for page in (petition_a, petition_b)]

    for page, signature in zip((petition_a, petition_b), signatures, strict=True):
        commit(signing.verify_signature, page, make_token(signature))

    assert {s.status for s in Signature.objects.all()} == {Signature.Status.QUARANTINED}


def test_a_lead_makes_rules_only_for_their_own_campaigns(lead_a, campaign_a, campaign_b, client):
    client.force_login(lead_a)
    add = reverse("wagtailsnippets_petitions_cms_fraudrule:add")
    form = client.get(add).context["form"]
    assert [label for _, label in form.fields["campaign"].choices] == ["Choose a campaign", campaign_a.title]

    everywhere = client.post(add, {"kind": "domain", "value": "spam.example"})
    elsewhere = client.post(add, {"kind": "domain", "value": "spam.example", "campaign": campaign_b.pk})
    own = client.post(add, {"kind": "domain", "value": "spam.example", "campaign": campaign_a.pk})

    assert everywhere.status_code == 200 and "Choose one of your campaigns" in everywhere.content.decode()
    assert elsewhere.status_code == 200  # not one of the choices: a form error
    assert own.status_code == 302
    assert list(FraudRule.objects.values_list("campaign", flat=True)) == [campaign_a.pk]


def test_a_superuser_makes_a_rule_for_every_campaign(superuser, client):
    client.force_login(superuser)

    response = client.post(
        reverse("wagtailsnippets_petitions_cms_fraudrule:add"), {"kind": "ip", "value": "10.0.0.0/8"}
    )

    assert response.status_code == 302
    assert FraudRule.objects.get().campaign is None


def test_a_lead_sees_and_edits_only_their_campaigns_rules(lead_a, campaign_a, campaign_b, client):
    mine = FraudRule.objects.create(kind="domain", value="mine.example", campaign=campaign_a)
    theirs = FraudRule.objects.create(kind="domain", value="theirs.example", campaign=campaign_b)
    everywhere = FraudRule.objects.create(kind="domain", value="everywhere.example")
    client.force_login(lead_a)

    listing = client.get(reverse("wagtailsnippets_petitions_cms_fraudrule:list")).content.decode()
    edit_theirs = client.get(reverse("wagtailsnippets_petitions_cms_fraudrule:edit", args=[theirs.pk]))
    delete_everywhere = client.post(reverse("wagtailsnippets_petitions_cms_fraudrule:delete", args=[everywhere.pk]))
    edit_mine = client.get(reverse("wagtailsnippets_petitions_cms_fraudrule:edit", args=[mine.pk]))

    assert "mine.example" in listing and "theirs.example" not in listing and "everywhere.example" not in listing
    assert edit_theirs.status_code == 404
    assert delete_everywhere.status_code == 404 and FraudRule.objects.filter(pk=everywhere.pk).exists()
    assert edit_mine.status_code == 200


def test_the_quarantine_list_shows_and_releases_only_the_leads_campaigns(
    lead_a, petition_a, petition_b, client, commit
):
    FraudRule.objects.create(kind="domain", value="spam.example")
    mine = quarantined(petition_a, commit, "a@spam.example")
    theirs = quarantined(petition_b, commit, "b@spam.example")
    client.force_login(lead_a)

    listing = client.get(reverse("petitions_fraud:quarantine")).content.decode()
    index = client.get(reverse("petitions_fraud:index"))
    client.post(reverse("petitions_fraud:quarantine"), {"action": "release", "signatures": [mine.pk, theirs.pk]})
    client.post(reverse("petitions_fraud:quarantine"), {"action": "invalidate", "signatures": [theirs.pk]})

    assert mine.first_name in listing and theirs.first_name not in listing
    assert index.context["quarantined"] == 1
    assert Signature.objects.get(pk=mine.pk).status == Signature.Status.VERIFIED
    assert Signature.objects.get(pk=theirs.pk).status == Signature.Status.QUARANTINED


def test_a_lead_invalidates_only_within_their_campaigns(lead_a, petition_a, petition_b, campaign_a, client):
    client.force_login(lead_a)
    create = reverse("petitions_fraud:create")
    condition = {"summary": "Spam", "email_domain": "spam.example"}

    everywhere = client.post(create, condition)
    other_petition = client.post(create, {**condition, "petition": petition_b.pk})
    own_campaign = client.post(create, {**condition, "campaign": campaign_a.pk})

    assert everywhere.status_code == 400 and "Choose a petition or one of your campaigns" in everywhere.content.decode()
    assert other_petition.status_code == 400
    assert own_campaign.status_code == 302
    assert list(Invalidation.objects.values_list("campaign", "petition")) == [(campaign_a.pk, None)]


def test_a_campaign_invalidation_reaches_only_that_campaigns_petitions(
    lead_a, petition_a, petition_b, campaign_a, client, django_capture_on_commit_callbacks
):
    SignatureFactory(petition=petition_a, verified=True, email="x@spam.example")
    other = SignatureFactory(petition=petition_b, verified=True, email="y@spam.example")
    client.force_login(lead_a)
    response = client.post(
        reverse("petitions_fraud:create"),
        {"summary": "Spam", "email_domain": "spam.example", "campaign": campaign_a.pk},
    )
    preview = client.get(response.url)
    invalidation = Invalidation.objects.get()
    assert preview.status_code == 200 and invalidation.matching_count == 1

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("petitions_fraud:start", args=[invalidation.pk]))

    assert Invalidation.objects.get().invalidated_count == 1
    assert Signature.objects.get(pk=other.pk).status == Signature.Status.VERIFIED


def test_another_campaigns_invalidation_is_a_404(lead_a, petition_b, client):
    theirs = Invalidation.objects.create(summary="Theirs", email_domain="spam.example", petition=petition_b)
    everywhere = Invalidation.objects.create(summary="Everywhere", email_domain="spam.example")
    client.force_login(lead_a)

    index = client.get(reverse("petitions_fraud:index")).content.decode()
    answers = [
        client.get(reverse("petitions_fraud:detail", args=[theirs.pk])).status_code,
        client.post(reverse("petitions_fraud:start", args=[theirs.pk])).status_code,
        client.post(reverse("petitions_fraud:restore", args=[everywhere.pk])).status_code,
    ]

    assert "Theirs" not in index and "Everywhere" not in index
    assert answers == [404, 404, 404]
    assert Invalidation.objects.get(pk=theirs.pk).started_at is None


def test_a_superuser_invalidates_across_every_campaign(superuser, petition_a, petition_b, client):
    SignatureFactory(petition=petition_a, verified=True, email="x@spam.example")
    SignatureFactory(petition=petition_b, verified=True, email="y@spam.example")
    client.force_login(superuser)

    response = client.post(reverse("petitions_fraud:create"), {"summary": "Spam", "email_domain": "spam.example"})
    preview = client.get(response.url)

    assert response.status_code == 302 and preview.context["invalidation"].matching_count == 2
    assert "Every petition" in preview.content.decode()
