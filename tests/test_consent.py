"""Consent that is the signer's own, and a privacy notice (issue 10, items 1 and 7).

While a signature is pending, the latest submission for its address replaces the earlier one;
the confirm page shows what will be stored and published and lets the signer change it; the feed
choice has no default; officials get only what the consent box names; each signature records the
wording it was given and when; nothing but the signer's own link changes a confirmed signature.
A privacy notice (the site's, or the petition's own) is shown next to the form, served at a public
URL, given in the API and linked from every email.
"""

import csv
import io
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from wagtail.models import Site
from wagtail.test.utils.form_data import rich_text

from cms import deliveries, exports, milestones, reconcile
from cms.forms import FEED_CHOICE_REQUIRED
from cms.models import ConsentWording, Delivery, Milestone, PetitionPrivacySettings, Signature
from cms.signing import consent_version
from cms.tokens import make_token

from .conftest import confirm_url, sign_url
from .factories import SignatureFactory

pytestmark = pytest.mark.django_db

#: What a stranger types for someone else's address: a spam name and every box ticked.
STRANGER = {
    "first_name": "WIN a prize at http://evil.example",
    "last_name": "Spam",
    "email": "victim@example.org",
    "country": "FR",
    "feed_display": "first",
    "share_with_officials": "on",
    "opt_in_updates": "on",
}
#: What the owner of the inbox then types: their name, nothing ticked, out of the feed.
OWNER = {
    "first_name": "Vera",
    "last_name": "Real",
    "email": "victim@example.org",
    "country": "GB",
    "feed_display": "hidden",
}

SIGNER_COLUMNS = ("first_name", "last_name", "country", "show_in_feed", "share_with_officials", "opt_in_updates")


def html_sign(client, page, fields):
    return client.post(sign_url(page), fields, REMOTE_ADDR="10.0.0.1")


def api_sign(client, page, fields):
    body = {key: True if value == "on" else value for key, value in fields.items()}
    return client.post(
        f"/api/petitions/{page.pk}/signatures/",
        json.dumps(body),
        content_type="application/json",
        REMOTE_ADDR="10.0.0.1",
    )


def row(email="victim@example.org"):
    return Signature.objects.get(email_normalized=email)


def signer_values(signature):
    return tuple(
        str(value) if name == "country" else value
        for name, value in ((n, getattr(signature, n)) for n in SIGNER_COLUMNS)
    )


def confirm_page_path(page, signature):
    return f"{page.url}confirm/?token={make_token(signature)}"


@pytest.fixture(params=["postgresql", "other"])
def vendor(request, monkeypatch):
    """PostgreSQL's one statement, and the path other databases (SQLite) take."""
    if request.param == "other":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    return request.param


# --- the latest pending submission wins ---------------------------------------------------------


@pytest.mark.parametrize("path", ["html", "api"])
def test_a_later_submission_replaces_a_pending_signatures_name_choices_and_consent(
    petition, client, commit, vendor, path
):
    post = html_sign if path == "html" else api_sign
    assert commit(post, client, petition, STRANGER).status_code in (302, 202)
    first = row()
    assert commit(post, client, petition, OWNER).status_code in (302, 202)

    signature = row()
    assert signature.pk == first.pk and Signature.objects.count() == 1
    assert signer_values(signature) == ("Vera", "Real", "GB", False, False, False)
    assert signature.status == Signature.Status.PENDING
    assert signature.consent_given_at > first.consent_given_at
    assert signature.email_requested_at == first.email_requested_at  # the resend interval still holds


@pytest.mark.parametrize("status", ["verified", "quarantined", "invalidated", "fraudulent"])
@pytest.mark.parametrize("path", ["html", "api"])
def test_a_signature_no_longer_pending_never_changes_through_the_sign_form(
    petition, client, commit, vendor, status, path
):
    earlier = SignatureFactory(
        petition=petition, email="victim@example.org", first_name="Vera", status=status, show_in_feed=False
    )
    before = Signature.objects.values().get(pk=earlier.pk)

    post = html_sign if path == "html" else api_sign
    assert commit(post, client, petition, STRANGER).status_code in (302, 202)

    after = Signature.objects.values().get(pk=earlier.pk)
    assert {key for key in after if after[key] != before[key]} <= {"email_requested_at"}
    assert after["first_name"] == "Vera" and after["show_in_feed"] is False


def test_the_reported_case_the_owner_confirms_their_own_name_and_choices(petition, client, commit, mailoutbox):
    commit(html_sign, client, petition, STRANGER)
    commit(html_sign, Client(), petition, OWNER)
    link = re.search(r"http://testserver(\S+)", mailoutbox[0].body).group(1)  # the first email's link still works

    shown = client.get(link).content.decode()
    assert "Vera" in shown and "evil.example" not in shown
    commit(client.post, confirm_url(petition), {"token": parse_qs(urlsplit(link).query)["token"][0]})

    signature = row()
    assert signature.status == Signature.Status.VERIFIED
    assert signer_values(signature) == ("Vera", "Real", "GB", False, False, False)
    commit(reconcile.reconcile_counts, [petition.pk])
    assert petition.get_feed() == []


# --- the confirm page ----------------------------------------------------------------------------


@pytest.fixture
def pending(petition):
    petition.ask_postcode = True
    petition.feed_show_place = True
    petition.save_revision().publish()
    return SignatureFactory(
        petition=petition,
        first_name="Vera",
        last_name="real",
        country="GB",
        postcode="SW1A 1AA",
        show_in_feed=True,
        feed_name="first_initial",
        share_with_officials=True,
        share_postcode_with_officials=False,
        opt_in_updates=False,
    )


def test_the_confirm_page_shows_what_will_be_stored_and_published_and_a_get_changes_nothing(pending, client):
    before = Signature.objects.values().get(pk=pending.pk)

    response = client.get(confirm_page_path(pending.petition, pending))
    html = response.content.decode()

    assert response.status_code == 200
    assert "Vera R., United Kingdom" in html  # the name and place as the feed will show them
    assert "SW1A 1AA" in html
    assert "Yes: your name, country and the date you signed" in html  # not the postcode: not consented
    picked = re.findall(r'<input type="radio" name="feed_display" value="(\w+)"[^>]*\bchecked', html)
    assert picked == ["first_initial"]
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert Signature.objects.values().get(pk=pending.pk) == before


def confirm_form(signature, **changes):
    fields = {
        "token": make_token(signature),
        "review": "1",
        "first_name": "Vera",
        "last_name": "Real",
        "country": "GB",
        "postcode": "SW1A 1AA",
        "feed_display": "first_initial",
        "share_with_officials": "on",
    }
    fields.update(changes)
    return {key: value for key, value in fields.items() if value is not None}


def test_changes_made_on_the_confirm_page_are_stored_with_the_verification(pending, client, commit):
    response = commit(
        client.post,
        confirm_url(pending.petition),
        confirm_form(pending, first_name="Vera-Lynn", feed_display="first", share_postcode_with_officials="on"),
    )

    assert response.status_code == 200 and "counted" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == Signature.Status.VERIFIED
    assert (pending.first_name, pending.last_name, pending.feed_name) == ("Vera-Lynn", "Real", "first")
    assert pending.share_postcode_with_officials is True
    assert ConsentWording.objects.filter(pk=pending.consent_version).exists()
    assert [entry["name"] for entry in pending.petition.specific.get_feed()] == ["Vera-Lynn"]


def test_changes_posted_for_a_confirmed_signature_change_nothing(pending, client, commit):
    commit(client.post, confirm_url(pending.petition), {"token": make_token(pending)})
    before = Signature.objects.values().get(pk=pending.pk)

    again = commit(client.post, confirm_url(pending.petition), confirm_form(pending, first_name="Someone else"))

    assert "already confirmed" in again.content.decode()
    assert Signature.objects.values().get(pk=pending.pk) == before


def test_a_get_of_a_confirmed_signatures_link_shows_nothing_of_it_to_change(pending, client, commit):
    commit(client.post, confirm_url(pending.petition), {"token": make_token(pending)})

    html = client.get(confirm_page_path(pending.petition, pending)).content.decode()

    assert "already confirmed" in html and "SW1A" not in html and 'name="first_name"' not in html


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"feed_display": None}, "feed_display", FEED_CHOICE_REQUIRED),
        ({"first_name": "  "}, "first_name", "This field is required."),
        ({"country": "XX"}, "country", "Select a valid choice."),
    ],
)
def test_bad_changes_on_the_confirm_page_are_a_400_naming_the_field_and_verify_nothing(
    pending, client, changes, field, message
):
    before = Signature.objects.values().get(pk=pending.pk)

    response = client.post(confirm_url(pending.petition), confirm_form(pending, **changes))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert Signature.objects.values().get(pk=pending.pk) == before


def api_confirm(client, signature, changes=None):
    body = {"token": make_token(signature)}
    if changes is not None:
        body["changes"] = changes
    return client.post("/api/signatures/confirm/", json.dumps(body), content_type="application/json")


def test_the_api_confirm_applies_the_changes_sent_and_keeps_the_rest(pending, client, commit):
    response = commit(api_confirm, client, pending, {"feed_display": "hidden", "opt_in_updates": True})

    assert response.status_code == 200 and response.json()["status"] == "verified"
    pending.refresh_from_db()
    assert (pending.status, pending.show_in_feed, pending.opt_in_updates) == ("verified", False, True)
    assert (pending.first_name, pending.postcode, pending.share_with_officials) == ("Vera", "SW1A 1AA", True)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"feed_display": "everyone"}, "feed_display"),
        ({"country": "XX"}, "country"),
        ({"email": "x@example.org"}, "email"),
    ],
)
def test_bad_api_confirm_changes_are_a_400_and_verify_nothing(pending, client, changes, field):
    response = api_confirm(client, pending, changes)

    assert response.status_code == 400
    assert field in response.json()["errors"]
    pending.refresh_from_db()
    assert pending.status == Signature.Status.PENDING


def test_api_confirm_changes_for_a_confirmed_signature_change_nothing(pending, client, commit):
    commit(api_confirm, client, pending)
    before = Signature.objects.values().get(pk=pending.pk)

    response = commit(api_confirm, client, pending, {"first_name": "Mallory", "feed_display": "first"})

    assert response.json()["status"] == "already_verified"
    assert "Nothing was changed" in response.json()["detail"]
    assert Signature.objects.values().get(pk=pending.pk) == before


# --- the feed choice has no default ----------------------------------------------------------------


def test_the_sign_form_preselects_no_feed_choice(petition, client):
    html = client.get(petition.url).content.decode()

    radios = re.findall(r'<input type="radio" name="feed_display"[^>]*>', html)
    assert len(radios) == 3 and not any("checked" in radio for radio in radios)


@pytest.mark.parametrize("path", ["html", "api"])
def test_signing_without_a_feed_choice_is_a_field_error_and_stores_nothing(petition, client, path, mailoutbox):
    fields = {key: value for key, value in OWNER.items() if key != "feed_display"}

    response = (html_sign if path == "html" else api_sign)(client, petition, fields)

    assert response.status_code == 400
    if path == "api":
        assert response.json()["errors"]["feed_display"] == [FEED_CHOICE_REQUIRED]
    else:
        assert FEED_CHOICE_REQUIRED in response.content.decode()
    assert not Signature.objects.exists() and mailoutbox == []


def test_the_api_describes_the_feed_choice_as_required_with_no_initial_value(petition, client):
    form = {field["name"]: field for field in client.get(f"/api/petitions/{petition.pk}/").json()["form"]}

    assert form["feed_display"]["required"] is True
    assert form["feed_display"]["initial"] is None
    operation = client.get("/api/openapi.json").json()["paths"]["/api/petitions/{id}/signatures/"]["post"]
    signature_in = operation["requestBody"]["content"]["application/json"]["schema"]
    assert "feed_display" in signature_in["required"] and "default" not in signature_in["properties"]["feed_display"]


# --- officials get only what the consent names --------------------------------------------------


def csv_rows(delivery):
    buffer = io.BytesIO()
    exports.write_csv(buffer, delivery, with_postcode=True)
    return list(csv.reader(io.StringIO(buffer.getvalue().decode("utf-8-sig"))))


def test_the_postcode_reaches_officials_only_with_its_own_consent(petition, official):
    petition.ask_postcode = True
    petition.save_revision().publish()
    both = {"verified": True, "share_with_officials": True, "country": "GB", "postcode": "SW1A 1AA"}
    SignatureFactory(petition=petition, first_name="Named", last_name="Only", **both)
    SignatureFactory(petition=petition, first_name="Post", last_name="Code", share_postcode_with_officials=True, **both)
    delivery = deliveries.prepare_delivery(petition, [official], include_list=False)

    rows = csv_rows(Delivery.objects.get(pk=delivery.pk))

    assert [r[:2] for r in rows] == [
        ["Name", "Place"],
        ["Named Only", "United Kingdom"],
        ["Post Code", "SW1A 1AA, United Kingdom"],
    ]


def test_the_officials_box_names_exactly_what_a_delivery_sends(petition, client, official):
    petition.ask_postcode = True
    petition.save_revision().publish()
    html = client.get(petition.url).content.decode()

    assert "Pass my name and country on to the officials" in html
    assert "They receive your name, your country and the date you signed; never your email address." in html
    assert "Pass my postcode on to them as well" in html
    SignatureFactory(petition=petition, verified=True, share_with_officials=True, first_name="A", last_name="B")
    delivery = deliveries.prepare_delivery(petition, [official], include_list=False)
    assert csv_rows(Delivery.objects.get(pk=delivery.pk))[0] == ["Name", "Place", "Signed on"]


def test_the_postcode_box_alone_passes_nothing_on(petition, client, commit):
    petition.ask_postcode = True
    petition.save_revision().publish()

    commit(html_sign, client, petition, {**OWNER, "postcode": "SW1A 1AA", "share_postcode_with_officials": "on"})

    assert (row().share_with_officials, row().share_postcode_with_officials) == (False, False)


# --- the consent wording each signature was given ----------------------------------------------


def test_each_signature_records_the_consent_wording_it_was_shown_and_when(petition, client, commit, vendor):
    commit(html_sign, client, petition, {**OWNER, "email": "one@example.org"})
    petition.consent_wording = "Send my name and country to the minister"
    petition.save_revision().publish()
    commit(html_sign, client, petition, {**OWNER, "email": "two@example.org"})

    one, two = row("one@example.org"), row("two@example.org")
    assert one.consent_version != two.consent_version and one.consent_given_at and two.consent_given_at
    old, new = ConsentWording.objects.get(pk=one.consent_version), ConsentWording.objects.get(pk=two.consent_version)
    assert "Pass my name and country on to the officials" in old.text and "minister" not in old.text
    assert "Send my name and country to the minister" in new.text
    assert "Show me in the list of signers as" in new.text and "Email me about this campaign" in new.text
    assert consent_version(new.text) == two.consent_version


def test_the_same_wording_is_stored_once(petition, client, commit):
    for i in range(3):
        commit(html_sign, client, petition, {**OWNER, "email": f"s{i}@example.org"})

    assert ConsentWording.objects.count() == 1
    assert set(Signature.objects.values_list("consent_version", flat=True)) == {ConsentWording.objects.get().pk}


# --- nobody but the signer changes a confirmed signature -----------------------------------------


def test_a_lead_cannot_edit_what_the_signer_gave_in_the_admin(petition, admin_client):
    signature = SignatureFactory(petition=petition, first_name="Vera", verified=True, share_with_officials=False)
    url = reverse("petitions_signatures:edit", args=[signature.pk])

    form = admin_client.get(url).content.decode()
    response = admin_client.post(
        url,
        {
            "first_name": "Edited",
            "share_with_officials": "on",
            "opt_in_updates": "on",
            "show_in_feed": "on",
            "hidden_from_feed": "on",
            "status": "verified",
        },
    )

    assert response.status_code == 302
    assert "Vera" in form and 'name="first_name"' not in form
    signature.refresh_from_db()
    assert (signature.first_name, signature.share_with_officials, signature.opt_in_updates) == ("Vera", False, False)
    assert signature.hidden_from_feed is True  # moderation still works


# --- the privacy notice ----------------------------------------------------------------------------


@pytest.fixture
def site_notice(index_page):
    settings = PetitionPrivacySettings.for_site(Site.objects.get(is_default_site=True))
    settings.notice = "<p>The site's notice: we keep your data for 6 months.</p>"
    settings.save()
    return settings


def test_the_privacy_notice_is_linked_next_to_the_form_and_served_at_a_public_url(petition, site_notice, client):
    html = client.get(petition.url).content.decode()
    url = petition.get_privacy_url()

    assert url == f"http://testserver{petition.url}privacy/"
    assert f'href="{url}"' in html
    notice = client.get(url.removeprefix("http://testserver"))
    assert notice.status_code == 200 and "we keep your data for 6 months" in notice.content.decode()


def test_a_petition_overrides_the_sites_notice(petition, site_notice, client):
    petition.privacy_notice = "<p>This campaign's own notice.</p>"
    petition.save_revision().publish()

    html = client.get(f"{petition.url}privacy/").content.decode()

    assert "This campaign's own notice." in html and "6 months" not in html


def test_a_site_notice_kept_elsewhere_is_linked_where_no_text_is_held(petition, site_notice, client):
    site_notice.notice = ""
    site_notice.url = "https://example.org/privacy"
    site_notice.save()

    detail = client.get(f"/api/petitions/{petition.pk}/").json()

    assert detail["privacy_url"] == "https://example.org/privacy"
    assert 'href="https://example.org/privacy"' in client.get(petition.url).content.decode()


def test_the_api_detail_gives_the_privacy_url(petition, client):
    assert client.get(f"/api/petitions/{petition.pk}/").json()["privacy_url"] == petition.get_privacy_url()


def test_every_email_links_the_privacy_notice(petition, client, commit, mailoutbox, official):
    url = petition.get_privacy_url()
    commit(html_sign, client, petition, {**OWNER, "opt_in_updates": "on", "share_with_officials": "on"})
    verification = mailoutbox[-1]
    assert url in verification.body and url in verification.alternatives[0][0]
    commit(client.post, confirm_url(petition), {"token": make_token(row())})

    petition.milestone_notify_emails = "lead@example.org"
    petition.save_revision().publish()
    milestone = Milestone.objects.create(
        petition=petition, threshold=1, kind=Milestone.Kind.STEP, reached_at=row().verified_at, total_when_recorded=1
    )
    milestones.notify(milestone.pk)
    delivery = commit(deliveries.prepare_delivery, petition, [official])
    commit(deliveries.start_sending, Delivery.objects.get(pk=delivery.pk))

    tags = {message.anymail_test_params["tags"][0]: message for message in mailoutbox}
    assert set(tags) >= {"petition-verification", "petition-milestone", "petition-delivery", "petition-delivery-update"}
    for tag, message in tags.items():
        assert url in message.body, tag


def test_the_site_notice_is_edited_in_the_admin_settings(index_page, admin_client, client):
    site = Site.objects.get(is_default_site=True)
    url = reverse("wagtailsettings:edit", args=["petitions_cms", "petitionprivacysettings", site.pk])

    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"notice": rich_text("<p>Edited in the admin.</p>"), "url": ""})

    assert response.status_code == 302
    assert "Edited in the admin." in PetitionPrivacySettings.for_site(site).notice


def test_confirming_through_the_form_records_the_same_wording_the_sign_form_showed(petition, client, commit):
    commit(html_sign, client, petition, OWNER)
    signed = row()

    commit(client.post, confirm_url(petition), {**OWNER, "token": make_token(signed), "review": "1"})

    confirmed = row()
    assert confirmed.status == Signature.Status.VERIFIED
    assert confirmed.consent_version == signed.consent_version
    assert confirmed.consent_given_at > signed.consent_given_at
