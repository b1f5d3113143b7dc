"""Each campaign its own identity: sender, logo, accent colour and privacy notice, on pages, emails and PDFs."""

import io

import pytest
import wagtail_factories
from django.core.exceptions import ValidationError
from django.urls import reverse
from pypdf import PdfReader
from wagtail.models import Collection, Page
from wagtail.test.utils.form_data import nested_form_data, rich_text

from cms import deliveries, emails, milestones
from cms.identity import SITE_IDENTITY, contrast_with_white, sender_domains
from cms.models import CampaignIndexPage, Delivery, Milestone, PetitionPrivacySettings

from .factories import CampaignIndexPageFactory, PetitionPageFactory, SignatureFactory, petition_body
from .test_deliveries import pdf_text

pytestmark = pytest.mark.django_db

HOSTILE_COLOURS = ["red;}</style><script>alert(1)</script>", "#fff", "#12345g", "#ffffff", "#ffd700", "url(x)"]


@pytest.fixture(autouse=True)
def _sender_domains(settings):
    settings.DEFAULT_FROM_EMAIL = "Petitions <petitions@example.org>"
    settings.PETITIONS = {**settings.PETITIONS, "SENDER_DOMAINS": ["example.org", "campaign.example.net"]}


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def logo(media_root):
    return wagtail_factories.ImageFactory(collection=Collection.get_first_root_node(), title="Clean air logo")


@pytest.fixture
def campaign(index_page, logo):
    index_page.sender_name = "Clean Air Now"
    index_page.from_email = "hello@campaign.example.net"
    index_page.reply_to_email = "team@campaign.example.net"
    index_page.accent_colour = "#1A5FB4"
    index_page.logo = logo
    index_page.full_clean()
    index_page.save()
    return index_page


def edit_campaign(admin_client, campaign, **fields):
    data = {
        "title": campaign.title,
        "slug": campaign.slug,
        "intro": rich_text(""),
        "sender_name": "Clean Air Now",
        "from_email": "",
        "reply_to_email": "",
        "accent_colour": "",
        "privacy_notice": rich_text(""),
        "privacy_url": "",
    }
    data.update(fields)
    return admin_client.post(reverse("wagtailadmin_pages:edit", args=(campaign.pk,)), nested_form_data(data))


def form_errors(response):
    return {field: list(errors) for field, errors in response.context["form"].errors.items()}


# --- what may be saved -----------------------------------------------------------------------


def test_the_sender_domains_default_to_the_site_senders_domain(settings):
    settings.PETITIONS = {key: value for key, value in settings.PETITIONS.items() if key != "SENDER_DOMAINS"}
    assert sender_domains() == ["example.org"]


def test_a_from_address_on_a_disallowed_domain_is_refused_with_a_field_error_in_the_editor(admin_client, index_page):
    response = edit_campaign(
        admin_client, index_page, from_email="ceo@bank.example.com", reply_to_email="x@elsewhere.example"
    )

    assert response.status_code == 200
    errors = form_errors(response)
    message = "Emails can only be sent from these domains: example.org, campaign.example.net."
    assert errors == {"from_email": [message], "reply_to_email": [message]}
    index_page.refresh_from_db()
    assert index_page.from_email == ""


def test_a_from_address_on_an_allowed_domain_is_accepted_and_saved(admin_client, index_page):
    response = edit_campaign(
        admin_client,
        index_page,
        from_email="hello@campaign.example.net",
        reply_to_email="team@example.org",
        accent_colour="#1A5FB4",
        **{"action-publish": "action-publish"},
    )

    assert response.status_code == 302
    index_page.refresh_from_db()
    assert (index_page.from_email, index_page.reply_to_email) == ("hello@campaign.example.net", "team@example.org")
    assert index_page.accent_colour == "#1a5fb4"


@pytest.mark.parametrize("colour", HOSTILE_COLOURS)
def test_a_hostile_or_unreadable_accent_colour_cannot_be_saved(admin_client, index_page, colour):
    response = edit_campaign(admin_client, index_page, accent_colour=colour)

    assert response.status_code == 200
    assert list(form_errors(response)) == ["accent_colour"]
    with pytest.raises(ValidationError) as refused:
        CampaignIndexPage(title="x", slug="x", accent_colour=colour).full_clean(exclude=["path", "depth"])
    assert "accent_colour" in refused.value.error_dict


def test_the_accent_colours_accepted_are_readable_under_white_text():
    assert contrast_with_white("#1a5fb4") >= 4.5
    assert contrast_with_white("#ffd700") < 4.5


# --- pages -------------------------------------------------------------------------------------


def test_the_petition_page_shows_the_campaigns_logo_and_accent_colour(client, campaign, official):
    petition = PetitionPageFactory(parent=campaign, body=petition_body([official.pk]))

    html = client.get(petition.url).content.decode()

    assert 'class="site-logo__image"' in html and "Clean air logo" in html
    stylesheet = reverse("petitions:accent", args=["1a5fb4"])
    assert f'<link rel="stylesheet" href="{stylesheet}">' in html
    answer = client.get(stylesheet)
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/css")
    assert answer.content.decode() == ":root { --accent: #1a5fb4; }\n"


def test_the_campaign_index_shows_its_logo_and_accent_colour(client, campaign):
    html = client.get(campaign.url).content.decode()

    assert "Clean air logo" in html
    assert reverse("petitions:accent", args=["1a5fb4"]) in html


def test_the_accent_stylesheet_refuses_a_colour_no_campaign_could_save(client):
    assert client.get("/petitions/accent/ffffff.css").status_code == 404
    assert client.get("/petitions/accent/zzzzzz.css").status_code == 404


def test_the_stylesheet_draws_the_accent_from_the_variable():
    from pathlib import Path

    css = (Path(__file__).parent.parent / "cms/static/petitions/petitions.css").read_text()
    assert "--accent:" in css.splitlines()[0]  # the default, which a campaign's stylesheet overrides
    assert css.count("var(--accent)") > 10


def test_the_privacy_link_of_a_petition_is_its_campaigns_notice(client, campaign, official):
    campaign.privacy_url = "https://campaign.example.net/privacy"
    campaign.save()
    petition = PetitionPageFactory(parent=campaign, body=petition_body([official.pk]))

    html = client.get(petition.url).content.decode()

    assert html.count('href="https://campaign.example.net/privacy"') >= 2  # by the form and in the footer


def test_a_campaigns_own_notice_is_shown_on_its_petitions_privacy_route_unless_the_petition_has_one(
    client, campaign, official
):
    campaign.privacy_notice = "<p>Clean Air Now keeps your data for a year.</p>"
    campaign.save()
    petition = PetitionPageFactory(parent=campaign, body=petition_body([official.pk]))

    assert petition.get_privacy_url() == f"http://testserver{petition.url}privacy/"
    assert "Clean Air Now keeps your data for a year." in client.get(petition.url + "privacy/").content.decode()
    campaign_notice = client.get(campaign.url + "privacy/")
    assert "Clean Air Now keeps your data for a year." in campaign_notice.content.decode()
    assert f'href="{campaign.url}privacy/"' in client.get(campaign.url).content.decode()

    petition.privacy_notice = "<p>This petition's own notice.</p>"
    petition.save()
    assert "This petition's own notice." in client.get(petition.url + "privacy/").content.decode()


# --- emails ------------------------------------------------------------------------------------


def test_the_verification_email_comes_from_the_campaigns_sender_with_its_reply_to(campaign, official, mailoutbox):
    petition = PetitionPageFactory(parent=campaign, body=petition_body([official.pk]))
    pending = SignatureFactory(petition=petition)

    assert emails.send_verification_emails([pending.pk]) == ([pending.pk], [])

    [message] = mailoutbox
    assert message.from_email == "Clean Air Now <hello@campaign.example.net>"
    assert message.reply_to == ["team@campaign.example.net"]
    assert message.message()["From"] == "Clean Air Now <hello@campaign.example.net>"


def test_the_campaign_is_looked_up_once_per_compiled_email(campaign, official, mailoutbox, django_assert_num_queries):
    petition = PetitionPageFactory(parent=campaign, body=petition_body([official.pk]))
    page = Page.objects.get(pk=petition.pk).specific
    signatures = SignatureFactory.create_batch(2, petition=petition)
    emails.build_verification_message(page, signatures[0])

    with django_assert_num_queries(0):
        message = emails.build_verification_message(page, signatures[1])
    assert message.from_email == "Clean Air Now <hello@campaign.example.net>"


def test_update_emails_to_signers_come_from_the_campaigns_sender(campaign, official, commit, mailoutbox):
    petition = PetitionPageFactory(parent=campaign, body=petition_body([official.pk]))
    SignatureFactory(petition=petition, verified=True, opt_in_updates=True, share_with_officials=True)
    delivery = commit(deliveries.prepare_delivery, petition, [official])
    mailoutbox.clear()

    deliveries.send_signer_updates("delivery", delivery.pk)

    [update] = mailoutbox
    assert update.from_email == "Clean Air Now <hello@campaign.example.net>"
    assert update.reply_to == ["team@campaign.example.net"]


def test_milestone_emails_and_deliveries_to_officials_come_from_the_campaigns_sender(
    campaign, official, commit, mailoutbox
):
    petition = PetitionPageFactory(
        parent=campaign, body=petition_body([official.pk]), milestone_notify_emails="lead@example.org"
    )
    signature = SignatureFactory(petition=petition, verified=True, share_with_officials=True)
    milestone = Milestone.objects.create(
        petition=petition,
        threshold=1,
        kind=Milestone.Kind.STEP,
        reached_at=signature.verified_at,
        total_when_recorded=1,
    )
    milestones.notify(milestone.pk)
    delivery = commit(deliveries.prepare_delivery, petition, [official])
    commit(deliveries.start_sending, Delivery.objects.get(pk=delivery.pk))

    tags = {message.anymail_test_params["tags"][0]: message for message in mailoutbox}
    for tag in ("petition-milestone", "petition-delivery"):
        assert tags[tag].from_email == "Clean Air Now <hello@campaign.example.net>", tag
        assert tags[tag].reply_to == ["team@campaign.example.net"], tag


def test_a_petition_outside_any_campaign_keeps_the_site_defaults(index_page, official, client, mailoutbox):
    outside = PetitionPageFactory(parent=Page.get_first_root_node(), body=petition_body([official.pk]))
    index_page.sender_name, index_page.accent_colour = "Clean Air Now", "#1a5fb4"
    index_page.save()
    pending = SignatureFactory(petition=outside)

    assert outside.get_identity() == SITE_IDENTITY
    emails.send_verification_emails([pending.pk])
    [message] = mailoutbox
    assert message.from_email == "Petitions <petitions@example.org>"
    assert message.reply_to == []
    assert outside.get_privacy_notice() == PetitionPrivacySettings.for_site(index_page.get_site()).notice


# --- the delivery PDF ----------------------------------------------------------------------------


def cover_images(data: bytes) -> list:
    return list(PdfReader(io.BytesIO(data)).pages[0].images)


def test_the_delivery_pdf_cover_carries_the_campaigns_logo_and_sender_name(campaign, official, commit):
    petition = PetitionPageFactory(parent=campaign, body=petition_body([official.pk]))
    SignatureFactory(petition=petition, verified=True, share_with_officials=True, country="GB")

    delivery = commit(deliveries.prepare_delivery, petition, [official])
    delivery.refresh_from_db()
    data = delivery.pdf_file.open("rb").read()

    assert pdf_text(data).splitlines()[0] == "Clean Air Now"
    [image] = cover_images(data)
    assert image.image.size[0] <= 400 and image.image.size[1] <= 160


def test_a_jpeg_logo_is_embedded_as_it_is(campaign, official, commit, media_root):
    from PIL import Image as PILImage

    picture = io.BytesIO()
    PILImage.new("RGB", (120, 40), "#1a5fb4").save(picture, "JPEG")
    campaign.logo = wagtail_factories.ImageFactory(
        collection=Collection.get_first_root_node(), file__from_file=io.BytesIO(picture.getvalue())
    )
    campaign.save()
    petition = PetitionPageFactory(parent=campaign, body=petition_body([official.pk]))

    delivery = commit(deliveries.prepare_delivery, petition, [official])
    delivery.refresh_from_db()
    data = delivery.pdf_file.open("rb").read()

    assert b"/DCTDecode" in data
    assert len(cover_images(data)) == 1


def test_the_delivery_pdf_of_a_petition_outside_any_campaign_has_no_logo(index_page, official, commit, media_root):
    outside = PetitionPageFactory(parent=Page.get_first_root_node(), body=petition_body([official.pk]))

    delivery = commit(deliveries.prepare_delivery, outside, [official])
    delivery.refresh_from_db()
    data = delivery.pdf_file.open("rb").read()

    assert cover_images(data) == []
    assert pdf_text(data).splitlines()[0] == outside.title


def test_a_campaign_index_under_a_campaign_index_gives_its_own_identity(campaign, official):
    local = CampaignIndexPageFactory(parent=campaign, title="Riverside", sender_name="Riverside Cycles")
    petition = PetitionPageFactory(parent=local, body=petition_body([official.pk]))

    assert petition.get_identity().sender_name == "Riverside Cycles"
    assert petition.get_identity().from_header() == "Riverside Cycles <petitions@example.org>"


def test_the_demos_reference_campaign_has_a_sender_a_logo_and_an_accent_colour(client, media_root):
    from petitions_site import demo_content

    demo_content.load()

    campaign = CampaignIndexPage.objects.get(slug="campaigns")
    campaign.full_clean()  # the demo's values pass the editor's rules
    identity = campaign.get_identity()
    assert identity.sender_name and identity.logo is not None and identity.accent == demo_content.DEMO_ACCENT
    reference = campaign.get_children().get(slug=demo_content.REFERENCE_SLUG).specific
    assert reference.get_identity().from_header() == f"{identity.sender_name} <{identity.from_email}>"
    html = client.get(reference.url).content.decode()
    assert "Petitions demo logo" in html and reference_accent_link(demo_content.DEMO_ACCENT) in html


def reference_accent_link(colour):
    return reverse("petitions:accent", args=[colour[1:]])
