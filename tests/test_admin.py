"""The editor's path through the Wagtail admin: compose a petition from our blocks, preview, publish.

Everything here goes through the admin's own views with the POST data its forms
send, so it proves the page can be built "without code": drafts, previews
(of the page and of each block), scheduling, revisions, validation, and the
snippet listings campaign leads use.
"""

import csv
import io
import json

import pytest
import wagtail_factories
from bs4 import BeautifulSoup
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from wagtail.models import Collection, GroupPagePermission, Page
from wagtail.test.utils import WagtailPageTestCase
from wagtail.test.utils.form_data import nested_form_data, rich_text, streamfield

from cms.models import CampaignIndexPage, PetitionPage
from petitions_site import demo_content

from .factories import CampaignIndexPageFactory, OfficialFactory, PetitionPageFactory, SignatureFactory

pytestmark = pytest.mark.django_db

SALUTATION = "Dear Secretary Blinken,"
ADMIN_DATETIME_FORMAT = "%Y-%m-%d %H:%M"  # wagtail.admin.widgets.datetime.DEFAULT_DATETIME_FORMAT


# --- helpers -------------------------------------------------------------------


def list_block(values):
    """Form data for a ListBlock (the shape Wagtail's ListBlock.value_from_datadict reads)."""
    data = {str(i): {"value": value, "deleted": "", "order": str(i)} for i, value in enumerate(values)}
    data["count"] = str(len(values))
    return data


def admin_datetime(value):
    return timezone.localtime(value).strftime(ADMIN_DATETIME_FORMAT)


def petition_form_data(official, image=None, *, title="Stop the cuts", slug="stop-the-cuts", letter_text=None, **extra):
    """What the admin's petition form posts, with a body holding every block type."""
    letter_text = letter_text or "<p>We, the undersigned, ask that you act.</p>"
    blocks = [("text", rich_text("<p>Campaign text for editors.</p>"))]
    if image is not None:
        blocks.append(("image", {"image": str(image.pk), "caption": "The march", "attribution": "Photo: Ada"}))
    blocks += [
        (
            "letter",
            {
                "greeting": "Dear",
                "officials": list_block([str(official.pk)]),
                "body": rich_text(letter_text),
                "sign_off": "Sincerely,",
                "signatories": "The undersigned",
            },
        ),
        ("sign_form", {"heading": "Will you sign?", "text": rich_text(""), "button_label": "Sign now"}),
        ("counter", {"label": "people already signed", "goal": "500", "show_progress": "on"}),
        ("signer_feed", {"heading": "Who's signing", "size": "10"}),
        ("share_links", {"heading": "Share this petition", "message": "Sign this"}),
    ]
    data = nested_form_data(
        {
            "title": title,
            "slug": slug,
            "intro": "A short summary.",
            "body": streamfield(blocks),
            # Petition tab
            "goal": "1000",
            "opens_at": "",
            "closes_at": "",
            "ask_last_name": "on",
            "ask_country": "on",
            "consent_wording": "Pass my name on to the officials",
            "thank_you_message": rich_text("<p>Thank you! Check your email.</p>"),
            "confirmed_message": rich_text("<p>Confirmed.</p>"),
            "verification_email_subject": "Please confirm your signature on “{petition}”",
            "verification_email_body": "Hi {first_name},\n\nConfirm here: {link}\n",
            # Promote and Settings tabs
            "seo_title": "",
            "search_description": "",
            "go_live_at": "",
            "expire_at": "",
        }
    )
    # A MultipleChoiceBlock posts one value per ticked box; the test client sends a list as such.
    share_index = next(i for i, (block_type, _) in enumerate(blocks) if block_type == "share_links")
    data[f"body-{share_index}-value-networks"] = ["email", "x"]
    data.update(extra)
    return data


def add_url(parent, model=PetitionPage):
    return reverse("wagtailadmin_pages:add", args=(model._meta.app_label, model._meta.model_name, parent.pk))


def edit_url(page):
    return reverse("wagtailadmin_pages:edit", args=(page.pk,))


def form_errors(response):
    form = response.context["form"]
    return {field: list(errors) for field, errors in form.errors.items()}


def preview(client, page, data, mode=""):
    """Post the form to the preview endpoint as the admin's preview panel does, then load the preview."""
    url = reverse("wagtailadmin_pages:preview_on_edit", args=(page.pk,))
    answer = client.post(url, data)
    assert answer.status_code == 200
    assert answer.json() == {"is_valid": True, "is_available": True}
    return client.get(url, {"mode": mode})


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def image(media_root):
    return wagtail_factories.ImageFactory(collection=Collection.get_first_root_node(), title="The march")


@pytest.fixture
def editor(django_user_model):
    """A user in the "Editors" group Wagtail's migrations create: add and edit on the root, no publish."""
    user = django_user_model.objects.create_user("editor", "editor@example.org", "password")
    user.groups.add(Group.objects.get(name="Editors"))
    return user


@pytest.fixture
def moderator(django_user_model):
    user = django_user_model.objects.create_user("moderator", "moderator@example.org", "password")
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


# --- create, draft, preview, publish -----------------------------------------------


def test_a_superuser_can_compose_a_petition_from_every_block_save_a_draft_preview_and_publish_it(
    admin_client, index_page, official, image
):
    data = petition_form_data(official, image)

    response = admin_client.post(add_url(index_page), data)

    assert response.status_code == 302, form_errors(response)
    page = PetitionPage.objects.get(slug="stop-the-cuts")
    assert page.get_parent().specific == index_page
    assert not page.live
    assert page.has_unpublished_changes
    assert page.revisions.count() == 1
    draft = page.get_latest_revision_as_object()
    assert [block.block_type for block in draft.body] == [
        "text",
        "image",
        "letter",
        "sign_form",
        "counter",
        "signer_feed",
        "share_links",
    ]
    assert draft.get_officials() == [official]
    assert draft.body[6].value["networks"] == ["email", "x"]
    assert admin_client.get(page.url).status_code == 404  # a draft is not served

    previewed = preview(admin_client, page, data)

    assert previewed.status_code == 200
    html = previewed.content.decode()
    assert SALUTATION in html
    assert "Will you sign?" in html
    assert "This petition is not published, so it cannot be signed." in html
    assert 'class="block-counter"' in html and "people already signed" in html
    assert "of our goal of 500" in html
    assert "Who&#x27;s signing" in html
    assert "Share this petition" in html and "share__link--x" in html
    assert "The march" in html and "<img" in html

    landing = preview(admin_client, page, data, mode="landing")
    assert landing.status_code == 200
    assert "Thank you! Check your email." in landing.content.decode()

    response = admin_client.post(edit_url(page), {**data, "action-publish": "action-publish"})

    assert response.status_code == 302, form_errors(response)
    page.refresh_from_db()
    assert page.live
    assert not page.has_unpublished_changes
    assert page.revisions.count() == 2
    served = admin_client.get(page.url)
    assert served.status_code == 200
    html = served.content.decode()
    assert SALUTATION in html
    assert 'class="sign-form"' in html and "Sign now" in html  # live, so signable


def test_a_new_petition_can_be_previewed_before_its_first_save(admin_client, index_page, official):
    url = reverse("wagtailadmin_pages:preview_on_add", args=("petitions_cms", "petitionpage", index_page.pk))

    answer = admin_client.post(url, petition_form_data(official))
    previewed = admin_client.get(url)

    assert answer.json() == {"is_valid": True, "is_available": True}
    assert previewed.status_code == 200
    html = previewed.content.decode()
    assert SALUTATION in html and "Will you sign?" in html and "Who&#x27;s signing" in html
    assert not PetitionPage.objects.exists()


def test_the_default_editors_group_can_draft_and_preview_but_a_moderator_publishes(
    client, index_page, official, editor, moderator
):
    # Wagtail's migrations give "Editors" add and edit on the root, and "Moderators" publish too.
    root = Page.get_first_root_node()
    assert set(
        GroupPagePermission.objects.filter(group__name="Editors", page=root).values_list(
            "permission__codename", flat=True
        )
    ) == {"add_page", "change_page"}
    data = petition_form_data(official)
    client.force_login(editor)
    assert client.get(add_url(index_page)).status_code == 200
    # The choosers the letter and image blocks open work for editors ...
    assert client.get(reverse("wagtailsnippetchoosers_petitions_cms_official:choose")).status_code == 200
    assert client.get(reverse("wagtailimages_chooser:choose")).status_code == 200
    # ... while signers' data stays with those given snippet permissions.
    assert client.get(reverse("petitions_signatures:index")).status_code == 302

    response = client.post(add_url(index_page), {**data, "action-publish": "action-publish"})

    assert response.status_code == 302, form_errors(response)
    page = PetitionPage.objects.get(slug="stop-the-cuts")
    assert not page.live  # without publish permission the admin saves a draft instead
    assert page.revisions.count() == 1
    assert SALUTATION in preview(client, page, data).content.decode()

    client.force_login(moderator)
    response = client.post(edit_url(page), {**data, "action-publish": "action-publish"})

    assert response.status_code == 302, form_errors(response)
    page.refresh_from_db()
    assert page.live
    assert client.get(page.url).status_code == 200


# --- scheduling and revisions ---------------------------------------------------------


def test_publishing_with_a_future_go_live_at_schedules_the_petition(admin_client, index_page, official):
    go_live_at = timezone.now() + timezone.timedelta(days=2)
    data = petition_form_data(official)
    admin_client.post(add_url(index_page), data)
    page = PetitionPage.objects.get(slug="stop-the-cuts")

    response = admin_client.post(
        edit_url(page), {**data, "go_live_at": admin_datetime(go_live_at), "action-publish": "action-publish"}
    )

    assert response.status_code == 302, form_errors(response)
    page.refresh_from_db()
    assert not page.live
    scheduled = page.scheduled_revision
    assert scheduled is not None
    assert abs(scheduled.approved_go_live_at - go_live_at) < timezone.timedelta(minutes=1)
    assert admin_client.get(page.url).status_code == 404

    # When the time comes, Wagtail's publish_scheduled command puts it live
    # (the time "comes" by moving the scheduled revision's times into the past).
    past = timezone.now() - timezone.timedelta(minutes=1)
    scheduled.approved_go_live_at = past
    scheduled.content["go_live_at"] = past.isoformat()
    scheduled.save(update_fields=["approved_go_live_at", "content"])
    call_command("publish_scheduled", verbosity=0)

    page = PetitionPage.objects.get(pk=page.pk)  # scheduled_revision is cached per instance
    assert page.live
    assert page.scheduled_revision is None
    assert SALUTATION in admin_client.get(page.url).content.decode()


def test_publishing_again_keeps_the_previous_revision_which_can_be_viewed_and_reverted_to(
    admin_client, index_page, official
):
    first = petition_form_data(official, letter_text="<p>First wording.</p>")
    second = petition_form_data(official, letter_text="<p>Second wording.</p>")
    admin_client.post(add_url(index_page), {**first, "action-publish": "action-publish"})
    page = PetitionPage.objects.get(slug="stop-the-cuts")
    old_revision = page.live_revision

    response = admin_client.post(edit_url(page), {**second, "action-publish": "action-publish"})

    assert response.status_code == 302, form_errors(response)
    page.refresh_from_db()
    assert page.revisions.count() == 2
    assert page.live_revision != old_revision
    live_html = admin_client.get(page.url).content.decode()
    assert "Second wording." in live_html and "First wording." not in live_html
    assert "First wording." in str(old_revision.as_object().body)

    viewed = admin_client.get(reverse("wagtailadmin_pages:revisions_view", args=(page.pk, old_revision.pk)))
    assert viewed.status_code == 200
    assert "First wording." in viewed.content.decode()

    compared = admin_client.get(
        reverse("wagtailadmin_pages:revisions_compare", args=(page.pk, old_revision.pk, "latest"))
    )
    assert compared.status_code == 200

    revert_form = admin_client.get(reverse("wagtailadmin_pages:revisions_revert", args=(page.pk, old_revision.pk)))
    assert revert_form.status_code == 200
    assert "First wording." in revert_form.content.decode()  # the edit form, filled from the old revision

    # Reverting is publishing the old content again as a new revision.
    admin_client.post(edit_url(page), {**first, "action-publish": "action-publish"})
    page.refresh_from_db()
    assert page.revisions.count() == 3
    assert "First wording." in admin_client.get(page.url).content.decode()


# --- the edit view and the block previews -----------------------------------------------


def test_the_edit_view_of_a_demo_petition_renders_every_tab(admin_client, index_page, official):
    petition = PetitionPageFactory(
        parent=index_page,
        title=demo_content.REFERENCE_TITLE,
        slug=demo_content.REFERENCE_SLUG,
        body=json.dumps(demo_content.reference_body(official)),
    )

    response = admin_client.get(edit_url(petition))

    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    tabs = {tab.get_text(" ", strip=True).split(" (")[0]: tab["href"] for tab in soup.select('[role="tab"]')}
    assert tabs == {"Content": "#tab-content", "Petition": "#tab-petition", "Promote": "#tab-promote"}
    for panel, names in {
        "tab-content": ["title", "intro"],
        "tab-petition": ["goal", "opens_at", "closes_at", "consent_wording", "verification_email_body"],
        "tab-promote": ["slug", "seo_title", "search_description"],
    }.items():
        rendered = {field["name"] for field in soup.find(id=panel).select("[name]")}
        assert set(names) <= rendered, panel
    # The StreamField widget, carrying every block of ours and the demo's letter.
    body = soup.find(id="body")
    assert body["data-controller"] == "w-block"
    for block_name in ("letter", "sign_form", "counter", "signer_feed", "share_links", "image"):
        assert f'"{block_name}"' in body["data-w-block-data-value"]
    assert "Blinken" in body["data-w-block-arguments-value"]
    # Wagtail 8 puts the Settings tab's PublishingPanel in the status side panel's
    # scheduling dialog rather than in a tab of its own; its fields are rendered.
    for name in ("go_live_at", "expire_at"):
        assert soup.find("input", attrs={"name": name})["id"] == f"id_{name}"
        assert soup.find(id=f"panel-child-settings-child-publishing-child-{name}-wrapper")


BLOCK_PREVIEWS = {
    "letter": ["Dear Secretary Blinken,", "We, the undersigned, ask that you act.", "Sincerely,"],
    "sign_form": ["Will you sign?"],
    "counter": ["640", "people already signed", "of our goal of 1,000"],
    "signer_feed": ["Who&#x27;s signing", "Stefanie", "Alexis"],
    "share_links": ["Share this petition", "share__link--facebook"],
}


@pytest.mark.parametrize("name", BLOCK_PREVIEWS)
def test_each_block_renders_its_preview_in_the_block_chooser(admin_client, name):
    block = PetitionPage._meta.get_field("body").stream_block.child_blocks[name]
    assert block.is_previewable

    response = admin_client.get(reverse("wagtailadmin_block_preview"), {"id": block.definition_prefix})

    assert response.status_code == 200
    html = response.content.decode()
    for text in BLOCK_PREVIEWS[name]:
        assert text in html


@pytest.mark.parametrize("name", BLOCK_PREVIEWS)
def test_each_block_renders_its_preview_value_without_a_page(name):
    block = PetitionPage._meta.get_field("body").stream_block.child_blocks[name]

    html = block.render(block.get_preview_value())

    for text in BLOCK_PREVIEWS[name]:
        assert text in html


# --- where petitions may go -------------------------------------------------------------


class PetitionPageTreeTests(WagtailPageTestCase):
    def test_petitions_go_only_under_a_campaign_index(self):
        self.assertAllowedParentPageTypes(PetitionPage, {CampaignIndexPage})
        self.assertAllowedSubpageTypes(PetitionPage, {})
        self.assertAllowedSubpageTypes(CampaignIndexPage, {PetitionPage})
        self.assertCanCreateAt(CampaignIndexPage, PetitionPage)
        self.assertCanNotCreateAt(Page, PetitionPage)

    def test_the_admin_creates_a_published_petition_under_an_index_and_refuses_one_elsewhere(self):
        root = Page.get_first_root_node()
        index = CampaignIndexPageFactory(parent=root, slug="campaigns")
        official = OfficialFactory()
        self.login()

        self.assertCanCreate(index, PetitionPage, petition_form_data(official))

        self.assertTrue(PetitionPage.objects.get(slug="stop-the-cuts").live)
        # Outside a campaign index the admin refuses (a permission denial is a redirect to the dashboard).
        refused = self.client.post(add_url(root), petition_form_data(official, slug="elsewhere"))
        self.assertRedirects(refused, reverse("wagtailadmin_home"), fetch_redirect_response=False)
        self.assertFalse(PetitionPage.objects.filter(slug="elsewhere").exists())


# --- validation ------------------------------------------------------------------------


def test_the_form_refuses_a_closing_time_before_the_opening_time(admin_client, index_page, official):
    opens_at = timezone.now() + timezone.timedelta(days=2)
    data = petition_form_data(
        official,
        opens_at=admin_datetime(opens_at),
        closes_at=admin_datetime(opens_at - timezone.timedelta(days=1)),
    )

    response = admin_client.post(add_url(index_page), data)

    assert response.status_code == 200
    assert form_errors(response) == {"closes_at": ["The closing time must be after the opening time."]}
    assert "The closing time must be after the opening time." in response.content.decode()
    assert not PetitionPage.objects.exists()


def test_the_form_refuses_a_verification_email_without_the_link(admin_client, petition, official):
    data = petition_form_data(
        official, verification_email_body="Hi {first_name}, thanks!", **{"action-publish": "action-publish"}
    )

    response = admin_client.post(edit_url(petition), data)

    assert response.status_code == 200
    assert form_errors(response) == {
        "verification_email_body": ["The email must contain {link}, where the confirmation link goes."]
    }
    petition.refresh_from_db()
    assert "{link}" in petition.verification_email_body
    assert petition.revisions.count() == 0


# --- snippets --------------------------------------------------------------------------


def test_the_signatures_and_officials_listings_render(admin_client, petition, official):
    SignatureFactory(petition=petition, first_name="Grace", email="grace@example.org", verified=True)

    signatures = admin_client.get(reverse("petitions_signatures:index"))
    officials = admin_client.get(reverse("wagtailsnippets_petitions_cms_official:list"))

    assert signatures.status_code == 200
    assert "Grace" in signatures.content.decode()
    assert officials.status_code == 200
    assert "Antony Blinken" in officials.content.decode()


def test_the_signatures_csv_export_leaves_out_email_addresses(admin_client, petition):
    SignatureFactory(
        petition=petition, first_name="Grace", email="grace@example.org", verified=True, share_with_officials=True
    )
    SignatureFactory(petition=petition, first_name="Alan", email="alan@example.org")

    response = admin_client.get(reverse("petitions_signatures:index"), {"export": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    rows = list(csv.reader(io.StringIO(body)))
    # Alan has not confirmed (nor consented to be named): his row leaves the site without his name.
    assert {row[rows[0].index("First name")] for row in rows[1:]} == {"Grace", ""}
    assert "@" not in body
    assert not any("mail" in heading.lower() for heading in rows[0])
