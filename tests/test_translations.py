"""One petition in several languages: one count, one feed, each signer written to in their page's language."""

import json

import pytest
from django.urls import reverse
from django.utils import translation
from wagtail.models import Locale

from cms import emails, reconcile, signing, translations
from cms.models import Signature
from cms.tokens import make_token

from .conftest import sign_url
from .factories import SignatureFactory

pytestmark = pytest.mark.django_db

FRENCH_SUBJECT = "Merci de confirmer votre signature sur « {petition} »"
FRENCH_BODY = "Bonjour,\n\nConfirmez votre signature ici :\n\n{link}\n\nSi vous n'avez pas signé, ignorez ce message."


def translate(page, language, **fields):
    """A published translation of ``page`` (and of its parents) in ``language``, as wagtail-localize makes one."""
    locale, _ = Locale.objects.get_or_create(language_code=language)
    translated = page.copy_for_translation(locale, copy_parents=True)
    parent = translated.get_parent().specific
    if not parent.live:
        parent.save_revision().publish()
    for name, value in fields.items():
        setattr(translated, name, value)
    translated.save_revision().publish()
    translated.refresh_from_db()
    return translated


@pytest.fixture
def french(petition):
    return translate(
        petition,
        "fr",
        title="Pétition en français",
        verification_email_subject=FRENCH_SUBJECT,
        verification_email_body=FRENCH_BODY,
    )


@pytest.fixture
def arabic(petition):
    return translate(petition, "ar", title="عريضة بالعربية")


def fresh(page):
    """The page as a new request loads it (no values kept on the instance)."""
    return type(page).objects.get(pk=page.pk)


def test_a_translation_is_counted_under_the_page_it_was_translated_from(petition, french, arabic):
    assert french.translation_key == petition.translation_key
    assert french.canonical_id == arabic.canonical_id == petition.canonical_id == petition.pk
    assert translations.canonical_id_for(french.pk) == petition.pk
    assert reconcile.active_petition_ids() == [petition.pk]


def test_signing_the_french_page_counts_on_the_english_one_with_one_feed(petition, french, sign, commit, client):
    response = sign(french, first_name="Amélie", email="amelie@example.org")
    assert response.status_code == 302
    signature = Signature.objects.get(email_normalized="amelie@example.org")
    assert signature.petition_id == petition.pk
    assert signature.language == "fr"

    assert commit(signing.verify_signature, fresh(french), make_token(signature)) == signing.VerifyResult.VERIFIED

    english, french_again = fresh(petition), fresh(french)
    assert english.get_signature_count() == french_again.get_signature_count() == 1
    assert english.get_feed() == french_again.get_feed()
    assert [entry["name"] for entry in english.get_feed()] == ["Amélie"]
    counts = [client.get(reverse("petitions:count", args=[page.pk])).json()["count"] for page in (petition, french)]
    assert counts == [1, 1]


def test_the_french_pages_confirm_link_confirms_the_shared_signature(petition, french, client):
    signature = SignatureFactory(petition=petition, language="fr", email="amelie@example.org")
    response = client.post(
        reverse("petitions:confirm", args=[french.pk]),
        {"token": make_token(signature)},
        HTTP_ORIGIN="http://testserver",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert response["Content-Language"] == "fr"
    signature.refresh_from_db()
    assert signature.status == Signature.Status.VERIFIED


def test_the_verification_email_of_a_signature_made_on_the_french_page_is_in_french(petition, french, sign, mailoutbox):
    sign(french, email="amelie@example.org")
    sign(petition, email="ada@example.org")
    french_email, english_email = mailoutbox

    assert french_email.subject == "Merci de confirmer votre signature sur « Pétition en français »"
    assert english_email.subject != french_email.subject
    assert french_email.extra_headers["Content-Language"] == "fr"
    assert english_email.extra_headers["Content-Language"] == "en-gb"
    # The link goes back to the French page, and the email's own strings are French.
    assert "/fr/" in french_email.body and "/fr/" not in english_email.body
    with translation.override("fr"):
        french_manage_text = str(emails.MANAGE_TEXT).split("\n")[0]
    with translation.override("en"):
        english_manage_text = str(emails.MANAGE_TEXT).split("\n")[0]
    assert french_manage_text != english_manage_text
    assert french_manage_text in french_email.body and english_manage_text not in french_email.body
    assert english_manage_text in english_email.body
    assert french_email.metadata["petition_id"] == english_email.metadata["petition_id"] == str(petition.pk)


def test_the_compiled_email_renders_what_the_page_language_renders_whatever_the_callers_language(petition, french):
    signature = SignatureFactory(petition=petition, language="fr", email="amelie@example.org")
    with translation.override("ar"):  # the worker's language must not leak into the email
        message = emails.build_verification_message(fresh(french), signature)
    page = fresh(french)
    confirm, manage = emails.confirm_url(page, signature), emails.manage_url(page, signature)
    with translation.override("fr"):
        expected = emails.render_verification_message.__wrapped__(page, signature, confirm, manage)
    assert (message.subject, message.body) == (expected.subject, expected.body)
    assert message.alternatives == expected.alternatives


def test_a_signature_in_an_unknown_language_is_written_to_in_the_default_language(petition, french, mailoutbox):
    signature = SignatureFactory(petition=petition, language="xx", email="someone@example.org")
    assert signature.get_language() == "en-gb"
    assert emails.send_verification_emails([signature.pk]) == ([signature.pk], [])
    [message] = mailoutbox
    assert message.extra_headers["Content-Language"] == "en-gb"
    assert "/fr/" not in message.body


def test_a_request_for_an_unknown_language_prefix_is_a_404_not_a_500(petition, french, client):
    assert client.get(f"/xx/{petition.slug}/").status_code == 404
    assert client.get(f"/{petition.slug}/").status_code == 200


def test_the_arabic_page_is_served_in_arabic(arabic, client):
    response = client.get(arabic.url)
    assert arabic.url.startswith("/ar/")
    assert response.status_code == 200
    assert response["Content-Language"] == "ar"
    assert "عريضة بالعربية" in response.content.decode()


def test_form_errors_on_the_french_page_do_not_leak_into_the_english_one(petition, french, client):
    fields = {"first_name": "", "email": "a@example.org", "feed_display": "first"}
    with translation.override("fr"):
        french_required = str(translation.gettext("This field is required."))
    assert french_required != "This field is required."

    on_french = client.post(sign_url(french), fields, HTTP_ACCEPT_LANGUAGE="en")
    on_english = client.post(sign_url(petition), fields, HTTP_ACCEPT_LANGUAGE="en")
    on_french_again = client.post(sign_url(french), fields, HTTP_ACCEPT_LANGUAGE="en")

    assert on_french.status_code == on_english.status_code == 400
    assert french_required in on_french.content.decode()
    assert french_required not in on_english.content.decode()
    assert "This field is required." in on_english.content.decode()
    assert on_french_again.content == on_french.content


def test_the_thank_you_copy_of_each_language_stays_in_its_language(petition, french, client):
    english_signature = SignatureFactory(petition=petition, email="ada@example.org")
    french_signature = SignatureFactory(petition=petition, language="fr", email="amelie@example.org")

    def confirm(page, signature):
        return client.post(
            reverse("petitions:confirm", args=[page.pk]),
            {"token": make_token(signature)},
            HTTP_ORIGIN="http://testserver",
        )

    french_answer, english_answer = confirm(french, french_signature), confirm(petition, english_signature)
    assert french_answer.status_code == english_answer.status_code == 200
    assert french_answer["Content-Language"] == "fr"
    assert english_answer["Content-Language"] == "en-gb"
    assert "Pétition en français" in french_answer.content.decode()
    assert "Pétition en français" not in english_answer.content.decode()


def test_the_demo_reference_petition_is_translated_into_arabic_and_shares_its_count(client, reconcile):
    from cms.models import PetitionPage
    from petitions_site import demo_content, demo_translations

    demo_content.load()
    reference = PetitionPage.objects.get(slug=demo_content.REFERENCE_SLUG, locale=Locale.get_default())
    arabic = PetitionPage.objects.get(slug=demo_content.REFERENCE_SLUG, locale__language_code="ar")
    assert arabic.translation_key == reference.translation_key
    assert arabic.live and arabic.url == f"/ar/{demo_content.REFERENCE_SLUG}/"
    reconcile()

    response = client.get(arabic.url)
    assert response.status_code == 200
    assert response["Content-Language"] == "ar"
    html = response.content.decode()
    assert demo_translations.ARABIC["title"] in html
    assert demo_translations.ARABIC["sign_heading"] in html
    count = fresh(reference).get_signature_count()
    assert count > 1000
    assert fresh(arabic).get_signature_count() == count
    assert f'data-count="{count}"' in html


def test_a_pending_signer_who_signs_again_on_the_french_page_is_written_to_in_french(petition, french, sign):
    sign(petition, email="amelie@example.org")
    sign(french, email="amelie@example.org")

    [signature] = Signature.objects.filter(email_normalized="amelie@example.org")
    assert (signature.petition_id, signature.language) == (petition.pk, "fr")


def test_a_verified_signer_keeps_the_language_they_confirmed_in(petition, french, sign):
    SignatureFactory(petition=petition, email="amelie@example.org", language="en-gb", verified=True)
    sign(french, email="amelie@example.org")

    assert Signature.objects.get(email_normalized="amelie@example.org").language == "en-gb"


def test_a_delivery_from_the_french_page_counts_every_signer_and_tells_each_in_their_language(
    petition, french, official, commit, mailoutbox
):
    from cms import deliveries

    SignatureFactory(petition=petition, first_name="Ada", verified=True, opt_in_updates=True)
    SignatureFactory(petition=petition, first_name="Amélie", language="fr", verified=True, opt_in_updates=True)
    commit(reconcile.reconcile_counts)

    delivery = commit(deliveries.prepare_delivery, fresh(french), [official])
    delivery.refresh_from_db()  # its files, built after commit
    assert (delivery.petition_id, delivery.total) == (petition.pk, 2)
    commit(deliveries.start_sending, delivery)

    updates = {m.to[0]: m for m in mailoutbox if m.anymail_test_params["tags"] == ["petition-delivery-update"]}
    [english_update] = [m for m in updates.values() if "Pétition en français" not in m.subject]
    [french_update] = [m for m in updates.values() if "Pétition en français" in m.subject]
    assert petition.title in english_update.subject
    assert "/fr/" in french_update.body and "/fr/" not in english_update.body


def test_the_checks_warn_of_i18n_without_the_locale_middleware(settings):
    from cms import checks

    assert checks.check_languages(None) == []
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != checks.LOCALE]
    assert [message.id for message in checks.check_languages(None)] == ["petitions.W070"]
    settings.WAGTAIL_I18N_ENABLED = False
    assert checks.check_languages(None) == []


def test_signing_the_french_page_through_the_json_api_counts_on_the_petition_in_french(
    petition, french, client, django_capture_on_commit_callbacks, mailoutbox, reconcile
):
    body = {"first_name": "Amélie", "email": "amelie@example.org", "feed_display": "first"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("petitions:petitions_api:sign", kwargs={"id": french.pk}),
            json.dumps(body),
            content_type="application/json",
        )

    assert response.status_code == 202
    signature = Signature.objects.get(email_normalized="amelie@example.org")
    assert (signature.petition_id, signature.language) == (petition.pk, "fr")
    [message] = mailoutbox
    assert message.extra_headers["Content-Language"] == "fr"
    SignatureFactory(petition=petition, email="ada@example.org", verified=True)
    reconcile()
    detail = client.get(reverse("petitions:petitions_api:petition_detail", kwargs={"id": french.pk})).json()
    assert detail["count"] == fresh(petition).get_signature_count() == 1
