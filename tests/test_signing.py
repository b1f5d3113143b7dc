import pytest
from django.db import transaction

from cms import signing, views
from cms.models import Signature
from cms.tokens import make_token

from .conftest import confirm_url, sign_url
from .factories import SignatureFactory

pytestmark = pytest.mark.django_db


def test_signing_stores_a_pending_signature_and_redirects_to_check_your_email(petition, sign, mailoutbox):
    response = sign(petition, email="ada@example.org")

    assert response.status_code == 302
    assert response["Location"] == petition.url + "signed/"
    signature = Signature.objects.get()
    assert signature.status == Signature.Status.PENDING
    assert signature.petition_id == petition.pk
    assert len(mailoutbox) == 1


def test_one_signature_per_petition_and_email_folds_case_and_whitespace(petition, sign):
    sign(petition, email="ada@example.org")
    sign(petition, email="  ADA@Example.ORG ", first_name="Someone else")

    assert Signature.objects.count() == 1
    # While pending, the latest submission's name replaces the first (tests/test_consent.py);
    # the address stays the one first typed, where the link went.
    assert Signature.objects.get().first_name == "Someone else"
    assert Signature.objects.get().email == "ada@example.org"


#: One Gmail inbox typed four ways (the security finding): one signature.
ONE_GMAIL_INBOX = ["ada@gmail.com", "a.da@gmail.com", "ada+1@gmail.com", "a.d.a+x@googlemail.com"]


def test_one_gmail_inbox_typed_four_ways_signs_once_and_keeps_the_first_address(petition, sign, mailoutbox):
    for address in ONE_GMAIL_INBOX:
        assert sign(petition, email=address).status_code == 302

    signature = Signature.objects.get()
    assert (signature.email, signature.email_normalized) == ("ada@gmail.com", "ada@gmail.com")
    assert [message.to for message in mailoutbox] == [["ada@gmail.com"]]


def test_the_address_as_typed_is_the_one_stored_and_mailed(petition, sign, mailoutbox):
    sign(petition, email=" A.Da+petitions@GoogleMail.com ")

    signature = Signature.objects.get()
    assert signature.email == "A.Da+petitions@GoogleMail.com"
    assert signature.email_normalized == "ada@gmail.com"
    assert [message.to for message in mailoutbox] == [["A.Da+petitions@GoogleMail.com"]]


def test_a_disposable_address_is_a_400_with_a_field_error_and_stores_nothing(petition, sign, mailoutbox):
    response = sign(petition, email="ada@mailinator.com")

    assert response.status_code == 400
    assert "disposable addresses, which cannot sign" in response.content.decode()
    assert not Signature.objects.exists()
    assert mailoutbox == []


def test_the_same_email_may_sign_another_petition(index_page, petition, sign):
    from .factories import PetitionPageFactory

    other = PetitionPageFactory(parent=index_page)
    sign(petition)
    sign(other)

    assert Signature.objects.count() == 2


def test_the_answer_is_the_same_whether_the_email_had_signed_before(petition, sign, client):
    first = sign(petition, email="ada@example.org")
    again = sign(petition, email="ada@example.org")
    page_after = client.get(again["Location"])

    assert (first.status_code, first["Location"]) == (again.status_code, again["Location"])
    assert "Check your email" in page_after.content.decode()


def test_signing_again_while_pending_resends_only_after_the_interval(petition, sign, mailoutbox, settings):
    sign(petition)
    sign(petition)
    assert len(mailoutbox) == 1

    settings.PETITIONS = {**settings.PETITIONS, "RESEND_MIN_INTERVAL": 0}
    sign(petition)
    assert len(mailoutbox) == 2


def test_a_pending_signature_with_no_email_request_on_record_is_mailed_when_signed_again(petition, sign, mailoutbox):
    sign(petition)
    Signature.objects.update(email_requested_at=None)  # a row from before the outbox recorded requests

    sign(petition)

    assert len(mailoutbox) == 2
    assert Signature.objects.get().email_requested_at is not None


def test_a_verified_signer_signing_again_gets_no_email(petition, sign, mailoutbox):
    sign(petition)
    Signature.objects.get().verify()
    sign(petition)

    assert len(mailoutbox) == 1


@pytest.mark.parametrize("trait", ["closed", "not_yet_open"])
def test_a_petition_outside_its_signing_window_refuses_with_a_clear_message(index_page, sign, mailoutbox, trait):
    from .factories import PetitionPageFactory

    petition = PetitionPageFactory(parent=index_page, **{trait: True})
    response = sign(petition)

    assert response.status_code == 403
    body = response.content.decode()
    assert "closed" in body if trait == "closed" else "opens for signatures" in body
    assert not Signature.objects.exists()
    assert mailoutbox == []


def test_an_unpublished_petition_refuses_signatures(petition, sign):
    petition.unpublish()
    response = sign(petition)

    assert response.status_code == 404
    assert not petition.signing_status()
    assert "not published" in petition.signing_status().message
    assert not Signature.objects.exists()


def test_a_rolled_back_sign_sends_no_email(petition, mailoutbox, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        signing.sign_petition(petition, {"first_name": "Ada", "email": "ada@example.org"})
        raise RuntimeError("the request failed after the insert")

    assert callbacks == []
    assert mailoutbox == []
    assert not Signature.objects.exists()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("first_name", "x" * 101, "at most 100 characters"),
        ("first_name", "", "This field is required"),
        ("first_name", "Ada\nBcc: x@example.org", "line breaks"),
        ("email", "not-an-email", "valid email address"),
        ("email", "a" * 250 + "@example.org", "at most 254 characters"),
        ("last_name", "y" * 5000, "at most 100 characters"),
        ("country", "ZZ", "Select a valid choice"),
        ("email", "ada@example.org\x00", "Null characters are not allowed"),
        ("email", "ada@" + ".".join(["äöüéèêëïîôûçñ"] * 12) + ".de", "once its domain is written in ASCII"),
    ],
)
def test_bad_input_gets_a_form_error_not_a_500(petition, sign, field, value, message):
    response = sign(petition, **{field: value})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Signature.objects.exists()


def test_a_filled_honeypot_stores_nothing_but_answers_the_same(petition, sign, mailoutbox):
    response = sign(petition, website="http://spam.example")

    assert response.status_code == 302
    assert not Signature.objects.exists()
    assert mailoutbox == []


def test_too_many_signs_from_one_address_get_429_with_retry_after(petition, sign, settings):
    settings.PETITIONS = {**settings.PETITIONS, "RATE_LIMIT": 2}
    codes = [sign(petition, email=f"p{i}@example.org", REMOTE_ADDR="10.1.1.1").status_code for i in range(3)]

    assert codes == [302, 302, 429]
    response = sign(petition, email="p9@example.org", REMOTE_ADDR="10.1.1.1")
    assert 0 < int(response["Retry-After"]) <= 60
    assert Signature.objects.count() == 2


def test_the_rate_limit_allow_list_lets_an_address_through_in_debug(petition, sign, settings):
    settings.DEBUG = True  # outside DEBUG the allow-list is ignored (tests/test_ratelimit.py)
    settings.PETITIONS = {**settings.PETITIONS, "RATE_LIMIT": 1, "RATE_LIMIT_ALLOW": ["10.2.2.2"]}
    codes = [sign(petition, email=f"q{i}@example.org", REMOTE_ADDR="10.2.2.2").status_code for i in range(3)]

    assert codes == [302, 302, 302]


def test_source_code_is_recorded(petition, sign):
    sign(petition, query="?source=partner-x")

    assert Signature.objects.get().source == "partner-x"


def test_the_sign_service_itself_refuses_a_closed_petition(index_page):
    from .factories import PetitionPageFactory

    petition = PetitionPageFactory(parent=index_page, closed=True)

    with pytest.raises(signing.SigningRefused, match="closed"):
        signing.sign_petition(petition, {"first_name": "Ada", "email": "ada@example.org"})
    assert not Signature.objects.exists()


@pytest.mark.parametrize(
    "headers, allowed",
    [
        ({"HTTP_ORIGIN": "http://testserver"}, True),
        ({"HTTP_ORIGIN": "https://evil.example"}, False),
        ({"HTTP_ORIGIN": "null"}, False),
        ({"HTTP_REFERER": "https://evil.example/page"}, False),
        ({"HTTP_REFERER": "http://testserver/petition/"}, True),
        ({}, True),  # no browser sent this: nothing to forge through a visitor
    ],
)
def test_only_the_sites_own_pages_can_post_a_signature(petition, client, headers, allowed):
    response = client.post(
        sign_url(petition), {"first_name": "Ada", "email": "ada@example.org", "feed_display": "first"}, **headers
    )

    assert (response.status_code == 302) is allowed
    assert Signature.objects.exists() is allowed
    if not allowed:
        assert response.status_code == 403


def test_an_allowed_partner_origin_can_post_a_signature(petition, client, settings):
    settings.PETITIONS = {**settings.PETITIONS, "ALLOWED_ORIGINS": ["https://partner.example"]}

    response = client.post(
        sign_url(petition),
        {"first_name": "Ada", "email": "ada@example.org", "feed_display": "hidden"},
        HTTP_ORIGIN="https://partner.example",
    )

    assert response.status_code == 302


def test_the_cached_sign_form_carries_no_per_visitor_token(petition, client):
    page = client.get(petition.url).content.decode()

    assert "csrfmiddlewaretoken" not in page
    assert f'action="{sign_url(petition)}"' in page


def test_the_feed_choice_is_stored_as_the_signer_made_it(petition, sign):
    sign(petition, email="a@example.org", feed_display="first_initial")
    sign(petition, email="b@example.org", feed_display="hidden")
    missing = sign(petition, email="c@example.org", feed_display="")

    assert missing.status_code == 400  # no default: the signer must pick (tests/test_consent.py)
    rows = dict(Signature.objects.values_list("email", "show_in_feed"))
    assert rows == {"a@example.org": True, "b@example.org": False}
    assert Signature.objects.get(email="a@example.org").feed_name == "first_initial"


# --- Sec-Fetch-Site: what the browser itself says about where a POST comes from ------------------

PARTNER = "https://partner.example"


@pytest.mark.parametrize(
    "headers",
    [
        {},  # a browser that says cross-site but sent no Origin: nothing vouches for it
        {"HTTP_REFERER": "http://testserver/petition/"},  # a Referer is not enough across sites
        {"HTTP_ORIGIN": "http://testserver"},  # our own pages are never cross-site
        {"HTTP_ORIGIN": "https://evil.example"},
    ],
    ids=["no origin", "own referer", "own origin", "another origin"],
)
@pytest.mark.parametrize("endpoint", ["sign", "confirm"])
def test_a_cross_site_post_from_an_origin_that_is_not_allowed_is_a_403_and_stores_nothing(
    petition, client, endpoint, headers
):
    pending = SignatureFactory(petition=petition, email="pending@example.org")
    if endpoint == "sign":
        url, data = sign_url(petition), {"first_name": "Ada", "email": "ada@example.org", "feed_display": "first"}
    else:
        url, data = confirm_url(petition), {"token": make_token(pending)}

    response = client.post(url, data, HTTP_SEC_FETCH_SITE="cross-site", **headers)

    assert response.status_code == 403
    assert response.content.decode() == views.REFUSED_ORIGIN
    assert list(Signature.objects.values_list("email", "status")) == [("pending@example.org", "pending")]


def test_a_cross_site_post_from_an_allowed_partner_origin_still_signs(petition, client, settings):
    settings.PETITIONS = {**settings.PETITIONS, "ALLOWED_ORIGINS": [PARTNER]}

    response = client.post(
        sign_url(petition),
        {"first_name": "Ada", "email": "ada@example.org", "feed_display": "first"},
        HTTP_SEC_FETCH_SITE="cross-site",
        HTTP_ORIGIN=PARTNER,
    )

    assert response.status_code == 302
    assert Signature.objects.filter(email="ada@example.org").exists()


@pytest.mark.parametrize("fetch_site", ["same-origin", "same-site", "none", "something-new"])
def test_other_sec_fetch_site_values_keep_the_origin_rule(petition, client, fetch_site):
    own = client.post(
        sign_url(petition),
        {"first_name": "Ada", "email": "ada@example.org", "feed_display": "first"},
        HTTP_SEC_FETCH_SITE=fetch_site,
        HTTP_ORIGIN="http://testserver",
    )
    stranger = client.post(
        sign_url(petition),
        {"first_name": "Eve", "email": "eve@example.org", "feed_display": "first"},
        HTTP_SEC_FETCH_SITE=fetch_site,
        HTTP_ORIGIN="https://evil.example",
    )

    assert own.status_code == 302
    assert stranger.status_code == 403
    assert list(Signature.objects.values_list("email", flat=True)) == ["ada@example.org"]
