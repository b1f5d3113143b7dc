"""The JSON API: every endpoint's answers, CORS, the Origin check, leads' tokens, and no leaks."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from wagtail.models import APIToken

from cms import reconcile as reconciling
from cms.models import CampaignGrant, Signature
from cms.signing import verify_signature
from cms.tokens import make_token

from .factories import PetitionPageFactory, SignatureFactory
from .factories import lead_token as make_lead_token

pytestmark = pytest.mark.django_db

PARTNER = "https://partner.example"
STRANGER = "https://evil.example"


def sign_url(page, query=""):
    return f"/api/petitions/{page.pk}/signatures/{query}"


def detail_url(page):
    return f"/api/petitions/{page.pk}/"


def count_url(page):
    return f"/api/petitions/{page.pk}/count.json"


@pytest.fixture
def partner_allowed(settings):
    settings.PETITIONS = {**settings.PETITIONS, "ALLOWED_ORIGINS": [PARTNER]}


@pytest.fixture
def api_sign(client, django_capture_on_commit_callbacks):
    """POST a JSON signature, running on-commit callbacks (the email)."""

    def _sign(page, query="", headers=None, **fields):
        body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org", "feed_display": "first"}
        body.update(fields)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                sign_url(page, query),
                json.dumps(body),
                content_type="application/json",
                REMOTE_ADDR="10.0.0.1",
                headers=headers or {},
            )

    return _sign


@pytest.fixture
def reconcile(django_capture_on_commit_callbacks):
    """reconciling.reconcile_counts, with its after-commit publishing to the cache run."""

    def _reconcile(petition):
        with django_capture_on_commit_callbacks(execute=True):
            return reconciling.reconcile_counts([petition.pk])

    return _reconcile


@pytest.fixture
def lead(index_page):
    """May view signatures, of the test campaign (tests/test_lead_scopes.py: of no other)."""
    user = User.objects.create_user("lead", password="not-used")
    user.user_permissions.add(
        Permission.objects.get(codename="view_signature", content_type__app_label="petitions_cms")
    )
    CampaignGrant.objects.create(user=user, campaign=index_page)
    return user


@pytest.fixture
def lead_token(lead):
    return make_lead_token(lead)  # every scope


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def confirm(client, django_capture_on_commit_callbacks, body, headers=None):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(
            "/api/signatures/confirm/", json.dumps(body), content_type="application/json", headers=headers or {}
        )


# --- listing and detail -----------------------------------------------------------------------


def test_the_list_shows_live_petitions_with_their_cached_counts(index_page, petition, client, reconcile):
    PetitionPageFactory(parent=index_page, live=False, title="A draft")
    SignatureFactory.create_batch(2, petition=petition, verified=True)
    reconcile(petition)

    response = client.get("/api/petitions/")

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 1
    [item] = data["items"]
    assert item["id"] == petition.pk
    assert item["title"] == petition.title
    assert item["url"] == f"http://testserver{petition.url}"
    assert (item["count"], item["goal"], item["closes_at"], item["accepting_signatures"]) == (2, 100, None, True)
    assert item["links"]["count"] == f"http://testserver/api/petitions/{petition.pk}/count.json"
    assert "public" in response["Cache-Control"]


def test_the_list_is_paginated(index_page, petition, client):
    PetitionPageFactory.create_batch(2, parent=index_page)

    first = client.get("/api/petitions/?limit=2").json()
    second = client.get(first["next"]).json()

    assert first["count"] == 3 and len(first["items"]) == 2 and first["previous"] is None
    assert len(second["items"]) == 1 and second["next"] is None
    assert {i["id"] for i in first["items"] + second["items"]} == set(
        PetitionPageFactory._meta.model.objects.values_list("pk", flat=True)
    )
    assert client.get("/api/petitions/?limit=1000").status_code == 400


def test_the_detail_has_countries_recent_signers_the_form_and_live_blocks(petition, client, official, reconcile):
    SignatureFactory.create_batch(2, petition=petition, verified=True, country="GB", first_name="Grace")
    SignatureFactory(petition=petition, verified=True, country="FR", first_name="Hidden", show_in_feed=False)
    reconcile(petition)

    response = client.get(detail_url(petition), {"rich_text_format": "html"})

    assert response.status_code == 200
    data = response.json()
    assert (data["count"], data["goal"], data["accepting_signatures"], data["refusal"]) == (3, 100, True, "")
    assert data["countries"] == [
        {"country": "GB", "name": "United Kingdom", "count": 2},
        {"country": "FR", "name": "France", "count": 1},
    ]
    assert [s["name"] for s in data["recent_signers"]] == ["Grace", "Grace"]
    assert {f["name"] for f in data["form"]} == {
        "first_name", "last_name", "email", "country", "feed_display", "share_with_officials", "opt_in_updates"
    }  # fmt: skip
    assert data["consent_wording"] == petition.consent_wording
    assert data["privacy_url"] == petition.get_privacy_url()
    blocks = {block["type"]: block["value"] for block in data["body"]}
    assert (blocks["counter"]["count"], blocks["counter"]["goal"], blocks["counter"]["percent"]) == (3, 100, 3)
    assert [entry["name"] for entry in blocks["signer_feed"]["entries"]] == ["Grace", "Grace"]
    assert blocks["sign_form"]["accepting"] is True
    assert blocks["letter"]["salutation"] == "Dear Secretary Blinken,"
    assert blocks["letter"]["officials"] == [
        {"id": official.pk, "name": official.name, "title": official.title, "organisation": official.organisation}
    ]
    assert blocks["text"] == "<p>Campaign text.</p>"
    assert [link["network"] for link in blocks["share_links"]["links"]] == ["email", "x"]


def test_the_form_description_follows_the_page_settings(index_page, client):
    petition = PetitionPageFactory(parent=index_page, ask_last_name=False, ask_country=False, ask_postcode=True)

    fields = {f["name"]: f for f in client.get(detail_url(petition)).json()["form"]}

    assert "last_name" not in fields and "country" not in fields
    assert fields["postcode"] == {
        "name": "postcode", "label": "Postcode", "type": "text", "required": False, "max_length": 20,
        "choices": None, "initial": None, "help": None,
    }  # fmt: skip
    assert fields["feed_display"]["initial"] is None and fields["feed_display"]["required"]  # the signer picks
    assert fields["email"]["type"] == "email" and fields["email"]["required"]


def test_a_closed_petition_says_why_it_accepts_no_signatures(index_page, client):
    petition = PetitionPageFactory(parent=index_page, closed=True)

    data = client.get(detail_url(petition)).json()

    assert data["accepting_signatures"] is False
    assert "closed" in data["refusal"]


@pytest.mark.parametrize("path", ["/api/petitions/{missing}/", "/api/petitions/{index}/", "/api/petitions/{draft}/"])
def test_only_live_petitions_are_found(index_page, petition, client, path):
    draft = PetitionPageFactory(parent=index_page, live=False)
    url = path.format(missing=petition.pk + 1000, index=index_page.pk, draft=draft.pk)

    response = client.get(url)

    assert response.status_code == 404
    assert response.json() == {"detail": "No such petition.", "code": "not_found"}


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "99999999999999999999"])
def test_a_malformed_id_is_a_400_with_the_field_named(client, bad, db):
    response = client.get(f"/api/petitions/{bad}/")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "id" in response.json()["errors"]


# --- the count ---------------------------------------------------------------------------------


def test_the_count_runs_no_query_and_a_repeat_with_its_etag_is_a_304(
    petition, client, django_assert_num_queries, partner_allowed, reconcile
):
    SignatureFactory.create_batch(3, petition=petition, verified=True)
    reconcile(petition)

    with django_assert_num_queries(0):
        first = client.get(count_url(petition), headers={"Origin": PARTNER})
        again = client.get(count_url(petition), headers={"If-None-Match": first["ETag"], "Origin": PARTNER})

    assert first.status_code == 200
    assert first.json() == {"id": petition.pk, "count": 3, "goal": 100}
    assert first["Cache-Control"] == "public, max-age=2, stale-while-revalidate=30, stale-if-error=86400"
    assert first["Access-Control-Allow-Origin"] == PARTNER
    assert "Origin" in first["Vary"]
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]


def test_the_count_of_something_else_is_a_json_404(index_page, client):
    response = client.get(count_url(index_page))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- signing -----------------------------------------------------------------------------------


def test_signing_stores_a_pending_signature_and_sends_the_email(petition, api_sign, mailoutbox):
    response = api_sign(petition, query="?source=partner-x", share_with_officials=True, country="GB")

    assert response.status_code == 202
    assert response.json()["status"] == "accepted"
    signature = Signature.objects.get()
    assert (signature.status, signature.source, signature.country) == (Signature.Status.PENDING, "partner-x", "GB")
    assert signature.share_with_officials and signature.show_in_feed
    assert [m.to for m in mailoutbox] == [["ada@example.org"]]


def test_a_source_in_the_body_is_recorded_too(petition, api_sign):
    api_sign(petition, source="newsletter")

    assert Signature.objects.get().source == "newsletter"


def test_the_answer_is_the_same_whether_the_address_had_signed_before(petition, api_sign, mailoutbox):
    first = api_sign(petition, email="ada@example.org")
    again = api_sign(petition, email=" ADA@example.org ", first_name="Someone else")
    Signature.objects.update(status=Signature.Status.VERIFIED, verified_at=timezone.now())
    verified = api_sign(petition, email="ada@example.org", first_name="Mallory")

    assert first.status_code == again.status_code == verified.status_code == 202
    assert first.content == again.content == verified.content
    # The latest while pending (tests/test_consent.py); never changed once verified.
    assert Signature.objects.get().first_name == "Someone else"
    assert len(mailoutbox) == 1


def test_the_four_addresses_of_one_gmail_inbox_make_one_signature(petition, api_sign, mailoutbox):
    # The security finding: ada@, a.da@, ada+1@gmail.com and a.d.a+x@googlemail.com made 4 signatures.
    addresses = ["ada@gmail.com", "a.da@gmail.com", "ada+1@gmail.com", "a.d.a+x@googlemail.com"]
    responses = [api_sign(petition, email=address) for address in addresses]

    assert [response.status_code for response in responses] == [202] * 4
    assert len({response.content for response in responses}) == 1  # nothing tells a repeat apart
    assert list(Signature.objects.values_list("email", "email_normalized")) == [("ada@gmail.com", "ada@gmail.com")]
    assert len(mailoutbox) == 1


def test_a_disposable_address_is_a_400_naming_the_email_and_stores_nothing(petition, api_sign, mailoutbox):
    response = api_sign(petition, email="ada@mailinator.com")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["errors"]["email"] == [
        "mailinator.com gives out disposable addresses, which cannot sign: please use an address you keep."
    ]
    assert not Signature.objects.exists()
    assert mailoutbox == []


def test_without_a_feed_choice_nothing_is_stored(petition, api_sign):
    response = api_sign(petition, feed_display=None)

    assert response.status_code == 400 and "feed_display" in response.json()["errors"]
    assert not Signature.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "ada-at-example.org"}, "email"),
        ({"email": "ada@" + ".".join(["äöüéèêëïîôûçñ"] * 12) + ".de"}, "email"),  # too long in ASCII
        ({"first_name": "   "}, "first_name"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"first_name": "Ada\r\nBcc: x@example.org"}, "first_name"),
        ({"country": "XX"}, "country"),
        ({"first_name": 42}, "first_name"),
        ({"first_name": None}, "first_name"),
        ({"feed_display": "everyone"}, "feed_display"),
        ({"share_with_officials": "maybe"}, "share_with_officials"),
    ],
)
def test_bad_fields_are_a_400_naming_them_and_store_nothing(petition, api_sign, mailoutbox, fields, field):
    response = api_sign(petition, **fields)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert not Signature.objects.exists()
    assert mailoutbox == []


def test_a_missing_email_is_a_400(petition, client):
    response = client.post(sign_url(petition), {"first_name": "Ada"}, content_type="application/json")

    assert response.status_code == 400
    assert "email" in response.json()["errors"]


def test_a_body_that_is_not_json_is_a_400_and_a_form_post_a_415(petition, client):
    not_json = client.post(sign_url(petition), "{nope", content_type="application/json")
    not_an_object = client.post(sign_url(petition), "[1, 2]", content_type="application/json")
    form = client.post(sign_url(petition), {"first_name": "Ada", "email": "ada@example.org"})

    assert (not_json.status_code, not_an_object.status_code, form.status_code) == (400, 400, 415)
    assert form.json()["code"] == "unsupported_media_type"
    assert not Signature.objects.exists()


def test_a_field_the_petition_does_not_ask_for_is_ignored(petition, api_sign):
    api_sign(petition, postcode="SW1A 1AA", unknown="ignored")

    assert Signature.objects.get().postcode == ""


def test_a_bot_filling_the_honeypot_gets_the_same_answer_and_stores_nothing(petition, api_sign, mailoutbox):
    response = api_sign(petition, website="http://spam.example")

    assert response.status_code == 202
    assert not Signature.objects.exists()
    assert mailoutbox == []


@pytest.mark.parametrize(("trait", "status", "code"), [("not_yet_open", 409, "not_open"), ("closed", 410, "closed")])
def test_a_petition_outside_its_window_refuses(index_page, api_sign, trait, status, code):
    petition = PetitionPageFactory(parent=index_page, **{trait: True})

    response = api_sign(petition)

    assert response.status_code == status
    assert response.json()["code"] == code
    assert not Signature.objects.exists()


def test_signing_an_unknown_petition_is_a_404(petition, client):
    response = client.post(f"/api/petitions/{petition.pk + 1000}/signatures/", "{}", content_type="application/json")

    assert response.status_code == 404


def test_the_rate_limit_answers_429_with_retry_after_that_a_partner_page_can_read(
    petition, api_sign, settings, partner_allowed
):
    settings.PETITIONS = {**settings.PETITIONS, "RATE_LIMIT": 2, "RATE_LIMIT_WINDOW": 60}

    answers = [api_sign(petition, email=f"s{i}@example.org", headers={"Origin": PARTNER}) for i in range(3)]

    assert [a.status_code for a in answers] == [202, 202, 429]
    assert 0 < int(answers[2]["Retry-After"]) <= 60
    assert answers[2].json()["code"] == "rate_limited"
    assert "Retry-After" in answers[2]["Access-Control-Expose-Headers"]
    assert (
        "Retry-After" in answers[2]["Access-Control-Expose-Headers"]
        if "Access-Control-Expose-Headers" in answers[2]
        else True
    )
    assert Signature.objects.count() == 2


def test_invalid_attempts_count_towards_the_rate_limit_too(petition, api_sign, settings):
    settings.PETITIONS = {**settings.PETITIONS, "RATE_LIMIT": 1}

    api_sign(petition, email="not-an-address")

    assert api_sign(petition).status_code == 429


# --- the Origin check and CORS --------------------------------------------------------------------


def test_a_page_on_another_origin_cannot_make_a_browser_sign(petition, api_sign, mailoutbox):
    response = api_sign(petition, headers={"Origin": STRANGER})

    assert response.status_code == 403
    assert response.json()["code"] == "origin_refused"
    assert "Access-Control-Allow-Origin" not in response
    assert not Signature.objects.exists()
    assert mailoutbox == []


def test_a_referer_from_another_origin_is_refused_when_there_is_no_origin(petition, api_sign):
    response = api_sign(petition, headers={"Referer": f"{STRANGER}/page"})

    assert response.status_code == 403


def test_an_allowed_origin_may_sign_and_read_the_answer(petition, api_sign, partner_allowed):
    response = api_sign(petition, query="?source=partner-x", headers={"Origin": PARTNER})

    assert response.status_code == 202
    assert response["Access-Control-Allow-Origin"] == PARTNER
    assert Signature.objects.get().source == "partner-x"


def test_the_sites_own_origin_may_sign(petition, api_sign):
    assert api_sign(petition, headers={"Origin": "http://testserver"}).status_code == 202


@pytest.mark.parametrize(
    "headers",
    [{}, {"Referer": f"{PARTNER}/article"}, {"Origin": "http://testserver"}, {"Origin": STRANGER}],
    ids=["no origin", "allowed referer", "own origin", "another origin"],
)
def test_a_cross_site_post_whose_origin_is_not_an_allowed_partner_is_refused(
    petition, api_sign, client, django_capture_on_commit_callbacks, partner_allowed, mailoutbox, headers
):
    pending = SignatureFactory(petition=petition, email="pending@example.org")
    cross_site = {"Sec-Fetch-Site": "cross-site", **headers}

    signed = api_sign(petition, headers=cross_site)
    confirmed = confirm(client, django_capture_on_commit_callbacks, {"token": make_token(pending)}, cross_site)

    for response in (signed, confirmed):
        assert response.status_code == 403
        assert response.json() == {
            "detail": "Signatures are not accepted from this origin: ask the site to add it to its allowed origins.",
            "code": "origin_refused",
        }
    assert list(Signature.objects.values_list("email", "status")) == [("pending@example.org", "pending")]
    assert mailoutbox == []


def test_a_cross_site_post_from_an_allowed_partner_still_signs_and_confirms(
    petition, api_sign, client, django_capture_on_commit_callbacks, partner_allowed
):
    pending = SignatureFactory(petition=petition, email="pending@example.org")
    cross_site = {"Sec-Fetch-Site": "cross-site", "Origin": PARTNER}

    signed = api_sign(petition, headers=cross_site)
    confirmed = confirm(client, django_capture_on_commit_callbacks, {"token": make_token(pending)}, cross_site)

    assert signed.status_code == 202
    assert signed["Access-Control-Allow-Origin"] == PARTNER
    assert confirmed.status_code == 200
    assert Signature.objects.get(email="pending@example.org").status == Signature.Status.VERIFIED
    assert Signature.objects.filter(email="ada@example.org").exists()


@pytest.mark.parametrize("fetch_site", ["same-origin", "same-site", "none"])
def test_a_same_site_or_direct_post_keeps_the_origin_rule(petition, api_sign, fetch_site):
    assert api_sign(petition, headers={"Sec-Fetch-Site": fetch_site, "Origin": "http://testserver"}).status_code == 202
    assert api_sign(petition, headers={"Sec-Fetch-Site": fetch_site, "Origin": STRANGER}).status_code == 403
    assert api_sign(petition, headers={"Sec-Fetch-Site": fetch_site}).status_code == 202


def test_a_preflight_from_an_allowed_origin_is_granted(petition, client, partner_allowed):
    response = client.options(
        sign_url(petition),
        headers={
            "Origin": PARTNER,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == PARTNER
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Content-Type" in response["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response


def test_a_preflight_from_another_origin_is_refused(petition, client, partner_allowed):
    response = client.options(sign_url(petition), headers={"Origin": STRANGER, "Access-Control-Request-Method": "POST"})

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response


def test_reads_grant_allowed_origins_only(petition, client, partner_allowed):
    allowed = client.get(detail_url(petition), headers={"Origin": PARTNER})
    other = client.get(detail_url(petition), headers={"Origin": STRANGER})

    assert allowed["Access-Control-Allow-Origin"] == PARTNER
    assert "Access-Control-Allow-Origin" not in other
    assert "Origin" in other["Vary"]


def test_anonymous_posts_need_no_csrf_token(petition, django_capture_on_commit_callbacks):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    body = json.dumps({"first_name": "Ada", "email": "ada@example.org", "feed_display": "hidden"})

    assert client.post(sign_url(petition), body, content_type="application/json").status_code == 202


# --- confirming ----------------------------------------------------------------------------------


def test_confirming_with_the_token_counts_the_signature_once(petition, client, django_capture_on_commit_callbacks):
    signature = SignatureFactory(petition=petition)
    token = make_token(signature)

    first = confirm(client, django_capture_on_commit_callbacks, {"token": token})
    again = confirm(client, django_capture_on_commit_callbacks, {"token": token, "petition_id": petition.pk})

    assert (first.status_code, first.json()["status"]) == (200, "verified")
    assert (again.status_code, again.json()["status"]) == (200, "already_verified")
    assert first.json()["petition_id"] == petition.pk
    signature.refresh_from_db()
    assert signature.status == Signature.Status.VERIFIED
    assert client.get(count_url(petition)).json()["count"] == 1


def test_the_emailed_link_confirms_a_signature_made_through_the_api(
    petition, api_sign, mailoutbox, client, django_capture_on_commit_callbacks
):
    import re
    from urllib.parse import unquote

    api_sign(petition)
    link = re.search(r"http://testserver(\S+/confirm/\?token=(\S+))", mailoutbox[0].body)

    assert client.get(link.group(1)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("petitions:confirm", args=[petition.pk]), {"token": unquote(link.group(2))})
    assert Signature.objects.get().status == Signature.Status.VERIFIED


@pytest.mark.parametrize("token", ["", "garbage", "a:b:c"])
def test_a_token_that_is_not_valid_is_a_400(petition, client, django_capture_on_commit_callbacks, token):
    response = confirm(client, django_capture_on_commit_callbacks, {"token": token})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"


def test_a_token_for_another_petition_is_a_400(index_page, petition, client, django_capture_on_commit_callbacks):
    other = PetitionPageFactory(parent=index_page)
    token = make_token(SignatureFactory(petition=petition))

    response = confirm(client, django_capture_on_commit_callbacks, {"token": token, "petition_id": other.pk})

    assert response.status_code == 400
    assert Signature.objects.get().status == Signature.Status.PENDING


def test_an_expired_token_is_a_410(petition, client, django_capture_on_commit_callbacks, settings):
    token = make_token(SignatureFactory(petition=petition))
    settings.PETITIONS = {**settings.PETITIONS, "VERIFY_TOKEN_MAX_AGE": -1}

    response = confirm(client, django_capture_on_commit_callbacks, {"token": token})

    assert response.status_code == 410
    assert response.json()["code"] == "expired_token"


def test_a_token_of_a_signature_marked_fraudulent_is_a_400(petition, client, django_capture_on_commit_callbacks):
    signature = SignatureFactory(petition=petition, status=Signature.Status.FRAUDULENT)

    response = confirm(client, django_capture_on_commit_callbacks, {"token": make_token(signature)})

    assert response.status_code == 400


def test_confirming_from_another_origin_is_refused(petition, client, django_capture_on_commit_callbacks):
    signature = SignatureFactory(petition=petition)

    response = confirm(
        client, django_capture_on_commit_callbacks, {"token": make_token(signature)}, {"Origin": STRANGER}
    )

    assert response.status_code == 403
    assert Signature.objects.get().status == Signature.Status.PENDING


def test_a_confirm_body_without_a_token_is_a_400(client, db):
    response = client.post("/api/signatures/confirm/", "{}", content_type="application/json")

    assert response.status_code == 400
    assert "token" in response.json()["errors"]


# --- the leads' export -----------------------------------------------------------------------------


def export_url(petition, query=""):
    return f"/api/petitions/{petition.pk}/signatures/{query}"


def test_the_export_needs_a_token(petition, client):
    response = client.get(export_url(petition))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer wagtail_nope", "Token abc", "Bearer "])
def test_the_export_refuses_an_unknown_token(petition, client, header):
    assert client.get(export_url(petition), headers={"Authorization": header}).status_code == 401


def test_the_export_refuses_a_token_whose_user_may_not_view_signatures(petition, client):
    user = User.objects.create_user("editor", password="not-used")
    token = APIToken.create_token(user=user, name="x")[1]

    response = client.get(export_url(petition), headers=bearer(token))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_a_revoked_token_is_refused(petition, client, lead):
    api_token, token = APIToken.create_token(user=lead, name="old")
    api_token.revoke()

    assert client.get(export_url(petition), headers=bearer(token)).status_code == 401


def test_a_session_does_not_stand_in_for_a_token(petition, client, admin_user):
    client.force_login(admin_user)

    assert client.get(export_url(petition)).status_code == 401


def test_the_export_pages_through_verified_signatures_without_emails(petition, client, lead_token):
    now = timezone.now()
    for i in range(3):
        SignatureFactory(petition=petition, verified=True, verified_at=now - timedelta(minutes=3 - i), source="x")
    SignatureFactory(petition=petition)  # pending: not exported

    first = client.get(export_url(petition, "?limit=2"), headers=bearer(lead_token))
    second = client.get(first.json()["next"], headers=bearer(lead_token))
    later = client.get(export_url(petition, f"?cursor={second.json()['next_cursor']}"), headers=bearer(lead_token))

    assert first.status_code == 200
    assert "no-store" in first["Cache-Control"] and "private" in first["Cache-Control"]
    page1, page2 = first.json(), second.json()
    assert (len(page1["items"]), page1["has_more"], len(page2["items"]), page2["has_more"]) == (2, True, 1, False)
    verified = list(Signature.objects.filter(status="verified").order_by("verified_at").values_list("pk", flat=True))
    assert [s["id"] for s in page1["items"] + page2["items"]] == verified
    assert set(page1["items"][0]) == {
        "id", "petition_id", "first_name", "last_name", "country", "verified_at", "share_with_officials", "source"
    }  # fmt: skip
    assert "@" not in first.content.decode() + second.content.decode()
    assert later.json()["items"] == [] and later.json()["next_cursor"] == page2["next_cursor"]


def test_the_export_accepts_the_osdi_token_header(petition, client, lead_token):
    assert client.get(export_url(petition), headers={"OSDI-API-Token": lead_token}).status_code == 200


def test_a_cursor_that_is_not_ours_is_a_400(petition, client, lead_token):
    forged = signing.dumps(["yesterday", "x"], salt="petitions.export-cursor")
    for cursor in ("nonsense", forged):
        response = client.get(export_url(petition, f"?cursor={cursor}"), headers=bearer(lead_token))
        assert response.status_code == 400
        assert "cursor" in response.json()["errors"]


def test_the_csv_export_streams_every_verified_signature_without_emails(petition, client, lead_token):
    SignatureFactory(petition=petition, verified=True, first_name="=HYPERLINK(1)", share_with_officials=True)
    SignatureFactory(petition=petition, verified=True, first_name="Grace")
    SignatureFactory(petition=petition)

    response = client.get(f"/api/petitions/{petition.pk}/signatures.csv", headers=bearer(lead_token))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["first_name"] for row in rows] == ["'=HYPERLINK(1)", "Grace"]
    assert rows[0]["share_with_officials"] == "True"
    assert "@" not in body


def test_the_csv_export_needs_a_token(petition, client):
    assert client.get(f"/api/petitions/{petition.pk}/signatures.csv").status_code == 401


def test_a_lead_may_export_a_closed_or_unpublished_petition(index_page, client, lead_token):
    petition = PetitionPageFactory(parent=index_page, live=False)
    SignatureFactory(petition=petition, verified=True)

    response = client.get(export_url(petition), headers=bearer(lead_token))

    assert len(response.json()["items"]) == 1


# --- OSDI --------------------------------------------------------------------------------------------


def test_the_osdi_entry_point_links_the_petitions(client, db):
    data = client.get("/api/osdi/v1/").json()

    assert data["_links"]["osdi:petitions"]["href"] == "http://testserver/api/osdi/v1/petitions/"
    assert data["_links"]["curies"][0]["name"] == "osdi"


def test_osdi_petitions_are_hal_resources(petition, client, official, reconcile):
    SignatureFactory(petition=petition, verified=True)
    reconcile(petition)

    collection = client.get("/api/osdi/v1/petitions/").json()
    [resource] = collection["_embedded"]["osdi:petitions"]

    assert (collection["total_records"], collection["total_pages"], collection["page"]) == (1, 1, 1)
    assert resource["identifiers"] == [f"wagtail_petitions:{petition.pk}"]
    assert resource["total_signatures"] == 1
    assert resource["target"] == [
        {"name": official.name, "title": official.title, "organization": official.organisation}
    ]
    assert "We, the undersigned" in resource["petition_text"]
    links = resource["_links"]
    assert links["self"]["href"] == f"http://testserver/api/osdi/v1/petitions/{petition.pk}/"
    assert links["osdi:record_signature_helper"]["href"] == links["osdi:signatures"]["href"]
    assert client.get(links["self"]["href"]).json()["title"] == petition.title
    assert "@" not in json.dumps(collection)


def test_osdi_signatures_are_for_leads_only_and_carry_no_email(petition, client, lead_token):
    SignatureFactory(petition=petition, verified=True, country="GB", source="crm")
    url = f"/api/osdi/v1/petitions/{petition.pk}/signatures/"

    refused = client.get(url)
    data = client.get(url, headers={"OSDI-API-Token": lead_token}).json()

    assert refused.status_code == 401
    [signature] = data["_embedded"]["osdi:signatures"]
    person = signature["_embedded"]["osdi:person"]
    assert person["postal_addresses"] == [{"country": "GB", "primary": True}]
    assert signature["referrer_data"] == {"source": "crm"}
    assert "@" not in json.dumps(data)


def test_the_osdi_record_signature_helper_signs_like_the_form(
    petition, client, django_capture_on_commit_callbacks, mailoutbox
):
    body = {
        "person": {
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email_addresses": [{"address": "ada@example.org", "primary": True}],
            "postal_addresses": [{"country": "GB"}],
        },
        "referrer_data": {"source": "crm-import"},
        "custom_fields": {"share_with_officials": True},
    }
    url = f"/api/osdi/v1/petitions/{petition.pk}/signatures/"
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, json.dumps(body), content_type="application/json")
        again = client.post(url, json.dumps(body), content_type="application/json")
        missing = client.post(url, json.dumps({"person": {"given_name": "Ada"}}), content_type="application/json")

    assert first.status_code == again.status_code == 202
    assert first.content == again.content
    signature = Signature.objects.get()
    assert (signature.status, signature.source, signature.country) == ("pending", "crm-import", "GB")
    assert signature.share_with_officials
    assert len(mailoutbox) == 1
    assert missing.status_code == 400


def test_a_leads_token_lifts_the_rate_limit_on_the_osdi_helper(petition, client, lead_token, settings):
    settings.PETITIONS = {**settings.PETITIONS, "RATE_LIMIT": 1}
    url = f"/api/osdi/v1/petitions/{petition.pk}/signatures/"

    def record(n, headers):
        person = {"given_name": "A", "email_addresses": [{"address": f"a{n}@example.org"}]}
        return client.post(url, json.dumps({"person": person}), content_type="application/json", headers=headers)

    assert [record(n, {}).status_code for n in range(2)] == [202, 429]
    assert [record(n, {"OSDI-API-Token": lead_token}).status_code for n in range(2, 4)] == [202, 202]


# --- nothing leaks ---------------------------------------------------------------------------------


def test_no_public_answer_holds_an_email_address(petition, official, client, api_sign, reconcile):
    api_sign(petition, email="secret-signer@example.org")
    verify_signature(petition, make_token(Signature.objects.get()))
    reconcile(petition)
    official_email = official.email

    answers = [
        client.get("/api/petitions/"),
        client.get(detail_url(petition)),
        client.get(count_url(petition)),
        client.get("/api/osdi/v1/petitions/"),
        client.get(f"/api/osdi/v1/petitions/{petition.pk}/"),
        client.get("/api/openapi.json"),
        api_sign(petition, email="secret-signer@example.org"),
    ]

    for answer in answers:
        text = answer.content.decode()
        assert "secret-signer" not in text, answer.request["PATH_INFO"]
        assert official_email not in text, answer.request["PATH_INFO"]


# --- the schema ----------------------------------------------------------------------------------------


def test_the_openapi_schema_is_served_and_valid(client, db):
    from openapi_spec_validator import validate

    response = client.get("/api/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    assert {
        "/api/petitions/",
        "/api/petitions/{id}/",
        "/api/petitions/{id}/count.json",
        "/api/petitions/{id}/signatures/",
        "/api/signatures/confirm/",
        "/api/petitions/{id}/signatures.csv",
        "/api/petitions/{id}/deliveries/",
        "/api/osdi/v1/",
        "/api/osdi/v1/petitions/",
        "/api/osdi/v1/petitions/{id}/",
        "/api/osdi/v1/petitions/{id}/signatures/",
    } <= set(schema["paths"])


# --- delivery status (campaign leads) --------------------------------------------------------------


@pytest.fixture
def delivered_petition(index_page, official, django_capture_on_commit_callbacks):
    from cms import deliveries
    from cms.models import DeliveryRecipient, OfficialResponse

    from .factories import petition_body

    body = json.loads(petition_body([official.pk]))
    body.append({"type": "updates", "value": {"heading": "Updates", "show_deliveries": True, "show_responses": True}})
    petition = PetitionPageFactory(parent=index_page, body=json.dumps(body))
    SignatureFactory(petition=petition, verified=True)
    with django_capture_on_commit_callbacks(execute=True):
        reconciling.reconcile_counts([petition.pk])
        delivery = deliveries.prepare_delivery(petition, [official], include_list=False)
    with django_capture_on_commit_callbacks(execute=True):
        deliveries.start_sending(delivery)
    DeliveryRecipient.objects.filter(delivery=delivery).update(error=f"Mailbox {official.email} is full")
    OfficialResponse.objects.create(
        petition=petition, official=official, responded_on="2026-11-20", text="<p>We will review.</p>"
    )
    return petition


def test_a_lead_sees_each_deliverys_send_status_without_addresses(
    delivered_petition, official, client, lead, lead_token
):
    lead.user_permissions.add(Permission.objects.get(codename="view_delivery"))

    response = client.get(f"/api/petitions/{delivered_petition.pk}/deliveries/", headers=bearer(lead_token))

    assert response.status_code == 200
    [delivery] = response.json()["items"]
    assert (delivery["status"], delivery["trigger"], delivery["total"]) == ("sent", "manual", 1)
    [recipient] = delivery["recipients"]
    assert (recipient["name"], recipient["status"], recipient["attempts"]) == (str(official), "sent", 1)
    assert recipient["error"] == "Mailbox [address] is full"
    assert official.email not in response.content.decode()


def test_delivery_status_needs_a_token_and_the_delivery_permission(delivered_petition, client, lead_token):
    url = f"/api/petitions/{delivered_petition.pk}/deliveries/"

    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer(lead_token)).status_code == 403  # view_signature alone is not enough


def test_the_updates_block_carries_the_public_trace(delivered_petition, official, client):
    blocks = {b["type"]: b["value"] for b in client.get(detail_url(delivered_petition)).json()["body"]}

    [delivery] = blocks["updates"]["deliveries"]
    assert (delivery["officials"], delivery["total"]) == ([str(official)], 1)
    [response] = blocks["updates"]["responses"]
    assert (response["official"], response["responded_on"], response["text"]) == (
        str(official), "2026-11-20", "<p>We will review.</p>"
    )  # fmt: skip
