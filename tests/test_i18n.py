"""Languages: the plugin's strings are translatable, extracted into one catalog, and translated to French and Arabic.

The shipped catalogs are cms/locale/<lang>/LC_MESSAGES/django.po; these tests compile them into a
folder of their own (LOCALE_PATHS), so they prove the catalogs themselves, and check that the
committed .mo files say the same. English behaviour is the other test files' business.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.utils import translation

from cms import ratelimit
from cms.forms import SignatureForm
from cms.widget_texts import widget_texts

from .factories import PetitionPageFactory

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "cms" / "locale"
LANGUAGES = ("fr", "ar")


def catalog_path(language, extension="po"):
    return CATALOGS / language / "LC_MESSAGES" / f"django.{extension}"


def gettext_tool(*args, cwd=None):
    return subprocess.run(["/usr/bin/env", *args], check=True, capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def compiled_locale(tmp_path_factory):
    """The shipped catalogs compiled into a locale folder of this test run's own."""
    folder = tmp_path_factory.mktemp("locale")
    for language in LANGUAGES:
        target = folder / language / "LC_MESSAGES"
        target.mkdir(parents=True)
        gettext_tool("msgfmt", "--check", "-o", str(target / "django.mo"), str(catalog_path(language)))
    return folder


@pytest.fixture
def translated(settings, compiled_locale):
    # Changing LOCALE_PATHS makes Django forget the catalogs it loaded (setting_changed).
    settings.LOCALE_PATHS = [str(compiled_locale)]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """``bin/messages.py fr ar`` run on a copy of the plugin with one template string of its own."""
    copy = tmp_path_factory.mktemp("repo")
    ignore = shutil.ignore_patterns("__pycache__")
    for name in ("cms", "petition_blocks", "workers", "templates", "bin"):
        shutil.copytree(ROOT / name, copy / name, ignore=ignore, symlinks=True)
    page = copy / "templates" / "petitions" / "i18n_probe.html"
    page.write_text('{% load i18n %}<p>{% translate "A string only a template has" %}</p>\n')
    gettext_tool(sys.executable, "bin/messages.py", "fr", "ar", cwd=copy)
    return copy


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_shipped_catalog_is_complete_with_no_fuzzy_or_empty_translation(language):
    path = catalog_path(language)
    statistics = gettext_tool("msgfmt", "--check", "--statistics", "-o", "/dev/null", str(path)).stderr
    assert "untranslated" not in statistics
    assert "fuzzy" not in statistics
    assert gettext_tool("msgattrib", "--only-fuzzy", "--no-obsolete", str(path)).stdout == ""
    assert f'"Language: {language}\\n"' in path.read_text()


def test_the_arabic_catalog_has_the_six_standard_plural_forms():
    header = catalog_path("ar").read_text()
    assert (
        '"Plural-Forms: nplurals=6; plural=n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : '
        'n%100>=3 && n%100<=10 ? 3 : n%100>=11 && n%100<=99 ? 4 : 5;\\n"'
    ) in header


def test_make_messages_puts_python_and_template_strings_in_one_catalog_per_language(extracted):
    for language in LANGUAGES:
        catalog = extracted / "cms" / "locale" / language / "LC_MESSAGES" / "django.po"
        text = catalog.read_text()
        assert 'msgid "A string only a template has"' in text  # templates/, through cms/templates
        assert "#: petition_blocks/blocks.py" in text
        assert "#: workers/apps.py" in text
        assert "#: forms.py" in text
        assert (catalog.parent / "django.mo").exists()
    # The links it made while extracting are gone again; nothing else of the repo was read.
    assert not any(path.is_symlink() for path in (extracted / "cms").iterdir())
    assert not (extracted / "petition_blocks" / "locale").exists()


def test_the_shipped_catalogs_hold_every_string_of_the_code_translated_and_nothing_stale(extracted):
    # make messages on a copy of the code and its catalogs: only the probe added to the copy is new,
    # so every string the code has is in the committed catalog, translated, and none is left over.
    for language in LANGUAGES:
        catalog = extracted / "cms" / "locale" / language / "LC_MESSAGES" / "django.po"
        untranslated = gettext_tool("msgattrib", "--untranslated", "--no-obsolete", str(catalog)).stdout
        msgids = [line for line in untranslated.splitlines() if line.startswith("msgid ") and line != 'msgid ""']
        assert msgids == ['msgid "A string only a template has"']
        assert msgid_set(catalog) == msgid_set(catalog_path(language)) | {(None, "A string only a template has")}
    french = (extracted / "cms" / "locale" / "fr" / "LC_MESSAGES" / "django.po").read_text()
    assert 'msgstr "Veuillez indiquer votre prénom."' in french


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_compiled_catalog_says_what_the_po_file_says(language):
    po = {
        (entry.msgctxt, entry.msgid): entry.msgstr or entry.msgstr_plural
        for entry in polib.pofile(str(catalog_path(language)))
    }
    mo = {
        (entry.msgctxt, entry.msgid): entry.msgstr or entry.msgstr_plural
        for entry in polib.mofile(str(catalog_path(language, "mo")))
    }
    assert {key: value for key, value in mo.items() if key[1]} == po  # the .mo's header entry aside


def msgid_set(path):
    return {(entry.msgctxt, entry.msgid) for entry in polib.pofile(str(path)) if not entry.obsolete}


def test_the_sign_form_speaks_the_active_language_and_its_shared_fields_do_not_mix_them(translated):
    page = PetitionPageFactory.build(ask_country=True)
    with translation.override("fr"):
        french = SignatureForm(page=page)
        assert str(french.fields["first_name"].label) == "Prénom"
        assert french.fields["share_with_officials"].help_text.startswith("Ils reçoivent votre nom, votre pays")
        assert [str(label) for _, label in french.fields["feed_display"].choices] == [
            "Mon prénom",
            "Mon prénom et mon initiale",
            "Ne pas m'afficher",
        ]
    english = SignatureForm(page=page)
    assert str(english.fields["first_name"].label) == "First name"
    assert english.fields["share_with_officials"].help_text.startswith("They receive your name, your country")


def test_a_sign_forms_errors_come_in_the_signers_language(translated):
    page = PetitionPageFactory.build()
    data = {"first_name": "Ada\nLovelace", "email": "ada@example.org", "feed_display": "first"}
    with translation.override("fr"):
        form = SignatureForm(data, page=page)
        assert not form.is_valid()
        assert form.errors["first_name"] == ["Votre nom ne peut pas contenir de retours à la ligne."]
    with translation.override("ar"):
        form = SignatureForm({**data, "first_name": "Ada", "feed_display": ""}, page=page)
        assert not form.is_valid()
        assert form.errors["feed_display"] == ["اختر طريقة ظهورك في قائمة الموقّعين."]


def test_the_rate_limit_message_uses_each_languages_plural_forms(translated):
    assert ratelimit.refusal_message(1).endswith("Please try again in 1 second.")
    assert ratelimit.refusal_message(120).endswith("Please try again in 2 minutes.")
    with translation.override("fr"):
        assert ratelimit.refusal_message(1).endswith("Veuillez réessayer dans 1 seconde.")
        assert ratelimit.refusal_message(5).endswith("Veuillez réessayer dans 5 secondes.")
    with translation.override("ar"):
        assert ratelimit.refusal_message(2).endswith("بعد 2 ثانيتين.")
        assert ratelimit.refusal_message(5).endswith("بعد 5 ثوانٍ.")
        assert ratelimit.refusal_message(15).endswith("بعد 15 ثانية.")


def test_the_widget_texts_are_served_translated_with_english_by_default(translated):
    assert widget_texts()["sign"] == "Sign"
    assert widget_texts()["goal"] == "Goal: %(goal)s"
    with translation.override("fr"):
        texts = widget_texts()
    assert texts["sign"] == "Signer"
    assert texts["goal"] == "Objectif : %(goal)s"  # the widget fills the placeholder in
    assert texts["load_failed"] == "Cette pétition n'a pas pu être chargée."


@pytest.mark.django_db
def test_the_apis_answers_are_translated_and_still_json(client, petition, translated):
    # The API speaks the language the client asks for (LocaleMiddleware reads Accept-Language).
    detail = client.get(f"/api/petitions/{petition.pk}/", HTTP_ACCEPT_LANGUAGE="fr").json()
    refused = client.post(
        f"/api/petitions/{petition.pk}/signatures/",
        json.dumps({"first_name": "Ada", "email": "ada@example.org"}),
        content_type="application/json",
        REMOTE_ADDR="10.0.0.1",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert detail["texts"]["sign"] == "Signer"
    first_name = next(field for field in detail["form"] if field["name"] == "first_name")
    assert first_name["label"] == "Prénom"
    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "invalid"  # machine-readable codes stay as they are
    assert body["detail"] == "Veuillez corriger les champs indiqués."
    assert body["errors"]["feed_display"] == ["Choisissez comment vous apparaissez dans la liste des signataires."]


@pytest.mark.django_db
def test_the_petition_json_carries_the_widget_texts_in_english_without_a_language(client, petition):
    texts = client.get(f"/api/petitions/{petition.pk}/").json()["texts"]
    assert texts == widget_texts()
    assert texts["check_email"] == "Check your email: %(detail)s"
