"""Delivery is a campaign lead's decision.

Editors compose petitions; only users with the deliver permission may set a
page to deliver (or notify) by itself, and an automatic delivery sends itself
only when a lead made that decision about the page as it stands. Otherwise it
stops at "ready" for a lead to review and send.
"""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from cms import reconcile
from cms.models import CampaignGrant, Delivery, PetitionPage

from .factories import CampaignIndexPageFactory, PetitionPageFactory, SignatureFactory, petition_body
from .test_admin import edit_url, form_errors, petition_form_data

pytestmark = pytest.mark.django_db

DELIVERY_SETTINGS = {
    "deliver_at_goal": "on",
    "deliver_at_milestones": "on",
    "milestone_step": "2",
    "raise_goal_automatically": "on",
    "milestone_notify_emails": "intruder@example.org",
}
UNSET = {
    "deliver_at_goal": False,
    "deliver_at_milestones": False,
    "milestone_step": None,
    "raise_goal_automatically": False,
    "milestone_notify_emails": "",
}


def user_in(django_user_model, username, *groups):
    user = django_user_model.objects.create_user(username, f"{username}@example.org", "password")
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


@pytest.fixture
def editor(django_user_model):
    return user_in(django_user_model, "editor", "Editors")


@pytest.fixture
def moderator(django_user_model):
    return user_in(django_user_model, "moderator", "Moderators")


@pytest.fixture
def lead(django_user_model, index_page):
    """A lead of the test campaign who may also edit and publish pages (leads alone cannot edit pages)."""
    user = user_in(django_user_model, "lead", "Moderators", "Campaign leads")
    CampaignGrant.objects.create(user=user, campaign=index_page)
    return user


def form_data(page, official, **extra):
    return petition_form_data(official, title=page.title, slug=page.slug, **extra)


def delivery_settings(page):
    return {name: getattr(page, name) for name in UNSET}


def reach_goal(page, commit):
    SignatureFactory.create_batch(page.goal, petition=page, verified=True, share_with_officials=True)
    commit(reconcile.reconcile_counts)
    commit(reconcile.reconcile_counts)


def sent_to_officials(mailoutbox):
    return [m for m in mailoutbox if m.anymail_test_params["tags"] == ["petition-delivery"]]


# --- who sees and sets the settings ----------------------------------------------------


def test_the_delivery_settings_are_hidden_from_editors_and_shown_to_leads(client, petition, editor, lead):
    client.force_login(editor)
    html = client.get(edit_url(petition)).content.decode()
    assert 'name="goal"' in html  # campaign copy: editors keep it
    for name in UNSET:
        assert f'name="{name}"' not in html, name

    client.force_login(lead)
    html = client.get(edit_url(petition)).content.decode()
    for name in UNSET:
        assert f'name="{name}"' in html, name


def test_an_editors_post_of_the_delivery_settings_changes_nothing(client, petition, official, editor):
    client.force_login(editor)

    response = client.post(edit_url(petition), form_data(petition, official, goal="7", **DELIVERY_SETTINGS))

    assert response.status_code == 302, form_errors(response)
    draft = PetitionPage.objects.get(pk=petition.pk).get_latest_revision_as_object()
    assert draft.goal == 7  # the editor's own field is saved ...
    assert delivery_settings(draft) == UNSET  # ... the lead's are not


def test_a_moderator_publishing_an_editors_draft_does_not_set_the_delivery_settings(
    client, petition, official, editor, moderator
):
    client.force_login(editor)
    client.post(edit_url(petition), form_data(petition, official, **DELIVERY_SETTINGS))
    client.force_login(moderator)

    response = client.post(
        edit_url(petition), form_data(petition, official, **DELIVERY_SETTINGS, **{"action-publish": "action-publish"})
    )

    assert response.status_code == 302, form_errors(response)
    live = PetitionPage.objects.get(pk=petition.pk)
    assert delivery_settings(live) == UNSET
    assert live.delivery_settings_by is None


def test_a_lead_sets_the_delivery_settings_and_is_recorded_as_deciding(client, petition, official, lead):
    client.force_login(lead)

    response = client.post(
        edit_url(petition), form_data(petition, official, **DELIVERY_SETTINGS, **{"action-publish": "action-publish"})
    )

    assert response.status_code == 302, form_errors(response)
    live = PetitionPage.objects.get(pk=petition.pk)
    assert live.deliver_at_goal and live.deliver_at_milestones and live.milestone_step == 2
    assert live.delivery_settings_by == lead


def test_a_lead_of_another_campaign_saving_the_page_is_not_recorded_as_deciding(
    client, petition, official, django_user_model
):
    other_campaign = CampaignIndexPageFactory(parent=petition.get_parent().get_parent(), slug="elsewhere")
    outsider = user_in(django_user_model, "outsider", "Moderators", "Campaign leads")
    CampaignGrant.objects.create(user=outsider, campaign=other_campaign)
    client.force_login(outsider)

    response = client.post(
        edit_url(petition), form_data(petition, official, **DELIVERY_SETTINGS, **{"action-publish": "action-publish"})
    )

    assert response.status_code == 302, form_errors(response)
    assert PetitionPage.objects.get(pk=petition.pk).delivery_settings_by is None


def test_a_bad_notify_address_is_a_form_error_not_a_500(client, petition, official, lead):
    client.force_login(lead)

    response = client.post(
        edit_url(petition), form_data(petition, official, milestone_notify_emails="lead@example.org\nnot an address")
    )

    assert response.status_code == 200  # Wagtail shows the form again with its errors
    assert "“not an address” is not an email address." in form_errors(response)["milestone_notify_emails"][0]
    assert PetitionPage.objects.get(pk=petition.pk).get_latest_revision() is None


# --- automatic deliveries ----------------------------------------------------------------


def test_a_page_whose_delivery_no_lead_decided_stops_at_ready_at_its_goal(index_page, official, commit, mailoutbox):
    # As a page saved before this rule, or by code, would be: deliver_at_goal with no lead's decision.
    page = PetitionPageFactory(parent=index_page, goal=2, deliver_at_goal=True, body=petition_body([official.pk]))

    reach_goal(page, commit)

    delivery = Delivery.objects.get()
    assert delivery.trigger == Delivery.Trigger.GOAL
    assert delivery.status == Delivery.Status.READY  # built, waiting for a lead to press Send
    assert delivery.files_ready
    assert sent_to_officials(mailoutbox) == []


def test_an_editors_change_to_a_lead_configured_page_leaves_its_goal_delivery_for_a_lead(
    client, petition, official, lead, editor, moderator, commit, mailoutbox
):
    client.force_login(lead)
    client.post(
        edit_url(petition),
        form_data(petition, official, goal="2", deliver_at_goal="on", **{"action-publish": "action-publish"}),
    )
    client.force_login(editor)  # lowers the goal; a moderator publishes it
    client.post(edit_url(petition), form_data(petition, official, goal="1"))
    client.force_login(moderator)
    client.post(edit_url(petition), form_data(petition, official, goal="1", **{"action-publish": "action-publish"}))
    page = PetitionPage.objects.get(pk=petition.pk)
    assert page.goal == 1 and page.deliver_at_goal

    reach_goal(page, commit)

    assert Delivery.objects.get().status == Delivery.Status.READY
    assert sent_to_officials(mailoutbox) == []


def test_a_lead_configured_page_delivers_at_its_goal_by_itself(client, petition, official, lead, commit, mailoutbox):
    client.force_login(lead)
    client.post(
        edit_url(petition),
        form_data(petition, official, goal="2", deliver_at_goal="on", **{"action-publish": "action-publish"}),
    )

    reach_goal(PetitionPage.objects.get(pk=petition.pk), commit)

    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.created_by == lead  # whose decision sent it
    assert [m.to for m in sent_to_officials(mailoutbox)] == [[official.email]]


def test_a_lead_who_lost_the_permission_no_longer_decides(index_page, official, lead, commit, mailoutbox):
    page = PetitionPageFactory(
        parent=index_page, goal=2, deliver_at_goal=True, delivery_settings_by=lead, body=petition_body([official.pk])
    )
    lead.groups.remove(Group.objects.get(name="Campaign leads"))

    reach_goal(page, commit)

    assert Delivery.objects.get().status == Delivery.Status.READY
    assert sent_to_officials(mailoutbox) == []


def test_the_leads_are_told_that_a_delivery_waits_for_them(index_page, official, commit, mailoutbox):
    page = PetitionPageFactory(
        parent=index_page, goal=2, deliver_at_goal=True, milestone_notify_emails="lead@example.org",
        body=petition_body([official.pk]),
    )  # fmt: skip

    reach_goal(page, commit)

    [message] = [m for m in mailoutbox if m.anymail_test_params["tags"] == ["petition-milestone"]]
    delivery = Delivery.objects.get()
    assert "waits for a campaign lead" in message.body
    assert reverse("petitions_deliveries:detail", args=[delivery.pk]) in message.body
